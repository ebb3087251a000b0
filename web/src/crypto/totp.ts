// src/crypto/totp (RFC 6238 over RFC 4226) and base32 (RFC 4648) in the
// browser: the codes an authenticator app shows, for checking that a secret
// was copied right before two-step login is turned on. Step 30 s, t0 = 0;
// the 6-digit code is the last 6 digits of the 8-digit one.
import { CryptoError, hmac, type HmacAlgorithm } from "./primitives.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Unpadded base32.
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

// Case-insensitive; '=' and spaces are skipped; a length that no byte
// string encodes to, or non-zero trailing bits, is refused.
export function fromBase32(text: string): Uint8Array {
  const bad = () => new CryptoError("crypto.invalid_base32", "not base32");
  const clean = text.replace(/[= ]/g, "").toUpperCase();
  if ([1, 3, 6].includes(clean.length % 8)) throw bad();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw bad();
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) throw bad();
  return Uint8Array.from(out);
}

const ALGORITHMS: Record<string, HmacAlgorithm> = { sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" };

// The code of `secret` at unix time `time` (seconds), `digits` long.
export async function totp(secret: Uint8Array, time: number, digits = 6,
  algorithm: "sha1" | "sha256" | "sha512" = "sha1"): Promise<string> {
  const counter = new Uint8Array(8);
  new DataView(counter.buffer).setBigUint64(0, BigInt(Math.floor(time / 30)));
  const mac = await hmac(ALGORITHMS[algorithm], secret, counter);
  const at = mac[mac.length - 1] & 0x0f;
  const n = ((mac[at] & 0x7f) << 24) | (mac[at + 1] << 16) | (mac[at + 2] << 8) | mac[at + 3];
  return String(n % 10 ** 8).padStart(8, "0").slice(8 - digits);
}
