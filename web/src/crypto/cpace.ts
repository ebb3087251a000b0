// src/crypto/cpace.h in the browser: CPace (draft-irtf-cfrg-cpace), suite
// CPACE-RISTR255-SHA512, initiator-responder mode, the balanced PAKE under
// device pairing (docs/protocol.md "Device pairing"). Party A sends
// Ya = ya·g, party B sends Yb = yb·g, where the generator g is hashed from
// the password-related string (PRS, here the 6-digit code), the channel
// identifier CI and the session id sid; both get the intermediate session
// key ISK = SHA-512(lv_cat(DSI_ISK, sid, K) ‖ lv_cat(Ya, ADa) ‖
// lv_cat(Yb, ADb)) with K = ya·Yb = yb·Ya. An invalid or identity point from
// the peer is a CryptoError "pair.bad_point" and the session must abort.
// Checked against the draft's vectors (tests/vectors/cpace.json) by
// web/test/vectors_pairing.test.ts.
import * as c from "./primitives.js";

export const POINT_SIZE = 32; // ristretto255 encoding
export const SCALAR_SIZE = 32; // little endian, reduced
export const ISK_SIZE = 64; // SHA-512
export const HASH_BLOCK_SIZE = 128; // H.s_in_bytes of SHA-512

const DSI = c.utf8("CPaceRistretto255");
const DSI_ISK = c.utf8("CPaceRistretto255_ISK");

function badPoint(): c.CryptoError {
  return new c.CryptoError("pair.bad_point", "the other device sent an invalid pairing message");
}

function lenSize(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

// Writes the LEB128 encoding of n at out[at], returning the new end.
function putLen(out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

// Writes prepend_len(data) at out[at], returning the new end.
function putLv(out: Uint8Array, at: number, data: Uint8Array): number {
  at = putLen(out, at, data.length);
  out.set(data, at);
  return at + data.length;
}

// prepend_len: the LEB128 length of `data`, then `data`.
export function prependLen(data: Uint8Array): Uint8Array {
  return lvCat(data);
}

// lv_cat: every part with its length prepended.
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + lenSize(p.length) + p.length, 0));
  let at = 0;
  for (const p of parts) at = putLv(out, at, p);
  return out;
}

// generator_string(DSI, PRS, CI, sid, 128): secret, as it holds the PRS
// (wipe it).
export function generatorString(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const dsiLen = lenSize(DSI.length) + DSI.length;
  const prsLen = lenSize(prs.length) + prs.length;
  // The zero padding fills the first hash block after DSI and PRS.
  const zpad = HASH_BLOCK_SIZE > 1 + dsiLen + prsLen ? HASH_BLOCK_SIZE - 1 - dsiLen - prsLen : 0;
  const out = new Uint8Array(dsiLen + prsLen + lenSize(zpad) + zpad + lenSize(ci.length) +
    ci.length + lenSize(sid.length) + sid.length);
  let at = putLv(out, 0, DSI);
  at = putLv(out, at, prs);
  at = putLen(out, at, zpad) + zpad; // the padding: out is zero-filled
  at = putLv(out, at, ci);
  at = putLv(out, at, sid);
  if (at !== out.length) throw new Error("cpace.generatorString: length");
  return out;
}

// g = ristretto255_from_hash(SHA-512(generator_string)), encoded.
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const gs = generatorString(prs, ci, sid);
  const hash = c.sha512(gs);
  try {
    return c.ristretto255FromHash(hash);
  } finally {
    c.wipe(gs);
    c.wipe(hash);
  }
}

// One party's ephemeral scalar and public share Y = y·g.
export interface Share {
  scalar: Uint8Array; // y, secret: wipe it once K is known
  point: Uint8Array; // Y, sent to the peer
}

// A fresh random scalar (crypto_core_ristretto255_scalar_random).
export function makeShare(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Share {
  const g = calculateGenerator(prs, ci, sid);
  for (;;) {
    const y = c.ristretto255ScalarRandom();
    const point = c.scalarMultRistretto255(y, g);
    if (point) return { scalar: y, point }; // y·g is the identity only for y = 0
    c.wipe(y);
  }
}

// The share for a given scalar: known-answer tests only. "pair.bad_point"
// when the product is the identity.
export function shareFromScalar(generator: Uint8Array, scalar: Uint8Array): Share {
  if (generator.length !== POINT_SIZE || scalar.length !== SCALAR_SIZE) {
    throw new Error("cpace.shareFromScalar: sizes");
  }
  const point = c.scalarMultRistretto255(scalar, generator);
  if (!point) throw badPoint();
  return { scalar: scalar.slice(), point };
}

// scalar_mult_vfy: K = y·Y_peer (secret); "pair.bad_point" when Y_peer is
// not a canonical ristretto255 encoding or the result is the identity.
export function sharedPoint(scalar: Uint8Array, peerPoint: Uint8Array): Uint8Array {
  if (scalar.length !== SCALAR_SIZE) throw new Error("cpace.sharedPoint: scalar size");
  if (peerPoint.length !== POINT_SIZE) throw badPoint();
  const k = c.scalarMultRistretto255(scalar, peerPoint);
  if (!k) throw badPoint();
  return k;
}

// A group element from 64 uniform bytes (crypto_core_ristretto255_from_hash):
// a well-formed share that no scalar is known for (decoys).
export function pointFromHash(bytes64: Uint8Array): Uint8Array {
  if (bytes64.length !== 64) throw new Error("cpace.pointFromHash: 64 bytes");
  return c.ristretto255FromHash(bytes64);
}

// transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb).
export function transcriptIr(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array,
  adB: Uint8Array): Uint8Array {
  return lvCat(ya, adA, yb, adB);
}

// ISK = SHA-512(lv_cat(DSI ‖ "_ISK", sid, K) ‖ transcript), secret.
export function isk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  const prefix = lvCat(DSI_ISK, sid, k);
  const input = c.concat(prefix, transcript);
  try {
    return c.sha512(input);
  } finally {
    c.wipe(prefix);
    c.wipe(input);
  }
}
