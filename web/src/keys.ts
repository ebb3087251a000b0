// New master-password keys, as src/client/keys.cc makes them
// (RegistrationKdf, DeriveAccountKeys, WrapVaultKey): for a password change,
// a redemption and an admin reset alike.
import * as c from "./crypto/primitives.js";
import type { Escrow } from "./protocol/escrow.js";

export interface NewKeys {
  kdf: c.KdfParams;
  salt: Uint8Array;
  auth: Uint8Array; // wipe after use
  enc: Uint8Array; // wipe after use
}

// The server's minimum, never under the client's floor.
export function registrationKdf(minimum: c.KdfParams): c.KdfParams {
  return { ops: Math.max(minimum.ops, c.CLIENT_FLOOR_KDF.ops), mem: Math.max(minimum.mem, c.CLIENT_FLOOR_KDF.mem) };
}

// A fresh salt and the keys `password` gives with it (Argon2id, then Sub).
export function newAccountKeys(password: string, minimum: c.KdfParams): NewKeys {
  const kdf = registrationKdf(minimum);
  const salt = c.randomBytes(c.SALT_SIZE);
  const mk = c.deriveMasterKey(password, salt, kdf);
  const keys = c.splitMasterKey(mk);
  c.wipe(mk);
  return { kdf, salt, auth: keys.auth, enc: keys.enc };
}

// Enc(EK, UK, "keyward/v1/uk" 0 account_id).
export function wrapVaultKey(enc: Uint8Array, accountId: string, vaultKey: Uint8Array): Uint8Array {
  return c.encrypt(enc, vaultKey, c.ad("keyward/v1/uk", accountId));
}

// The body fields of a new password (POST /v1/account/password,
// /recovery/redeem/complete, /members/{id}/reset).
export function newPasswordFields(keys: NewKeys, accountId: string, vaultKey: Uint8Array): Record<string, unknown> {
  return {
    new_kdf: keys.kdf,
    new_salt: c.base64url(keys.salt),
    new_auth_key: c.base64url(keys.auth),
    new_wrapped_vault_key: c.base64url(wrapVaultKey(keys.enc, accountId, vaultKey)),
  };
}

// An escrow as the API takes it ("Escrow upload" of docs/api.md).
export function escrowFields(e: Escrow, keyVersion: number): Record<string, unknown> {
  return {
    epoch: e.epoch, key_version: keyVersion, wrapped_vault_key: c.base64url(e.wrappedVaultKey),
    admin_share: c.base64url(e.adminShare), server_share: c.base64url(e.serverShare),
  };
}
