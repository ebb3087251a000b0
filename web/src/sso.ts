// Single sign-on in the browser (docs/web.md "Single sign-on in the
// browser", docs/api.md "POST /v1/sso/start", "POST /v1/sso/finish"): the
// page asks the server for the provider's address, keeps the sign-in's
// `state` in sessionStorage (the only thing this page ever stores, removed
// when the provider sends the browser back) and, on /sso/callback, finishes
// with the server for a single-use ticket that POST /v1/sessions takes next
// to the master password's auth key.
//
// A member of several organizations that require single sign-on signs in at
// each provider in turn: the tickets already received ride along in
// sessionStorage while the browser is at the next provider (they are
// single-use, live 5 minutes, and log nobody in without the master
// password), and all of them go with the sign-in.
import { call } from "./api.js";
import { CryptoError } from "./crypto/primitives.js";

const STORAGE_KEY = "keyward.sso";
export const CALLBACK_PATH = "/sso/callback";

export interface SsoTicket {
  ticket: string;
  orgId: string;
}

interface Pending {
  state: string;
  org_id: string;
  carried?: SsoTicket[];
}

// The server takes at most 8 tickets in one sign-in (core::kMaxSsoTickets).
export const MAX_TICKETS = 8;

function isTicket(t: unknown): t is SsoTicket {
  return typeof t === "object" && t !== null && typeof (t as SsoTicket).ticket === "string" &&
    typeof (t as SsoTicket).orgId === "string";
}

// `tickets` with `next` added, replacing an earlier one of its organization.
export function withTicket(tickets: SsoTicket[], next: SsoTicket): SsoTicket[] {
  return [...tickets.filter((t) => t.orgId !== next.orgId), next].slice(-MAX_TICKETS);
}

function refuse(code: string, message: string): CryptoError {
  return new CryptoError(code, message);
}

// The server's organization ids (core::IsValidClientId).
export function plausibleOrgId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

// Whether the page may send the browser to `url` for the sign-in `state`:
// https, or http on a loopback address (a provider on the same machine),
// and naming this sign-in's state. Anything else (javascript:, data:, a
// plain http address elsewhere) is what a hostile server could hand out.
export function safeAuthorizationUrl(url: string, state: string): boolean {
  if (typeof url !== "string" || typeof state !== "string" || state === "") return false;
  const lower = url.slice(0, 8).toLowerCase();
  if (!lower.startsWith("https://") && !lower.startsWith("http://")) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  if (!(parsed.protocol === "https:" || (parsed.protocol === "http:" && loopback))) return false;
  if (parsed.username !== "" || parsed.password !== "") return false;
  return parsed.searchParams.getAll("state").length === 1 && parsed.searchParams.get("state") === state;
}

// Starts a sign-in at `orgId`'s provider and sends the browser there; throws
// (ApiError from the server, CryptoError from this page's checks) instead.
export async function startSso(orgId: string, carried: SsoTicket[] = []): Promise<void> {
  const server = await call<{ public_url?: string }>("GET", "/v1/server");
  const publicUrl = typeof server.public_url === "string" ? server.public_url : "";
  let origin = "";
  try {
    origin = new URL(publicUrl).origin;
  } catch {
    // refused below
  }
  if (origin !== location.origin) {
    throw refuse("sso.wrong_address", `Single sign-on comes back to this server's public address (${publicUrl || "none given"}), not to this page's (${location.origin}): open Keyward there and sign in again.`);
  }
  const started = await call<{ authorization_url?: unknown; state?: unknown }>("POST", "/v1/sso/start",
    { org_id: orgId, client: "web", redirect_uri: publicUrl + CALLBACK_PATH });
  const url = typeof started.authorization_url === "string" ? started.authorization_url : "";
  const state = typeof started.state === "string" ? started.state : "";
  if (!safeAuthorizationUrl(url, state)) {
    throw refuse("sso.bad_authorization_url", "The server answered a sign-in address this page will not open (it must be https, or http on this computer, and name this sign-in). Nothing was sent; tell your server's operator.");
  }
  const pending: Pending = { state, org_id: orgId,
    carried: carried.filter((t) => t.orgId !== orgId).slice(-(MAX_TICKETS - 1)) };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(pending));
  location.assign(url);
}

export type Callback =
  | { kind: "not-started" }
  | { kind: "provider-error"; error: string; orgId: string }
  | { kind: "ticket"; tickets: SsoTicket[] };

// What the provider's redirect brought (`query`: location.search, already
// removed from the address bar). A state that is not the stored one, or no
// stored state, does nothing else: nothing is removed and nothing is sent.
export async function finishSso(query: string): Promise<Callback> {
  const params = new URLSearchParams(query);
  const state = params.get("state");
  let pending: Pending | undefined;
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    if (stored && typeof stored.state === "string" && typeof stored.org_id === "string") pending = stored;
  } catch {
    pending = undefined;
  }
  if (!pending || state === null || params.getAll("state").length !== 1 || state !== pending.state) {
    return { kind: "not-started" };
  }
  sessionStorage.removeItem(STORAGE_KEY);
  const error = params.get("error");
  const code = params.get("code");
  if (error !== null || code === null || code === "") {
    // The provider's code only (never its free text), when it looks like one.
    const shown = error !== null && /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : "no answer";
    return { kind: "provider-error", error: shown, orgId: pending.org_id };
  }
  const done = await call<{ ticket?: unknown; org_id?: unknown }>("POST", "/v1/sso/finish", { state, code });
  if (typeof done.ticket !== "string" || done.ticket === "") {
    throw refuse("server.bad_response", "The server's answer could not be read.");
  }
  const carried = Array.isArray(pending.carried) ? pending.carried.filter(isTicket) : [];
  return { kind: "ticket", tickets: withTicket(carried, { ticket: done.ticket,
    orgId: typeof done.org_id === "string" ? done.org_id : pending.org_id }) };
}
