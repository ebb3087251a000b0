// src/protocol/trusted_device.h in the browser (docs/protocol.md "Trusted
// devices"): from a device's 32-byte secret D, an Ed25519 key pair (seed
// Sub(D, 1, "KWdevice")) that signs each login over its first single
// sign-on ticket, and a wrap key (Sub(D, 2, "KWdevice")) under which the
// server keeps the vault key, bound to the account and the device.
import * as c from "../crypto/primitives.js";

export const SECRET_SIZE = 32;

export interface DeviceKeys {
  sign: c.SignKeyPair;
  wrapKey: Uint8Array;
}

export function deriveKeys(secret: Uint8Array): DeviceKeys {
  if (secret.length !== SECRET_SIZE) {
    throw new c.CryptoError("device.bad_secret", "a device secret is 32 bytes");
  }
  const seed = c.sub(secret, 1, "KWdevice");
  try {
    return { sign: c.signKeyPairFromSeed(seed), wrapKey: c.sub(secret, 2, "KWdevice") };
  } finally {
    c.wipe(seed);
  }
}

function wrapAd(account: string, device: string): Uint8Array {
  return c.ad("keyward/v1/trusted-device", account, device);
}

// The vault key wrapped for the server to keep (a random nonce unless one
// is given, for the known answers).
export function wrapVaultKey(keys: DeviceKeys, vaultKey: Uint8Array, account: string,
  device: string, nonce?: Uint8Array): Uint8Array {
  return nonce ? c.encryptWithNonce(keys.wrapKey, nonce, vaultKey, wrapAd(account, device))
    : c.encrypt(keys.wrapKey, vaultKey, wrapAd(account, device));
}

// device.key_mismatch when the blob was not made by this device for this
// account and device (or was edited): a server that swaps it is caught.
export function unwrapVaultKey(keys: DeviceKeys, wrapped: Uint8Array, account: string,
  device: string): Uint8Array {
  let uk: Uint8Array;
  try {
    uk = c.decrypt(keys.wrapKey, wrapped, wrapAd(account, device));
  } catch {
    uk = new Uint8Array(0);
  }
  if (uk.length !== 32) {
    throw new c.CryptoError("device.key_mismatch",
      "The server's wrapped vault key for this trusted device does not open with its key.");
  }
  return uk;
}

// What a login signs: Ad("keyward/v1/trusted-device-login", device) ‖ ticket.
export function loginMessage(device: string, ticket: Uint8Array): Uint8Array {
  return c.concat(c.ad("keyward/v1/trusted-device-login", device), ticket);
}
