// Changing the master password in the page (src/client/client.cc
// ChangePassword): both passwords are derived here, the vault key is wrapped
// again here, and a fresh escrow is made for every organization the member
// is enrolled in, sealed only to the recovery key of a statement chain
// verified from the signing key the member confirmed by its fingerprint.
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import type { VerifiedOrg } from "./admin.js";
import { createEscrow } from "./protocol/escrow.js";
import type { Session } from "./vault.js";

export interface EnrolledOrg {
  v: VerifiedOrg;
  lastEpoch: number;
}

export async function changePassword(session: Session, current: string, next: string,
  orgs: EnrolledOrg[]): Promise<void> {
  await c.init();
  const pre = await call<{ kdf: c.KdfParams; salt: string }>("POST", "/v1/accounts/prelogin",
    { email: session.email });
  const server = await call<{ kdf_minimum: c.KdfParams; recovery_public_key?: string }>("GET", "/v1/server");
  if (orgs.length && !server.recovery_public_key) {
    throw new c.CryptoError("server.recovery_key_missing",
      "The server has no recovery key; your recovery escrow cannot be renewed.");
  }
  const escrows = orgs.map(({ v, lastEpoch }) => {
    const e = createEscrow(session.vaultKey, v.org.id, session.accountId, lastEpoch + 1,
      v.statement.orgPublicKey, c.fromBase64url(server.recovery_public_key!));
    return {
      org_id: v.org.id, epoch: e.epoch, key_version: v.keyVersion,
      wrapped_vault_key: c.base64url(e.wrappedVaultKey), admin_share: c.base64url(e.adminShare),
      server_share: c.base64url(e.serverShare),
    };
  });
  const oldMk = c.deriveMasterKey(current, c.fromBase64url(pre.salt), pre.kdf);
  const oldKeys = c.splitMasterKey(oldMk);
  c.wipe(oldMk);
  c.wipe(oldKeys.enc);
  const kdf = { ops: Math.max(server.kdf_minimum.ops, c.CLIENT_FLOOR_KDF.ops),
    mem: Math.max(server.kdf_minimum.mem, c.CLIENT_FLOOR_KDF.mem) };
  const salt = c.randomBytes(c.SALT_SIZE);
  const mk = c.deriveMasterKey(next, salt, kdf);
  const keys = c.splitMasterKey(mk);
  c.wipe(mk);
  try {
    await call("POST", "/v1/account/password", {
      auth_key: c.base64url(oldKeys.auth),
      new_kdf: kdf,
      new_salt: c.base64url(salt),
      new_auth_key: c.base64url(keys.auth),
      new_wrapped_vault_key: c.base64url(c.encrypt(keys.enc, session.vaultKey,
        c.ad("keyward/v1/uk", session.accountId))),
      escrows,
    });
    session.mustChangePassword = false;
  } finally {
    c.wipe(oldKeys.auth);
    c.wipe(keys.auth);
    c.wipe(keys.enc);
  }
}

// The auth key of `password` (re-checks the master password on the server).
async function authKeyFor(session: Session, password: string): Promise<Uint8Array> {
  await c.init();
  const pre = await call<{ kdf: c.KdfParams; salt: string }>("POST", "/v1/accounts/prelogin",
    { email: session.email });
  const mk = c.deriveMasterKey(password, c.fromBase64url(pre.salt), pre.kdf);
  const keys = c.splitMasterKey(mk);
  c.wipe(mk);
  c.wipe(keys.enc);
  return keys.auth;
}

// OrgClient::Enroll: an escrow at the next epoch, sealed to the verified
// organization's recovery key and the server's.
export async function enroll(session: Session, v: VerifiedOrg, lastEpoch: number,
  password: string): Promise<void> {
  const server = await call<{ recovery_public_key?: string }>("GET", "/v1/server");
  if (!server.recovery_public_key) {
    throw new c.CryptoError("server.recovery_key_missing", "The server has no recovery key; enrollment is not possible.");
  }
  const auth = await authKeyFor(session, password);
  try {
    const e = createEscrow(session.vaultKey, v.org.id, session.accountId, lastEpoch + 1,
      v.statement.orgPublicKey, c.fromBase64url(server.recovery_public_key));
    await call("PUT", `/v1/orgs/${encodeURIComponent(v.org.id)}/enrollment`, {
      auth_key: c.base64url(auth),
      escrow: { epoch: e.epoch, key_version: v.keyVersion, wrapped_vault_key: c.base64url(e.wrappedVaultKey),
        admin_share: c.base64url(e.adminShare), server_share: c.base64url(e.serverShare) },
    });
  } finally {
    c.wipe(auth);
  }
}

export async function withdraw(session: Session, orgId: string, password: string): Promise<void> {
  const auth = await authKeyFor(session, password);
  try {
    await call("DELETE", `/v1/orgs/${encodeURIComponent(orgId)}/enrollment`, { auth_key: c.base64url(auth) });
  } finally {
    c.wipe(auth);
  }
}
