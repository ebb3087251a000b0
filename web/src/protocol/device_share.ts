// src/protocol/device_share.h in the browser: a new device's request
// (docs/protocol.md "Device requests"). The approving admin boxes A from
// the organization's recovery key to the device's public key:
//   DA = nonce ‖ Box(pk_dev, sk_org, hdr("device-a", org, user, e) ‖ request ‖ 0 ‖ A)
// The device opens DA only as boxed by the pk_org it verified, and DU (U
// sealed by the server) with its own key.
import * as c from "../crypto/primitives.js";
import { checkCounter, checkId, openWithHeader, sealedHeader } from "./binding.js";

export const ADMIN_LABEL = "device-a";
export const SERVER_LABEL = "device-u";

// hdr(label, org, user, epoch) ‖ request ‖ 0x00.
export function header(label: string, org: string, user: string, epoch: number,
  request: string): Uint8Array {
  checkId(org);
  checkId(user);
  checkCounter(epoch);
  checkId(request);
  return c.concat(sealedHeader(label, org, user, epoch), c.utf8(request), new Uint8Array([0]));
}

function checkPublicKey(key: Uint8Array): void {
  if (key.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
}

// The admin's browser: A boxed from sk_org to pk_dev (a random nonce
// unless one is given, for the known answers).
export function boxAdminShare(orgKey: c.BoxKeyPair, devicePublicKey: Uint8Array,
  adminPart: Uint8Array, org: string, user: string, epoch: number, request: string,
  nonce?: Uint8Array): Uint8Array {
  checkPublicKey(devicePublicKey);
  const plain = c.concat(header(ADMIN_LABEL, org, user, epoch, request), adminPart);
  try {
    return nonce
      ? c.boxWithNonce(devicePublicKey, orgKey.secretKey, nonce, plain)
      : c.box(devicePublicKey, orgKey.secretKey, plain);
  } finally {
    c.wipe(plain);
  }
}

// The device: A from DA, boxed by `orgPublicKey` for this device,
// organization, user, epoch and request; anything else is
// crypto.decrypt_failed.
export function openAdminShare(deviceKey: c.BoxKeyPair, orgPublicKey: Uint8Array,
  deviceAdminShare: Uint8Array, org: string, user: string, epoch: number,
  request: string): Uint8Array {
  checkPublicKey(orgPublicKey);
  const expected = header(ADMIN_LABEL, org, user, epoch, request);
  const plain = c.boxOpen(orgPublicKey, deviceKey.secretKey, deviceAdminShare);
  try {
    if (plain.length !== expected.length + 32) throw c.decryptFailed();
    for (let i = 0; i < expected.length; i++) {
      if (plain[i] !== expected[i]) throw c.decryptFailed();
    }
    return plain.slice(expected.length);
  } finally {
    c.wipe(plain);
  }
}

// The device: U from DU (sealed by the server to pk_dev).
export function openServerShare(deviceKey: c.BoxKeyPair, deviceServerShare: Uint8Array,
  org: string, user: string, epoch: number, request: string): Uint8Array {
  return openWithHeader(deviceKey, deviceServerShare, header(SERVER_LABEL, org, user, epoch, request),
    32);
}
