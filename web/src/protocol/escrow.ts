// src/protocol/escrow.h in the browser: dual-control escrow of the vault key.
// W = Enc(E, UK, escrowAd); SA = Seal(pk_org, hdr("share-a") ‖ A);
// SU = Seal(pk_srv, hdr("share-u") ‖ U) with U = E xor A.
import * as c from "../crypto/primitives.js";
import { checkCounter, checkId, escrowAd, openWithHeader, sealedHeader, sealWithHeader } from "./binding.js";

export interface Escrow {
  epoch: number;
  wrappedVaultKey: Uint8Array;
  adminShare: Uint8Array;
  serverShare: Uint8Array;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function check(org: string, user: string, epoch: number): void {
  checkId(org);
  checkId(user);
  checkCounter(epoch);
}

// Draws E and A; the secrets are wiped before returning.
export function createEscrow(vaultKey: Uint8Array, org: string, user: string, epoch: number,
  orgPublicKey: Uint8Array, serverPublicKey: Uint8Array): Escrow {
  check(org, user, epoch);
  if (orgPublicKey.length !== 32 || serverPublicKey.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
  const e = c.randomBytes(32);
  const a = c.randomBytes(32);
  const u = xor(e, a);
  try {
    return {
      epoch,
      wrappedVaultKey: c.encrypt(e, vaultKey, escrowAd(org, user, epoch)),
      adminShare: sealWithHeader(orgPublicKey, sealedHeader("share-a", org, user, epoch), a),
      serverShare: sealWithHeader(serverPublicKey, sealedHeader("share-u", org, user, epoch), u),
    };
  } finally {
    c.wipe(e);
    c.wipe(a);
    c.wipe(u);
  }
}

export function openAdminShare(orgKey: c.BoxKeyPair, sealed: Uint8Array, org: string,
  user: string, epoch: number): Uint8Array {
  check(org, user, epoch);
  return openWithHeader(orgKey, sealed, sealedHeader("share-a", org, user, epoch), 32);
}

export function openServerShare(serverKey: c.BoxKeyPair, sealed: Uint8Array, org: string,
  user: string, epoch: number): Uint8Array {
  check(org, user, epoch);
  return openWithHeader(serverKey, sealed, sealedHeader("share-u", org, user, epoch), 32);
}

// UK = Dec(A xor U, W).
export function recoverVaultKey(adminPart: Uint8Array, serverPart: Uint8Array,
  wrapped: Uint8Array, org: string, user: string, epoch: number): Uint8Array {
  check(org, user, epoch);
  const e = xor(adminPart, serverPart);
  try {
    const uk = c.decrypt(e, wrapped, escrowAd(org, user, epoch));
    if (uk.length !== 32) throw c.decryptFailed();
    return uk;
  } finally {
    c.wipe(e);
  }
}

// Key rotation: the same A, with the same header, sealed to the new pk_org.
export function resealAdminShare(oldOrgKey: c.BoxKeyPair, sealed: Uint8Array,
  newOrgPublicKey: Uint8Array, org: string, user: string, epoch: number): Uint8Array {
  const a = openAdminShare(oldOrgKey, sealed, org, user, epoch);
  try {
    return sealWithHeader(newOrgPublicKey, sealedHeader("share-a", org, user, epoch), a);
  } finally {
    c.wipe(a);
  }
}
