// Every primitive of docs/protocol.md, as src/crypto/crypto.h has them, for
// the browser: the same encodings, the same blob formats and the same one
// error ("crypto.decrypt_failed") for anything that does not open. Checked
// against tests/vectors/*.json by web/test/vectors.test.ts.
import { loadSodium, type Sodium } from "./sodium.js";

export class CryptoError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "CryptoError";
  }
}

export function decryptFailed(): CryptoError {
  return new CryptoError("crypto.decrypt_failed", "decryption failed");
}

let sodium: Sodium | undefined;

// Must be awaited once before the synchronous functions below.
export async function init(): Promise<void> {
  sodium = await loadSodium();
}

function s(): Sodium {
  if (!sodium) throw new Error("crypto: init() was not awaited");
  return sodium;
}

// ---- encodings ----

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || /[^0-9a-f]/.test(text)) {
    throw new CryptoError("crypto.invalid_hex", "not lowercase hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Unpadded base64url, as the server speaks it.
export function base64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63] + B64URL[n & 63];
  }
  const left = bytes.length - i;
  if (left === 1) {
    const n = bytes[i] << 16;
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63];
  } else if (left === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63];
  }
  return out;
}

// Refuses padding, '+', '/', whitespace, any other character, a length of
// 1 mod 4 and non-zero trailing bits (one encoding per byte string).
export function fromBase64url(text: string): Uint8Array {
  const bad = () => new CryptoError("crypto.invalid_base64", "not unpadded base64url");
  if (text.length % 4 === 1) throw bad();
  const values: number[] = [];
  for (const ch of text) {
    const v = B64URL.indexOf(ch);
    if (v < 0) throw bad();
    values.push(v);
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 4 <= values.length; i += 4) {
    const n = (values[i] << 18) | (values[i + 1] << 12) | (values[i + 2] << 6) | values[i + 3];
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const left = values.length - i;
  if (left === 2) {
    if (values[i + 1] & 15) throw bad();
    out[o++] = ((values[i] << 2) | (values[i + 1] >> 4)) & 255;
  } else if (left === 3) {
    if (values[i + 2] & 3) throw bad();
    const n = (values[i] << 10) | (values[i + 1] << 4) | (values[i + 2] >> 2);
    out[o++] = n >> 8;
    out[o++] = n & 255;
  }
  return out;
}

// Associated data and sealed headers: UTF-8 parts joined by 0x00.
export function ad(...parts: string[]): Uint8Array {
  const encoded = parts.map(utf8);
  const out = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0) + parts.length - 1);
  let at = 0;
  encoded.forEach((p, i) => {
    if (i > 0) out[at++] = 0;
    out.set(p, at);
    at += p.length;
  });
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function randomBytes(n: number): Uint8Array {
  return s().randombytes_buf(n);
}

// Zeroes a buffer that held a secret.
export function wipe(bytes: Uint8Array): void {
  s().memzero(bytes);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return a.length === 0 || s().memcmp(a, b);
}

// ---- KDF: Argon2id13, 32 bytes ----

export interface KdfParams {
  ops: number;
  mem: number; // bytes
}

export const SALT_SIZE = 16;
export const CLIENT_FLOOR_KDF: KdfParams = { ops: 2, mem: 19 * 1024 * 1024 };

export function deriveMasterKey(password: string, salt: Uint8Array, params: KdfParams): Uint8Array {
  const so = s();
  if (salt.length !== SALT_SIZE) {
    throw new CryptoError("crypto.invalid_salt", "salt must be 16 bytes");
  }
  if (
    params.ops < so.crypto_pwhash_OPSLIMIT_MIN ||
    params.ops > 0xffffffff ||
    params.mem < so.crypto_pwhash_MEMLIMIT_MIN ||
    params.mem > 0x7fffffff
  ) {
    throw new CryptoError("crypto.invalid_kdf_params", "Argon2id parameters out of range");
  }
  return so.crypto_pwhash(32, utf8(password), salt, params.ops, params.mem,
    so.crypto_pwhash_ALG_ARGON2ID13);
}

// Sub(K, id, ctx): crypto_kdf_derive_from_key, 32 bytes, ctx of 8 chars.
export function sub(key: Uint8Array, id: number, ctx8: string): Uint8Array {
  if (key.length !== 32 || ctx8.length !== 8) throw new Error("sub: bad key or context");
  // Ids are u64 in the protocol: a bigint beyond 2^32 (libsodium.js refuses
  // a plain number there).
  return s().crypto_kdf_derive_from_key(32, BigInt(id) as unknown as number, ctx8, key);
}

export interface AccountKeys {
  auth: Uint8Array; // AK = Sub(MK, 1, "KWmaster")
  enc: Uint8Array; // EK = Sub(MK, 2, "KWmaster")
}

export function splitMasterKey(mk: Uint8Array): AccountKeys {
  return { auth: sub(mk, 1, "KWmaster"), enc: sub(mk, 2, "KWmaster") };
}

// ---- AEAD: XChaCha20-Poly1305-IETF, blob = 0x01 || nonce(24) || ct ----

const BLOB_VERSION = 1;
const NONCE_SIZE = 24;
const TAG_SIZE = 16;

export function encryptWithNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array,
  adBytes: Uint8Array): Uint8Array {
  if (key.length !== 32 || nonce.length !== NONCE_SIZE) throw new Error("encrypt: bad key or nonce");
  const ct = s().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, adBytes, null, nonce, key);
  return concat(Uint8Array.of(BLOB_VERSION), nonce, ct);
}

export function encrypt(key: Uint8Array, plaintext: Uint8Array, adBytes: Uint8Array): Uint8Array {
  return encryptWithNonce(key, randomBytes(NONCE_SIZE), plaintext, adBytes);
}

export function decrypt(key: Uint8Array, blob: Uint8Array, adBytes: Uint8Array): Uint8Array {
  if (key.length !== 32 || blob.length < 1 + NONCE_SIZE + TAG_SIZE || blob[0] !== BLOB_VERSION) {
    throw decryptFailed();
  }
  try {
    return s().crypto_aead_xchacha20poly1305_ietf_decrypt(null, blob.subarray(1 + NONCE_SIZE),
      adBytes, blob.subarray(1, 1 + NONCE_SIZE), key);
  } catch {
    throw decryptFailed();
  }
}

// ---- keyed hash: BLAKE2b-256 (empty key: unkeyed) ----

export function hash(key: Uint8Array, message: Uint8Array): Uint8Array {
  return s().crypto_generichash(32, message, key.length === 0 ? null : key);
}

// ---- sealed boxes (X25519) ----

export interface BoxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function boxKeyPairFromSeed(seed: Uint8Array): BoxKeyPair {
  const kp = s().crypto_box_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function generateBoxKeyPair(): BoxKeyPair {
  const kp = s().crypto_box_keypair();
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function seal(publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  return s().crypto_box_seal(message, publicKey);
}

export function open(publicKey: Uint8Array, secretKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  try {
    return s().crypto_box_seal_open(sealed, publicKey, secretKey);
  } catch {
    throw decryptFailed();
  }
}

// ---- authenticated boxes (X25519 + XSalsa20-Poly1305, crypto_box_easy) ----
// nonce (24) || crypto_box_easy(message, nonce, recipient, sender), as
// crypto::Box: only the holder of the sender's or the recipient's secret
// key can make one that opens.

export function boxWithNonce(recipientPublicKey: Uint8Array, senderSecretKey: Uint8Array,
  nonce: Uint8Array, message: Uint8Array): Uint8Array {
  if (nonce.length !== 24) throw new CryptoError("protocol.invalid_nonce", "24 bytes");
  return concat(nonce, s().crypto_box_easy(message, nonce, recipientPublicKey, senderSecretKey));
}

export function box(recipientPublicKey: Uint8Array, senderSecretKey: Uint8Array,
  message: Uint8Array): Uint8Array {
  return boxWithNonce(recipientPublicKey, senderSecretKey, randomBytes(24), message);
}

export function boxOpen(senderPublicKey: Uint8Array, recipientSecretKey: Uint8Array,
  blob: Uint8Array): Uint8Array {
  if (blob.length < 24 + 16) throw decryptFailed();
  try {
    return s().crypto_box_open_easy(blob.subarray(24), blob.subarray(0, 24), senderPublicKey,
      recipientSecretKey);
  } catch {
    throw decryptFailed();
  }
}

// ---- signatures (Ed25519) ----

export interface SignKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array; // 64
}

export function signKeyPairFromSeed(seed: Uint8Array): SignKeyPair {
  const kp = s().crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return s().crypto_sign_detached(message, secretKey);
}

export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return s().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

// A human-checkable fingerprint: the first 20 bytes of
// BLAKE2b-256("keyward/v1/fingerprint" 0x00 pk) as 5 groups of 8 hex digits.
export function fingerprint(publicKey: Uint8Array): string {
  const digest = hash(new Uint8Array(0), concat(ad("keyward/v1/fingerprint", ""), publicKey));
  const text = hex(digest.subarray(0, 20));
  return text.match(/.{8}/g)!.join(" ");
}

// ---- MACs (WebCrypto, so HMAC-SHA-1 for TOTP is there too) ----

export type HmacAlgorithm = "SHA-1" | "SHA-256" | "SHA-512";

export async function hmac(algorithm: HmacAlgorithm, key: Uint8Array,
  message: Uint8Array): Promise<Uint8Array> {
  const k = await globalThis.crypto.subtle.importKey("raw", key,
    { name: "HMAC", hash: algorithm }, false, ["sign"]);
  return new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", k, message));
}

// ---- secretstream: crypto_secretstream_xchacha20poly1305 (src/crypto/stream.cc) ----

export const STREAM_HEADER_SIZE = 24;
export const STREAM_OVERHEAD = 17;

// libsodium's stream state, inside its WebAssembly heap (the wrapper offers
// no way to wipe or free it).
export type StreamState = ReturnType<Sodium["crypto_secretstream_xchacha20poly1305_init_pull"]>;

export interface StreamPush {
  state: StreamState;
  header: Uint8Array; // STREAM_HEADER_SIZE, random: stored before the first message
}

export function streamInitPush(key: Uint8Array): StreamPush {
  if (key.length !== 32) throw new Error("streamInitPush: key must be 32 bytes");
  const { state, header } = s().crypto_secretstream_xchacha20poly1305_init_push(key);
  return { state, header };
}

// One message, STREAM_OVERHEAD longer; `final` tags it as the last.
export function streamPush(state: StreamState, message: Uint8Array, adBytes: Uint8Array,
  final: boolean): Uint8Array {
  const so = s();
  return so.crypto_secretstream_xchacha20poly1305_push(state, message,
    adBytes.length === 0 ? null : adBytes,
    final ? so.crypto_secretstream_xchacha20poly1305_TAG_FINAL
      : so.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

// crypto.decrypt_failed if the header is not STREAM_HEADER_SIZE bytes.
export function streamInitPull(key: Uint8Array, header: Uint8Array): StreamState {
  if (key.length !== 32) throw new Error("streamInitPull: key must be 32 bytes");
  if (header.length !== STREAM_HEADER_SIZE) throw decryptFailed();
  try {
    return s().crypto_secretstream_xchacha20poly1305_init_pull(header, key);
  } catch {
    throw decryptFailed();
  }
}

export interface StreamMessage {
  message: Uint8Array;
  final: boolean; // it carried the FINAL tag
}

// The next message of the stream; crypto.decrypt_failed if it is not (or
// carries a tag other than MESSAGE and FINAL, the two streamPush writes).
export function streamPull(state: StreamState, ciphertext: Uint8Array,
  adBytes: Uint8Array): StreamMessage {
  const so = s();
  if (ciphertext.length < STREAM_OVERHEAD) throw decryptFailed();
  let opened: { message: Uint8Array; tag: number } | false;
  try {
    opened = so.crypto_secretstream_xchacha20poly1305_pull(state, ciphertext,
      adBytes.length === 0 ? null : adBytes);
  } catch {
    throw decryptFailed();
  }
  if (!opened) throw decryptFailed();
  const final = opened.tag === so.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  if (!final && opened.tag !== so.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    so.memzero(opened.message);
    throw decryptFailed();
  }
  return { message: opened.message, final };
}

// ---- SHA-512, HMAC-SHA-512 and ristretto255 (src/crypto/cpace.cc, src/protocol/pairing.cc) ----

export function sha512(message: Uint8Array): Uint8Array {
  return s().crypto_hash_sha512(message);
}

// libsodium's streaming HMAC-SHA-512, which takes a key of any length (the
// one-shot crypto_auth_hmacsha512 wants exactly 32 bytes); the wrapper has
// these three but its type declarations do not.
interface HmacSha512Streaming {
  crypto_auth_hmacsha512_init(key: Uint8Array): unknown;
  crypto_auth_hmacsha512_update(state: unknown, message: Uint8Array): void;
  crypto_auth_hmacsha512_final(state: unknown): Uint8Array;
}

// HMAC-SHA-512 with a key of any length, synchronous (crypto::HmacSha512).
export function hmacSha512(key: Uint8Array, message: Uint8Array): Uint8Array {
  const so = s() as unknown as HmacSha512Streaming;
  const state = so.crypto_auth_hmacsha512_init(key);
  so.crypto_auth_hmacsha512_update(state, message);
  return so.crypto_auth_hmacsha512_final(state); // frees the state, which libsodium wiped
}

// crypto_core_ristretto255_from_hash: a group element from 64 bytes.
export function ristretto255FromHash(bytes64: Uint8Array): Uint8Array {
  if (bytes64.length !== 64) throw new Error("ristretto255FromHash: 64 bytes");
  return s().crypto_core_ristretto255_from_hash(bytes64);
}

// crypto_core_ristretto255_scalar_random: 32 bytes, reduced.
export function ristretto255ScalarRandom(): Uint8Array {
  return s().crypto_core_ristretto255_scalar_random();
}

// crypto_scalarmult_ristretto255: scalar·point, or undefined when the point
// is not a canonical encoding (or not 32 bytes) or the product is the
// identity (libsodium's -1).
export function scalarMultRistretto255(scalar: Uint8Array,
  point: Uint8Array): Uint8Array | undefined {
  if (scalar.length !== 32) throw new Error("scalarMultRistretto255: scalar must be 32 bytes");
  if (point.length !== 32) return undefined;
  try {
    return s().crypto_scalarmult_ristretto255(scalar, point);
  } catch {
    return undefined;
  }
}
