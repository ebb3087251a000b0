// A trusted browser (docs/web.md "A trusted browser"; docs/sso.md "Trusted
// devices"): a member of an organization with single sign-on may keep, in
// this browser's IndexedDB, a device secret D from which the page signs
// its sign-ins and opens the vault key the server keeps wrapped for this
// browser (web/src/protocol/trusted_device.ts) — then the provider's
// sign-in (and the two-step code) opens the same vault without the master
// password. By the member's choice only, as the CLI's `keyward device
// trust`; "Forget this browser" drops both copies. D is as safe as this
// browser profile, and a sign-in with it still needs the member's own
// sign-in at the provider.
import { call, setToken } from "./api.js";
import * as c from "./crypto/primitives.js";
import { deriveKeys, loginMessage, unwrapVaultKey, wrapVaultKey } from "./protocol/trusted_device.js";
import { deviceId, postSession, startSession, type Session } from "./vault.js";

export interface TrustedRecord {
  email: string;
  accountId: string;
  deviceId: string;
  secret: Uint8Array; // D
}

const DB = "keyward";
const STORE = "trusted";
const KEY = "this-browser";

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// The records this browser keeps by the member's choice (this one, and a
// device request's, device_request.ts), in one IndexedDB object store.
async function withStore<T>(mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export async function readRecord(key: string): Promise<unknown> {
  try {
    return await withStore("readonly", (s) => s.get(key));
  } catch {
    return undefined;
  }
}

export async function writeRecord(key: string, value: unknown): Promise<void> {
  await withStore("readwrite", (s) => s.put(value, key));
}

export async function deleteRecord(key: string): Promise<void> {
  await withStore("readwrite", (s) => s.delete(key));
}

// This browser's record, when it is a trusted browser (and the record is
// whole: anything else reads as none).
export async function loadTrusted(): Promise<TrustedRecord | undefined> {
  const rec = await readRecord(KEY);
  const r = rec as Partial<TrustedRecord> | undefined;
  if (!r || typeof r.email !== "string" || typeof r.accountId !== "string" ||
    typeof r.deviceId !== "string" || !(r.secret instanceof Uint8Array) || r.secret.length !== 32) {
    return undefined;
  }
  return r as TrustedRecord;
}

export async function saveTrusted(rec: TrustedRecord): Promise<void> {
  await writeRecord(KEY, rec);
}

// Makes this browser a trusted device of the signed-in account: a fresh D
// wraps the vault key; the server keeps the wrapped copy and the signing
// key (PUT /v1/devices/{this tab's device}/trust), the browser keeps D.
export async function trustThisBrowser(session: Session): Promise<void> {
  const secret = c.randomBytes(32);
  const keys = deriveKeys(secret);
  try {
    await call("PUT", `/v1/devices/${encodeURIComponent(deviceId)}/trust`, {
      sign_public_key: c.base64url(keys.sign.publicKey),
      wrapped_vault_key: c.base64url(wrapVaultKey(keys, session.vaultKey, session.accountId,
        deviceId)),
    });
  } finally {
    c.wipe(keys.sign.secretKey);
    c.wipe(keys.wrapKey);
  }
  await saveTrusted({ email: session.email, accountId: session.accountId, deviceId, secret });
}

// Drops this browser's key on the server (when signed in as it) and here.
export async function forgetThisBrowser(rec: TrustedRecord, signedIn: boolean): Promise<void> {
  try {
    if (signedIn) await call("DELETE", `/v1/devices/${encodeURIComponent(rec.deviceId)}/trust`);
  } finally {
    await deleteRecord(KEY);
  }
}

// POST /v1/sessions as this trusted browser: D signs the first ticket
// instead of the master password; the vault key comes from this browser's
// own wrapped copy, checked against the account and the device. A server
// that answers for another account or with a blob this browser did not
// make gets no session used (the one it made is ended at once).
export async function signInTrusted(rec: TrustedRecord, tickets: string[],
  totp?: string): Promise<Session> {
  await c.init();
  if (tickets.length === 0) {
    throw new c.CryptoError("device.sso_required",
      "A trusted browser signs in through your organization's single sign-on first.");
  }
  const keys = deriveKeys(rec.secret);
  let answer: any;
  try {
    const body: Record<string, unknown> = {
      email: rec.email,
      device_signature: c.base64url(c.sign(keys.sign.secretKey,
        loginMessage(rec.deviceId, c.fromBase64url(tickets[0])))),
      device: { id: rec.deviceId, name: "Web browser", type: "web" },
      sso_tickets: tickets,
    };
    if (totp) body.totp_code = totp;
    answer = await postSession(body);
    let vaultKey: Uint8Array;
    try {
      if (answer?.account?.id !== rec.accountId) throw c.decryptFailed();
      vaultKey = unwrapVaultKey(keys, c.fromBase64url(answer?.trusted_device?.wrapped_vault_key ?? ""),
        rec.accountId, rec.deviceId);
    } catch {
      setToken(typeof answer?.token === "string" ? answer.token : "");
      await call("DELETE", "/v1/sessions/current").catch(() => undefined);
      setToken("");
      throw new c.CryptoError("device.key_mismatch",
        "The server's answer does not open with this browser's key (another account's, or edited): not signed in. Tell your server's operator.");
    }
    return startSession(answer, vaultKey);
  } finally {
    c.wipe(keys.sign.secretKey);
    c.wipe(keys.wrapKey);
  }
}
