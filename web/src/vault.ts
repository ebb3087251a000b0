// Signing in and reading the vault, as the CLI does (src/client/client.cc):
// the master password never leaves the page; Argon2id runs here, only the
// auth key goes to the server, and the vault key is unwrapped here.
import { call, setToken } from "./api.js";
import * as c from "./crypto/primitives.js";
import { boxPairMatches } from "./protocol/grant.js";

export interface Session {
  accountId: string;
  email: string;
  vaultKey: Uint8Array;
  // sk_u with the account's public key, checked by use (grants are sealed
  // to it); undefined when the account's key did not open.
  memberKeys?: c.BoxKeyPair;
  // Set after an admin reset: the page asks for a new master password
  // before anything else.
  mustChangePassword: boolean;
}

export interface ItemFields {
  name: string;
  username: string;
  password: string;
  url: string;
  notes: string;
}

export interface Item {
  id: string;
  revision: number;
  fields: ItemFields;
}

export class NeedsSecondFactor extends Error {}

const DEVICE_KEY_LABEL = "keyward/v1/uk";
const ITEM_LABEL = "keyward/v1/item";

// A device id for this tab: 16 random bytes. Kept in memory only, like the
// session: a reloaded page is a new device, unless the member made this
// browser a trusted one (trusted_browser.ts keeps its own id).
export const deviceId = c.base64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));

// `ssoTickets`: the answers of POST /v1/sso/finish (sso.ts), for an
// organization whose policy requires single sign-on.
export async function signIn(email: string, password: string, totp?: string,
  ssoTickets: string[] = []): Promise<Session> {
  await c.init();
  const pre = await call<{ kdf: { ops: number; mem: number }; salt: string }>(
    "POST", "/v1/accounts/prelogin", { email });
  if (pre.kdf.ops < c.CLIENT_FLOOR_KDF.ops || pre.kdf.mem < c.CLIENT_FLOOR_KDF.mem) {
    throw new c.CryptoError("kdf.too_weak_from_server",
      "The server asks for weaker key derivation than this page accepts; not signing in.");
  }
  // Argon2id blocks for a second or so: let the progress text paint first.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const started = performance.now();
  const mk = c.deriveMasterKey(password, c.fromBase64url(pre.salt), pre.kdf);
  // Read by bench/web_bench.mjs (Argon2id in the browser against native).
  performance.measure("keyward:argon2id", { start: started, end: performance.now() });
  const keys = c.splitMasterKey(mk);
  c.wipe(mk);
  const body: Record<string, unknown> = {
    email,
    auth_key: c.base64url(keys.auth),
    device: { id: deviceId, name: "Web browser", type: "web" },
  };
  if (totp) body.totp_code = totp;
  if (ssoTickets.length) body.sso_tickets = ssoTickets;
  let answer: any;
  try {
    answer = await postSession(body);
  } catch (e) {
    c.wipe(keys.auth);
    c.wipe(keys.enc);
    throw e;
  }
  c.wipe(keys.auth);
  const account = answer.account;
  let vaultKey: Uint8Array;
  try {
    vaultKey = c.decrypt(keys.enc, c.fromBase64url(account.wrapped_vault_key),
      c.ad(DEVICE_KEY_LABEL, account.id));
  } finally {
    c.wipe(keys.enc);
  }
  return startSession(answer, vaultKey);
}

// POST /v1/sessions (a password's or a trusted browser's sign-in); the
// server's request for a second factor as NeedsSecondFactor.
export async function postSession(body: Record<string, unknown>): Promise<any> {
  try {
    return await call("POST", "/v1/sessions", body);
  } catch (e: any) {
    if (e?.code === "auth.two_factor_required") throw new NeedsSecondFactor(e.message);
    throw e;
  }
}

// The session of a sign-in's answer, once its vault key is open here.
export function startSession(answer: any, vaultKey: Uint8Array): Session {
  const account = answer.account;
  setToken(answer.token);
  return { accountId: account.id, email: account.email, vaultKey,
    memberKeys: unwrapMemberKeys(vaultKey, account),
    mustChangePassword: account.must_change_password === true };
}

// Enc(UK, sk_u, "keyward/v1/sk" 0 account_id), paired with the listed
// public key only when they match (src/client/rewrap.cc UnwrapMemberKeys).
function unwrapMemberKeys(vaultKey: Uint8Array,
  account: { id: string; public_key?: string; wrapped_private_key?: string }): c.BoxKeyPair | undefined {
  try {
    const publicKey = c.fromBase64url(account.public_key ?? "");
    const secretKey = c.decrypt(vaultKey, c.fromBase64url(account.wrapped_private_key ?? ""),
      c.ad("keyward/v1/sk", account.id));
    const pair = { publicKey, secretKey };
    if (publicKey.length !== 32 || secretKey.length !== 32 || !boxPairMatches(pair)) {
      c.wipe(secretKey);
      return undefined;
    }
    return pair;
  } catch {
    return undefined;
  }
}

export async function signOut(session: Session | undefined): Promise<void> {
  try {
    await call("DELETE", "/v1/sessions/current");
  } finally {
    setToken("");
    if (session) {
      c.wipe(session.vaultKey);
      if (session.memberKeys) c.wipe(session.memberKeys.secretKey);
    }
  }
}

const decoder = new TextDecoder();

export async function listItems(session: Session): Promise<Item[]> {
  const answer = await call<{ items: { id: string; revision: number; data: string }[] }>(
    "GET", "/v1/items");
  return answer.items.map((row) => {
    const plain = c.decrypt(session.vaultKey, c.fromBase64url(row.data),
      c.ad(ITEM_LABEL, session.accountId, row.id));
    const j = JSON.parse(decoder.decode(plain));
    c.wipe(plain);
    const text = (k: string) => (typeof j[k] === "string" ? j[k] : "");
    return {
      id: row.id,
      revision: row.revision,
      fields: {
        name: text("name"), username: text("username"), password: text("password"),
        url: text("url"), notes: text("notes"),
      },
    };
  });
}

const encoder = new TextEncoder();

// 16 random bytes, base64url, not starting with '-' (so a CLI argument can
// name it): the CLI's NewItemId.
export function newItemId(): string {
  for (;;) {
    const id = c.base64url(c.randomBytes(16));
    if (!id.startsWith("-")) return id;
  }
}

function sealItem(session: Session, id: string, fields: ItemFields): string {
  const plain = encoder.encode(JSON.stringify({
    name: fields.name, username: fields.username, password: fields.password, url: fields.url,
    notes: fields.notes,
  }));
  try {
    return c.base64url(c.encrypt(session.vaultKey, plain, c.ad(ITEM_LABEL, session.accountId, id)));
  } finally {
    c.wipe(plain);
  }
}

export async function addItem(session: Session, fields: ItemFields): Promise<Item> {
  const id = newItemId();
  const answer = await call<{ id: string; revision: number }>("POST", "/v1/items",
    { id, data: sealItem(session, id, fields) });
  return { id, revision: answer.revision, fields };
}

// `revision`: the one this page last saw (item.stale_revision when another
// device changed it since).
export async function updateItem(session: Session, item: Item, fields: ItemFields): Promise<Item> {
  const answer = await call<{ id: string; revision: number }>("PUT",
    `/v1/items/${encodeURIComponent(item.id)}`,
    { revision: item.revision, data: sealItem(session, item.id, fields) });
  return { id: item.id, revision: answer.revision, fields };
}

export async function deleteItem(item: Item): Promise<void> {
  await call("DELETE", `/v1/items/${encodeURIComponent(item.id)}`);
}

// A random password: `length` characters from letters, digits and symbols,
// drawn without bias.
export function generatePassword(length = 20): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_";
  const out: string[] = [];
  const limit = 256 - (256 % alphabet.length);
  while (out.length < length) {
    for (const b of c.randomBytes(length * 2)) {
      if (b < limit && out.length < length) out.push(alphabet[b % alphabet.length]);
    }
  }
  return out.join("");
}
