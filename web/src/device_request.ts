// A new device's request from the browser (docs/sso.md "A new device,
// approved by the admins"; docs/api.md "Device requests"): a member who lost
// every trusted device, signed in at the provider, asks the organization's
// recovery admins to let this browser open the vault. The page makes an
// X25519 key pair (from a seed) and a claim, keeps them in IndexedDB until
// the request ends, and shows the key's fingerprint for the member to read
// to the admins. Once approved, it checks the organization's statements
// from the signing key fingerprint the member types (given by their
// administrator), opens DA only as boxed by that verified key, and DU,
// recovers the vault key, and becomes a trusted browser (trusted_browser.ts).
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import { openAdminShare, openServerShare } from "./protocol/device_share.js";
import { recoverVaultKey } from "./protocol/escrow.js";
import { decodeOrgStatement, decodeWireStatements, verifyOffered } from "./protocol/statement.js";
import { deriveKeys, wrapVaultKey } from "./protocol/trusted_device.js";
import {
  deleteRecord, readRecord, saveTrusted, writeRecord, type TrustedRecord,
} from "./trusted_browser.js";

const KEY = "device-request";

export interface PendingRequest {
  requestId: string;
  orgId: string;
  deviceId: string;
  seed: Uint8Array; // of (pk_dev, sk_dev)
  claim: Uint8Array;
}

export interface RequestState {
  status: string;
  expires_at: string;
  quorum: number;
  approvals: number;
  decline_reason: string | null;
}

function refuse(code: string, message: string): c.CryptoError {
  return new c.CryptoError(code, message);
}

export function requestFingerprint(p: PendingRequest): string {
  return c.fingerprint(c.boxKeyPairFromSeed(p.seed).publicKey);
}

export async function loadPending(): Promise<PendingRequest | undefined> {
  const r = await readRecord(KEY) as Partial<PendingRequest> | undefined;
  if (!r || typeof r.requestId !== "string" || typeof r.orgId !== "string" ||
    typeof r.deviceId !== "string" || !(r.seed instanceof Uint8Array) || r.seed.length !== 32 ||
    !(r.claim instanceof Uint8Array) || r.claim.length !== 32) {
    return undefined;
  }
  return r as PendingRequest;
}

export async function dropPending(): Promise<void> {
  await deleteRecord(KEY);
}

// POST /v1/device-requests with the provider's ticket: the request is for
// the account bound to that sign-in; kept here until it ends.
export async function askAdmins(ticket: string, orgId: string): Promise<PendingRequest> {
  await c.init();
  const pending: PendingRequest = {
    requestId: "",
    orgId,
    deviceId: c.base64url(c.randomBytes(16)),
    seed: c.randomBytes(32),
    claim: c.randomBytes(32),
  };
  const made = await call<{ request_id?: unknown }>("POST", "/v1/device-requests", {
    sso_ticket: ticket,
    device: { id: pending.deviceId, name: "Web browser", type: "web" },
    device_public_key: c.base64url(c.boxKeyPairFromSeed(pending.seed).publicKey),
    claim: c.base64url(pending.claim),
  });
  if (typeof made.request_id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(made.request_id)) {
    throw refuse("server.bad_response", "The server's answer could not be read.");
  }
  pending.requestId = made.request_id;
  await writeRecord(KEY, pending);
  return pending;
}

async function open(p: PendingRequest): Promise<any> {
  return call("POST", "/v1/device-requests/open",
    { request_id: p.requestId, claim: c.base64url(p.claim) });
}

export async function checkRequest(p: PendingRequest): Promise<RequestState> {
  const r = await open(p);
  return { status: String(r.status), expires_at: String(r.expires_at ?? ""),
    quorum: Number(r.quorum ?? 1), approvals: Number(r.approvals ?? 0),
    decline_reason: typeof r.decline_reason === "string" ? r.decline_reason : null };
}

// Once approved: pk_org only from the first statement whose signing key has
// the fingerprint the member typed, DA only as boxed by it, then UK; this
// browser becomes trusted (POST /v1/device-requests/complete) and keeps D.
export async function finishRequest(p: PendingRequest, orgFingerprint: string,
  same: (a: string, b: string) => boolean): Promise<TrustedRecord> {
  await c.init();
  const r = await open(p);
  if (r.status !== "approved" || typeof r.grant !== "object" || r.grant === null) {
    throw refuse("recovery.not_approved", "Your administrators have not approved this browser yet.");
  }
  const g = r.grant;
  const org = g.org ?? {};
  if (org.org_id !== p.orgId) {
    throw refuse("server.bad_response", "The server answered for another organization: nothing was done.");
  }
  const account = String(g.account_id ?? "");
  const epoch = Number(g.epoch);
  const chain = decodeWireStatements(Array.isArray(org.statements) ? org.statements : []);
  const first = chain.find((s) => s.version === 1);
  if (!first) throw refuse("org.statement_unsigned", "The server sent no signed statement for the organization.");
  const signing = decodeOrgStatement(first.statement).signingPublicKey;
  if (!same(c.fingerprint(signing), orgFingerprint)) {
    throw refuse("org.fingerprint_mismatch",
      `The organization's signing key has the fingerprint ${c.fingerprint(signing)}, not the one you typed: nothing was done. Check it with your administrator.`);
  }
  const verified = verifyOffered(p.orgId, chain, undefined,
    c.fromBase64url(org.recovery_public_key ?? ""), Math.floor(Date.now() / 1000));
  const device = c.boxKeyPairFromSeed(p.seed);
  let uk: Uint8Array;
  try {
    const a = openAdminShare(device, verified.statement.orgPublicKey,
      c.fromBase64url(g.device_admin_share ?? ""), p.orgId, account, epoch, p.requestId);
    const u = openServerShare(device, c.fromBase64url(g.device_server_share ?? ""), p.orgId,
      account, epoch, p.requestId);
    try {
      uk = recoverVaultKey(a, u, c.fromBase64url(g.wrapped_vault_key ?? ""), p.orgId, account, epoch);
    } finally {
      c.wipe(a);
      c.wipe(u);
    }
  } catch (e) {
    if (e instanceof c.CryptoError) throw e;
    throw c.decryptFailed();
  } finally {
    c.wipe(device.secretKey);
  }
  const secret = c.randomBytes(32);
  const keys = deriveKeys(secret);
  try {
    await call("POST", "/v1/device-requests/complete", {
      request_id: p.requestId,
      claim: c.base64url(p.claim),
      device_type: "web",
      sign_public_key: c.base64url(keys.sign.publicKey),
      wrapped_vault_key: c.base64url(wrapVaultKey(keys, uk, account, p.deviceId)),
    });
  } finally {
    c.wipe(uk);
    c.wipe(keys.sign.secretKey);
    c.wipe(keys.wrapKey);
  }
  const rec: TrustedRecord = { email: String(g.email ?? ""), accountId: account,
    deviceId: p.deviceId, secret };
  await saveTrusted(rec);
  await dropPending();
  return rec;
}
