// The browser's crypto (src/crypto) against the known-answer vectors the C++
// code passes (tests/vectors/*.json, docs/protocol.md "Vectors"), under
// node's test runner: `npm run test:vectors` (ctest: web_crypto_vectors).
import { test } from "node:test";
import assert from "node:assert/strict";

import * as c from "../src/crypto/primitives.js";
import { load, rows, h, codeOf, type Json } from "./vector_support.js";
import { escrowAd, linkAd, sealedHeader } from "../src/protocol/binding.js";
import {
  createEscrow, openAdminShare, openServerShare, recoverVaultKey,
} from "../src/protocol/escrow.js";
import {
  buildLinkText, createLinkWith, encodeLinkPlaintext, linkKey, linkToken, openLink, parseLinkText,
} from "../src/protocol/link.js";
import { encodeOrgStatement, verifyOrgStatement } from "../src/protocol/statement.js";
import * as deviceShare from "../src/protocol/device_share.js";
import * as trustedDevice from "../src/protocol/trusted_device.js";
import { base32, fromBase32, totp } from "../src/crypto/totp.js";
import {
  createGrant, createSigningGrant, openGrant, openSigningGrant,
} from "../src/protocol/grant.js";

// Another valid epoch than `n`.
const other = (n: number) => (n === 1 ? 2 : n - 1);

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

test("grants (protocol_grant.json)", () => {
  const doc = load("protocol_grant.json");
  for (const v of rows(doc, "vectors", 1)) {
    const admin = c.boxKeyPairFromSeed(h(v.admin_seed));
    assert.equal(c.hex(admin.publicKey), v.admin_public_key);
    assert.equal(c.hex(sealedHeader("grant", v.org, v.admin_user, v.key_version)), v.header);
    const org = openGrant(admin, h(v.grant), v.org, v.admin_user, v.key_version,
      h(v.org_public_key));
    assert.equal(c.hex(org.secretKey), v.org_secret_key);
    // Bound to org, admin and key version; checked against pk_org.
    assert.equal(codeOf(() => openGrant(admin, h(v.grant), `${v.org}x`, v.admin_user,
      v.key_version, h(v.org_public_key))), "crypto.decrypt_failed");
    assert.equal(codeOf(() => openGrant(admin, h(v.grant), v.org, `${v.admin_user}x`,
      v.key_version, h(v.org_public_key))), "crypto.decrypt_failed");
    assert.equal(codeOf(() => openGrant(admin, h(v.grant), v.org, v.admin_user,
      other(v.key_version), h(v.org_public_key))), "crypto.decrypt_failed");
    const stranger = c.generateBoxKeyPair();
    assert.equal(codeOf(() => openGrant(admin, h(v.grant), v.org, v.admin_user, v.key_version,
      stranger.publicKey)), "org.grant_key_mismatch");
    // One made here opens the same way.
    const mine = createGrant(admin.publicKey, { publicKey: h(v.org_public_key),
      secretKey: h(v.org_secret_key) }, v.org, v.admin_user, v.key_version);
    assert.equal(c.hex(openGrant(admin, mine, v.org, v.admin_user, v.key_version,
      h(v.org_public_key)).secretKey), v.org_secret_key);
  }
  for (const v of rows(doc, "signing_grants", 1)) {
    const admin = c.boxKeyPairFromSeed(h(v.admin_seed));
    assert.equal(c.hex(sealedHeader("sign-grant", v.org, v.admin_user, v.key_version)), v.header);
    const signer = openSigningGrant(admin, h(v.signing_grant), v.org, v.admin_user,
      v.key_version, h(v.signing_public_key));
    assert.equal(c.hex(signer.secretKey.subarray(0, 32)), v.signing_seed);
    const otherSigner = c.signKeyPairFromSeed(c.randomBytes(32));
    assert.equal(codeOf(() => openSigningGrant(admin, h(v.signing_grant), v.org, v.admin_user,
      v.key_version, otherSigner.publicKey)), "org.grant_key_mismatch");
    assert.equal(codeOf(() => openSigningGrant(admin, h(v.signing_grant), v.org, v.admin_user,
      other(v.key_version), h(v.signing_public_key))), "crypto.decrypt_failed");
    const mine = createSigningGrant(admin.publicKey, signer, v.org, v.admin_user, v.key_version);
    assert.equal(c.hex(openSigningGrant(admin, mine, v.org, v.admin_user, v.key_version,
      h(v.signing_public_key)).publicKey), v.signing_public_key);
  }
});

test("escrow (protocol_escrow.json)", () => {
  const doc = load("protocol_escrow.json");
  for (const v of rows(doc, "vectors", 2)) {
    assert.equal(c.hex(escrowAd(v.org, v.user, v.epoch)), v.ad);
    const w = c.encryptWithNonce(h(v.escrow_key), h(v.nonce), h(v.vault_key), h(v.ad));
    assert.equal(c.hex(w), v.wrapped_vault_key);
    assert.equal(c.hex(sealedHeader("share-a", v.org, v.user, v.epoch)), v.header_a);
    assert.equal(c.hex(sealedHeader("share-u", v.org, v.user, v.epoch)), v.header_u);
    const orgKey = c.boxKeyPairFromSeed(h(v.org_seed));
    const serverKey = c.boxKeyPairFromSeed(h(v.server_seed));
    assert.equal(c.hex(orgKey.publicKey), v.org_public_key);
    const a = openAdminShare(orgKey, h(v.admin_share), v.org, v.user, v.epoch);
    const u = openServerShare(serverKey, h(v.server_share), v.org, v.user, v.epoch);
    assert.equal(c.hex(a), v.admin_part);
    assert.equal(c.hex(u), v.server_part);
    assert.equal(c.hex(recoverVaultKey(a, u, h(v.wrapped_vault_key), v.org, v.user, v.epoch)),
      v.vault_key);
    // Bound to org, user and epoch.
    assert.equal(codeOf(() => openAdminShare(orgKey, h(v.admin_share), `${v.org}x`, v.user,
      v.epoch)), "crypto.decrypt_failed");
    assert.equal(codeOf(() => openServerShare(serverKey, h(v.server_share), v.org, v.user,
      other(v.epoch))), "crypto.decrypt_failed");
    assert.equal(codeOf(() => recoverVaultKey(a, u, h(v.wrapped_vault_key), v.org, `${v.user}x`,
      v.epoch)), "crypto.decrypt_failed");
    // An escrow made here opens with the same keys.
    const mine = createEscrow(h(v.vault_key), v.org, v.user, v.epoch, orgKey.publicKey,
      serverKey.publicKey);
    const a2 = openAdminShare(orgKey, mine.adminShare, v.org, v.user, v.epoch);
    const u2 = openServerShare(serverKey, mine.serverShare, v.org, v.user, v.epoch);
    assert.equal(c.hex(recoverVaultKey(a2, u2, mine.wrappedVaultKey, v.org, v.user, v.epoch)),
      v.vault_key);
  }
  for (const v of rows(doc, "reseal", 2)) {
    const newKey = c.boxKeyPairFromSeed(h(v.new_org_seed));
    assert.equal(c.hex(newKey.publicKey), v.new_org_public_key);
    assert.equal(c.hex(openAdminShare(newKey, h(v.resealed_admin_share), v.org, v.user, v.epoch)),
      v.admin_part);
  }
});

test("links (protocol_link.json)", () => {
  const doc = load("protocol_link.json");
  for (const v of rows(doc, "vectors", 2)) {
    const secret = h(v.link_secret);
    assert.equal(c.hex(linkToken(secret)), v.token);
    assert.equal(c.hex(linkKey(secret)), v.link_key);
    assert.equal(c.hex(linkAd(v.request, v.user, v.epoch)), v.ad);
    const made = createLinkWith(secret, h(v.admin_part), v.request, v.user, v.epoch, undefined,
      h(v.nonce));
    assert.equal(c.hex(made.linkedAdminShare), v.linked_admin_share);
    const opened = openLink(secret, h(v.linked_admin_share), v.request, v.user, v.epoch);
    assert.equal(c.hex(opened.adminPart), v.admin_part);
    assert.equal(opened.anchor, undefined);
    assert.equal(buildLinkText(v.public_url, v.request, secret), v.link);
    const parsed = parseLinkText(v.link);
    assert.equal(parsed.publicUrl, v.public_url);
    assert.equal(parsed.requestId, v.request);
    assert.equal(c.hex(parsed.linkSecret), v.link_secret);
    assert.equal(codeOf(() => openLink(secret, h(v.linked_admin_share), v.request, v.user,
      other(v.epoch))), "crypto.decrypt_failed");
  }
  for (const v of rows(doc, "anchored", 2)) {
    const anchor = {
      orgId: v.anchor_org,
      signingPublicKey: h(v.anchor_signing_public_key),
      statementDigest: h(v.anchor_statement_digest),
      version: v.anchor_version,
    };
    assert.equal(c.hex(encodeLinkPlaintext(h(v.admin_part), anchor)), v.plaintext);
    const made = createLinkWith(h(v.link_secret), h(v.admin_part), v.request, v.user, v.epoch,
      anchor, h(v.nonce));
    assert.equal(c.hex(made.linkedAdminShare), v.linked_admin_share);
    const opened = openLink(h(v.link_secret), h(v.linked_admin_share), v.request, v.user, v.epoch);
    assert.equal(c.hex(opened.adminPart), v.admin_part);
    assert.equal(opened.anchor?.orgId, v.anchor_org);
    assert.equal(opened.anchor?.version, v.anchor_version);
    assert.equal(c.hex(opened.anchor!.signingPublicKey), v.anchor_signing_public_key);
  }
  for (const v of rows(doc, "invalid_links", 10)) {
    assert.equal(codeOf(() => parseLinkText(v.link)), v.error, v.link);
  }
});

test("signed organization statements (protocol_statement.json)", () => {
  const doc = load("protocol_statement.json");
  const pinOf = (p: Json) => ({
    orgId: p.org, signingPublicKey: h(p.signing_public_key), version: p.version,
    statementDigest: h(p.statement_digest),
  });
  let pin = pinOf(doc.first_pin);
  for (const v of rows(doc, "chain", 2)) {
    const signer = c.signKeyPairFromSeed(h(v.signer_seed));
    assert.equal(c.hex(signer.publicKey), v.signer_public_key, v.note);
    assert.equal(c.fingerprint(signer.publicKey), v.signer_fingerprint, v.note);
    assert.equal(c.fingerprint(h(v.org_public_key)), v.org_key_fingerprint, v.note);
    const st = {
      orgId: v.org, version: v.version, signingPublicKey: h(v.signing_public_key),
      orgPublicKey: h(v.org_public_key), policyJson: v.policy, notBefore: v.not_before,
    };
    const bytes = encodeOrgStatement(st);
    assert.equal(c.hex(bytes), v.statement, v.note);
    assert.equal(c.hex(c.sign(signer.secretKey, bytes)), v.signature, v.note);
    const verified = verifyOrgStatement({ statement: h(v.statement), signature: h(v.signature) },
      pin, doc.now);
    assert.equal(c.hex(verified.statement.orgPublicKey), v.org_public_key, v.note);
    assert.equal(verified.statement.policyJson, v.policy, v.note);
    const after = pinOf(v.pin_after);
    assert.equal(c.hex(verified.nextPin.signingPublicKey), v.pin_after.signing_public_key);
    assert.equal(verified.nextPin.version, after.version);
    assert.equal(c.hex(verified.nextPin.statementDigest), v.pin_after.statement_digest);
    pin = verified.nextPin;
  }
  for (const v of rows(doc, "refused", 5)) {
    const f = () => verifyOrgStatement({ statement: h(v.statement), signature: h(v.signature) },
      pinOf(v.pin), doc.now);
    assert.equal(codeOf(f), v.error, v.why);
  }
  // Not in canonical form: refused even when signed.
  const first = rows(doc, "chain", 1)[0];
  const signer = c.signKeyPairFromSeed(h(first.signer_seed));
  const padded = c.concat(h(first.statement), Uint8Array.of(0));
  assert.equal(codeOf(() => verifyOrgStatement(
    { statement: padded, signature: c.sign(signer.secretKey, padded) }, pinOf(doc.first_pin),
    doc.now)), "org.statement_malformed");
});

test("TOTP and base32 (totp.json)", async () => {
  const doc = load("totp.json");
  for (const v of rows(doc, "vectors", 18)) {
    assert.equal(BigInt(Math.floor(v.time / 30)).toString(16).toUpperCase().padStart(16, "0"), v.step);
    assert.equal(await totp(h(v.secret), v.time, v.digits, v.algorithm), v.code);
    assert.equal(await totp(h(v.secret), v.time, 6, v.algorithm), v.code.slice(-6));
  }
  for (const v of rows(doc, "base32", 8)) {
    assert.equal(base32(h(v.bytes)), v.base32);
    assert.equal(c.hex(fromBase32(v.base32)), v.bytes);
  }
  for (const v of rows(doc, "base32_lenient", 2)) assert.equal(c.hex(fromBase32(v.input)), v.bytes);
  for (const text of rows(doc, "base32_invalid", 5)) {
    assert.equal(codeOf(() => fromBase32(text as unknown as string)), "crypto.invalid_base32", text as unknown as string);
  }
});

test("device shares (protocol_device_share.json)", () => {
  const doc = load("protocol_device_share.json");
  for (const v of rows(doc, "vectors", 2)) {
    const orgKey = c.boxKeyPairFromSeed(h(v.org_seed));
    const device = c.boxKeyPairFromSeed(h(v.device_seed));
    assert.equal(c.hex(orgKey.publicKey), v.org_public_key);
    assert.equal(c.hex(device.publicKey), v.device_public_key);
    assert.equal(c.hex(deviceShare.header("device-a", v.org, v.user, v.epoch, v.request)),
      v.admin_header);
    // The admin's browser makes the same DA as the C++ client.
    assert.equal(c.hex(deviceShare.boxAdminShare(orgKey, device.publicKey, h(v.admin_part), v.org,
      v.user, v.epoch, v.request, h(v.nonce))), v.device_admin_share);
    assert.equal(c.hex(deviceShare.openAdminShare(device, orgKey.publicKey, h(v.device_admin_share),
      v.org, v.user, v.epoch, v.request)), v.admin_part);
    assert.equal(c.hex(deviceShare.openServerShare(device, h(v.device_server_share), v.org, v.user,
      v.epoch, v.request)), v.server_part);
    // Only as boxed by pk_org, only under its own org, user, epoch and request.
    assert.equal(codeOf(() => deviceShare.openAdminShare(device, c.generateBoxKeyPair().publicKey,
      h(v.device_admin_share), v.org, v.user, v.epoch, v.request)), "crypto.decrypt_failed");
    for (const w of v.wrong as Json[]) {
      assert.equal(codeOf(() => deviceShare.openAdminShare(device, orgKey.publicKey,
        h(v.device_admin_share), w.org, w.user, w.epoch, w.request)), "crypto.decrypt_failed");
      assert.equal(codeOf(() => deviceShare.openServerShare(device, h(v.device_server_share), w.org,
        w.user, w.epoch, w.request)), "crypto.decrypt_failed");
    }
  }
});

test("trusted devices (protocol_trusted_device.json)", () => {
  const doc = load("protocol_trusted_device.json");
  for (const v of rows(doc, "vectors", 2)) {
    const keys = trustedDevice.deriveKeys(h(v.secret));
    assert.equal(c.hex(keys.sign.publicKey), v.sign_public_key);
    assert.equal(c.hex(keys.wrapKey), v.wrap_key);
    assert.equal(c.hex(trustedDevice.wrapVaultKey(keys, h(v.vault_key), v.account, v.device,
      h(v.nonce))), v.wrapped_vault_key);
    assert.equal(c.hex(trustedDevice.unwrapVaultKey(keys, h(v.wrapped_vault_key), v.account,
      v.device)), v.vault_key);
    assert.equal(codeOf(() => trustedDevice.unwrapVaultKey(keys, h(v.wrapped_vault_key),
      `${v.account}x`, v.device)), "device.key_mismatch");
    assert.equal(codeOf(() => trustedDevice.unwrapVaultKey(keys, h(v.wrapped_vault_key), v.account,
      `${v.device}x`)), "device.key_mismatch");
    const message = trustedDevice.loginMessage(v.device, h(v.ticket));
    assert.equal(c.hex(message), v.login_message);
    assert.equal(c.hex(c.sign(keys.sign.secretKey, message)), v.signature);
  }
});
