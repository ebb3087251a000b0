// src/protocol/grant.h in the browser: the organization's recovery key
// (and, for owners and admins, its signing key) sealed to one admin, bound
// to the organization, the admin and the key version. The page checks the
// opened key against the key of the verified signed statement, never
// against what the server lists.
import * as c from "../crypto/primitives.js";
import { checkCounter, checkId, openWithHeader, sealedHeader, sealWithHeader } from "./binding.js";

function check(org: string, admin: string, keyVersion: number): void {
  checkId(org);
  checkId(admin);
  checkCounter(keyVersion);
}

function checkPublicKey(key: Uint8Array): void {
  if (key.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
}

function mismatch(): c.CryptoError {
  return new c.CryptoError("org.grant_key_mismatch",
    "the granted key does not match the organization key");
}

// A box key pair checked by use: a box sealed to pk opens with (pk, sk)
// only when sk is pk's secret key.
export function boxPairMatches(pair: c.BoxKeyPair): boolean {
  const probe = c.utf8("keyward");
  try {
    const opened = c.open(pair.publicKey, pair.secretKey, c.seal(pair.publicKey, probe));
    return c.constantTimeEqual(opened, probe);
  } catch {
    return false;
  }
}

export function createGrant(adminPublicKey: Uint8Array, orgKey: c.BoxKeyPair, org: string,
  admin: string, keyVersion: number): Uint8Array {
  check(org, admin, keyVersion);
  checkPublicKey(adminPublicKey);
  return sealWithHeader(adminPublicKey, sealedHeader("grant", org, admin, keyVersion),
    orgKey.secretKey);
}

// sk_org from a grant, paired with pk_org from the verified statement.
export function openGrant(adminKey: c.BoxKeyPair, grant: Uint8Array, org: string, admin: string,
  keyVersion: number, orgPublicKey: Uint8Array): c.BoxKeyPair {
  check(org, admin, keyVersion);
  checkPublicKey(orgPublicKey);
  const secretKey = openWithHeader(adminKey, grant, sealedHeader("grant", org, admin, keyVersion), 32);
  const pair = { publicKey: orgPublicKey.slice(), secretKey };
  if (!boxPairMatches(pair)) {
    c.wipe(secretKey);
    throw mismatch();
  }
  return pair;
}

export function createSigningGrant(adminPublicKey: Uint8Array, signingKey: c.SignKeyPair,
  org: string, admin: string, keyVersion: number): Uint8Array {
  check(org, admin, keyVersion);
  checkPublicKey(adminPublicKey);
  return sealWithHeader(adminPublicKey, sealedHeader("sign-grant", org, admin, keyVersion),
    signingKey.secretKey.subarray(0, 32));
}

// The organization's signing key from a signing grant; its public half
// must be the verified statement's signing key.
export function openSigningGrant(adminKey: c.BoxKeyPair, grant: Uint8Array, org: string,
  admin: string, keyVersion: number, signingPublicKey: Uint8Array): c.SignKeyPair {
  check(org, admin, keyVersion);
  checkPublicKey(signingPublicKey);
  const seed = openWithHeader(adminKey, grant, sealedHeader("sign-grant", org, admin, keyVersion), 32);
  try {
    const pair = c.signKeyPairFromSeed(seed);
    if (!c.constantTimeEqual(pair.publicKey, signingPublicKey)) {
      c.wipe(pair.secretKey);
      throw mismatch();
    }
    return pair;
  } finally {
    c.wipe(seed);
  }
}
