// src/protocol/binding.h in the browser: the id and counter rules and the
// encodings that bind escrowed and linked secrets to their organization,
// user (or request) and epoch.
import { ad, concat, CryptoError, decryptFailed, open, seal, type BoxKeyPair } from "../crypto/primitives.js";

export const MAX_COUNTER = Number.MAX_SAFE_INTEGER; // 2^53 - 1

// 1..64 characters of [A-Za-z0-9_-].
export function isValidId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

export function checkId(id: string): void {
  if (!isValidId(id)) {
    throw new CryptoError("protocol.invalid_id", "an id must be 1-64 characters of [A-Za-z0-9_-]");
  }
}

export function checkCounter(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_COUNTER) {
    throw new CryptoError("protocol.invalid_counter", "an epoch or version must be 1..2^53-1");
  }
}

export function escrowAd(org: string, user: string, epoch: number): Uint8Array {
  return ad("keyward/v1/escrow", org, user, String(epoch));
}

export function linkAd(request: string, user: string, epoch: number): Uint8Array {
  return ad("keyward/v1/link", request, user, String(epoch));
}

// label 0 a 0 b 0 n 0: the header that starts a sealed plaintext.
export function sealedHeader(label: string, a: string, b: string, n: number): Uint8Array {
  return ad(label, a, b, String(n), "");
}

export function sealWithHeader(publicKey: Uint8Array, header: Uint8Array,
  payload: Uint8Array): Uint8Array {
  return seal(publicKey, concat(header, payload));
}

// Opens `sealed` and checks its plaintext is `header` then `size` bytes.
export function openWithHeader(recipient: BoxKeyPair, sealed: Uint8Array, header: Uint8Array,
  size: number): Uint8Array {
  const plain = open(recipient.publicKey, recipient.secretKey, sealed);
  if (plain.length !== header.length + size) throw decryptFailed();
  for (let i = 0; i < header.length; i++) {
    if (plain[i] !== header[i]) throw decryptFailed();
  }
  return plain.slice(header.length);
}
