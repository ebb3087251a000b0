// Changing the master password in the page (src/client/client.cc
// ChangePassword): both passwords are derived here, the vault key is wrapped
// again here, and a fresh escrow is made for every organization the member
// is enrolled in, sealed only to the recovery key of a statement chain
// verified from the signing key the member confirmed by its fingerprint.
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import type { VerifiedOrg } from "./admin.js";
import { createEscrow } from "./protocol/escrow.js";
import { escrowFields, newAccountKeys, newPasswordFields } from "./keys.js";
import type { Session } from "./vault.js";

export interface EnrolledOrg {
  v: VerifiedOrg;
  lastEpoch: number;
}

export async function changePassword(session: Session, current: string, next: string,
  orgs: EnrolledOrg[]): Promise<void> {
  await c.init();
  const server = await call<{ kdf_minimum: c.KdfParams; recovery_public_key?: string }>("GET", "/v1/server");
  if (orgs.length && !server.recovery_public_key) {
    throw new c.CryptoError("server.recovery_key_missing",
      "The server has no recovery key; your recovery escrow cannot be renewed.");
  }
  const escrows = orgs.map(({ v, lastEpoch }) => ({
    org_id: v.org.id,
    ...escrowFields(createEscrow(session.vaultKey, v.org.id, session.accountId, lastEpoch + 1,
      v.statement.orgPublicKey, c.fromBase64url(server.recovery_public_key!)), v.keyVersion),
  }));
  const oldAuth = await authKeyFor(session, current);
  const keys = newAccountKeys(next, server.kdf_minimum);
  try {
    await call("POST", "/v1/account/password", {
      auth_key: c.base64url(oldAuth),
      ...newPasswordFields(keys, session.accountId, session.vaultKey),
      escrows,
    });
    session.mustChangePassword = false;
  } finally {
    c.wipe(oldAuth);
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
      escrow: escrowFields(e, v.keyVersion),
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
