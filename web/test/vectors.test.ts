// The browser's crypto (src/crypto) against the known-answer vectors the C++
// code passes (tests/vectors/*.json, docs/protocol.md "Vectors"), under
// node's test runner: `npm run test:vectors` (ctest: web_crypto_vectors).
import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";

import * as c from "../src/crypto/primitives.js";

type Json = Record<string, any>;

function load(name: string): Json {
  const dir = process.env.KEYWARD_VECTORS ?? new URL("../../../tests/vectors/", import.meta.url);
  return JSON.parse(readFileSync(new URL(name, dir instanceof URL ? dir : `file://${dir}/`), "utf8"));
}

// The rows of `key`, at least `min` of them (an emptied file must fail).
function rows(doc: Json, key: string, min: number): Json[] {
  const r = doc[key];
  assert.ok(Array.isArray(r) && r.length >= min, `${key}: at least ${min} rows`);
  return r;
}

const h = c.fromHex;

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof c.CryptoError ? e.code : String(e);
  }
  return "ok";
}

test("init", async () => {
  await c.init();
});

test("base64url", () => {
  const doc = load("base64url.json");
  for (const v of rows(doc, "vectors", 5)) {
    assert.equal(c.base64url(h(v.bytes)), v.base64url, v.name);
    assert.equal(c.hex(c.fromBase64url(v.base64url)), v.bytes, v.name);
  }
  for (const v of rows(doc, "invalid", 5)) {
    assert.equal(codeOf(() => c.fromBase64url(v.text)), "crypto.invalid_base64", v.why);
  }
});

test("aead", () => {
  const doc = load("aead.json");
  for (const v of rows(doc, "vectors", 2)) {
    const blob = c.encryptWithNonce(h(v.key), h(v.nonce), h(v.plaintext), h(v.ad));
    assert.equal(c.hex(blob), v.blob, v.name);
    assert.equal(c.hex(c.decrypt(h(v.key), h(v.blob), h(v.ad))), v.plaintext, v.name);
  }
  for (const v of rows(doc, "invalid", 3)) {
    assert.equal(codeOf(() => c.decrypt(h(v.key), h(v.blob), h(v.ad))), v.error, v.why);
  }
});

test("argon2id", () => {
  const doc = load("argon2id.json");
  for (const v of rows(doc, "vectors", 3)) {
    const mk = c.deriveMasterKey(v.password, h(v.salt), { ops: v.ops, mem: v.mem });
    assert.equal(c.hex(mk), v.key);
  }
  for (const v of rows(doc, "invalid", 2)) {
    const f = () => c.deriveMasterKey(v.password, h(v.salt), { ops: v.ops, mem: v.mem });
    assert.equal(codeOf(f), v.error);
  }
});

test("account keys", () => {
  const doc = load("account_keys.json");
  for (const v of rows(doc, "vectors", 2)) {
    const mk = c.deriveMasterKey(v.password, h(v.salt), { ops: v.ops, mem: v.mem });
    assert.equal(c.hex(mk), v.mk);
    const keys = c.splitMasterKey(mk);
    assert.equal(c.hex(keys.auth), v.ak);
    assert.equal(c.hex(keys.enc), v.ek);
    if (v.pepper) assert.equal(c.hex(c.hash(h(v.pepper), keys.auth)), v.verifier);
  }
});

test("kdf derive", () => {
  for (const v of rows(load("kdf_derive.json"), "vectors", 3)) {
    assert.equal(c.hex(c.sub(h(v.key), v.id, v.ctx)), v.subkey, `${v.id} ${v.ctx}`);
  }
});

test("keyed BLAKE2b", () => {
  for (const v of rows(load("generichash_keyed.json"), "vectors", 3)) {
    assert.equal(c.hex(c.hash(h(v.key), h(v.message))), v.hash);
  }
});

test("sealed boxes", () => {
  for (const v of rows(load("sealed_box.json"), "vectors", 2)) {
    const kp = c.boxKeyPairFromSeed(h(v.seed));
    assert.equal(c.hex(kp.publicKey), v.public_key);
    assert.equal(c.hex(kp.secretKey), v.secret_key);
    assert.equal(c.hex(c.open(kp.publicKey, kp.secretKey, h(v.sealed))), v.plaintext);
    // A box sealed here opens there too (random ephemeral key: round trip).
    const sealed = c.seal(kp.publicKey, h(v.plaintext));
    assert.equal(c.hex(c.open(kp.publicKey, kp.secretKey, sealed)), v.plaintext);
    sealed[sealed.length - 1] ^= 1;
    assert.equal(codeOf(() => c.open(kp.publicKey, kp.secretKey, sealed)),
      "crypto.decrypt_failed");
  }
});

test("ed25519", () => {
  for (const v of rows(load("ed25519.json"), "vectors", 3)) {
    const kp = c.signKeyPairFromSeed(h(v.seed));
    assert.equal(c.hex(kp.publicKey), v.public_key, v.name);
    assert.equal(c.hex(kp.secretKey), v.secret_key, v.name);
    const sig = c.sign(kp.secretKey, h(v.message));
    assert.equal(c.hex(sig), v.signature, v.name);
    assert.ok(c.verify(kp.publicKey, h(v.message), sig), v.name);
    sig[0] ^= 1;
    assert.ok(!c.verify(kp.publicKey, h(v.message), sig), v.name);
  }
});

test("fingerprints", () => {
  for (const v of rows(load("fingerprint.json"), "vectors", 2)) {
    assert.equal(c.fingerprint(h(v.public_key)), v.fingerprint);
  }
});

test("hmac", async () => {
  const names: Record<string, c.HmacAlgorithm> = {
    "hmac-sha1": "SHA-1", "hmac-sha256": "SHA-256", "hmac-sha512": "SHA-512",
  };
  for (const v of rows(load("hmac.json"), "vectors", 10)) {
    const mac = await c.hmac(names[v.algorithm], h(v.key), h(v.message));
    assert.equal(c.hex(mac.subarray(0, v.output_bytes)), v.mac, v.source);
  }
});
