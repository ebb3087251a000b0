// src/protocol/pairing.h in the browser: device pairing (docs/protocol.md
// "Device pairing"). A signed-in device A shows a 6-digit code, the new
// device B types it, and the two run CPace (crypto/cpace.ts) through the
// server, which relays group elements only.
//
//   CI   = lv_cat("keyward/v1/pair", account_id, shown_device_id, joining_device_id)
//   sid  = 16 random bytes drawn by A (also the pairing's id on the server)
//   ADa  = "keyward/v1/pair/a"; ADb = lv_cat("keyward/v1/pair/b", name, type)
//   ISK  = CPace ISK (initiator A, responder B)
//   Kb   = HMAC-SHA-512(ISK, "keyward/v1/pair/confirm-b"), Tb = HMAC-SHA-512(Kb, transcript)
//   Ka   = HMAC-SHA-512(ISK, "keyward/v1/pair/confirm-a"), Ta = HMAC-SHA-512(Ka, transcript)
//   Kp   = HMAC-SHA-512(ISK, "keyward/v1/pair/payload")[0..32)
//   P    = Enc(Kp, 0x01 ‖ UK, Ad("keyward/v1/pair/payload", account_id, joining_device_id,
//              base64url(sid)))
//
// A sends Ya; B answers Yb and Tb; A checks Tb, asks its user, then sends
// Ta and P; B checks Ta before it opens P. Each side is one-shot: after any
// failure (or its last step) every further call is "pair.closed".
import * as c from "../crypto/primitives.js";
import * as cpace from "../crypto/cpace.js";
import { checkId } from "./binding.js";

export const SID_SIZE = 16;
export const CODE_DIGITS = 6;
export const CONFIRMATION_SIZE = 64;
export const MAX_DEVICE_NAME_SIZE = 64;
export const VAULT_KEY_SIZE = 32;

const CHANNEL_LABEL = "keyward/v1/pair";
const AD_A = c.utf8("keyward/v1/pair/a");
const AD_B = "keyward/v1/pair/b";
const CONFIRM_A = "keyward/v1/pair/confirm-a";
const CONFIRM_B = "keyward/v1/pair/confirm-b";
const PAYLOAD_LABEL = "keyward/v1/pair/payload";
const PAYLOAD_VERSION = 1;

// What both sides must agree on; CI is built from it.
export interface PairingIds {
  accountId: string;
  sid: Uint8Array; // SID_SIZE
  shownDeviceId: string; // A, the signed-in device
  joiningDeviceId: string; // B, drawn by A when it starts
}

// The new device's own description, bound into ADb (the C++ default type
// is "cli").
export interface JoiningDevice {
  name: string;
  type: string;
}

// A's step 3: what travels to B once its user said yes.
export interface Release {
  confirmation: Uint8Array; // Ta
  payload: Uint8Array; // P
}

function wrongCode(): c.CryptoError {
  return new c.CryptoError("pair.wrong_code",
    "the pairing code did not match; this pairing is closed, start a new one");
}

function spent(): c.CryptoError {
  return new c.CryptoError("pair.closed", "this pairing is closed; start a new one for another try");
}

function badCode(): c.CryptoError {
  return new c.CryptoError("pair.bad_code", "the pairing code is six digits");
}

function checkIds(ids: PairingIds): void {
  checkId(ids.accountId);
  checkId(ids.shownDeviceId);
  checkId(ids.joiningDeviceId);
  if (ids.sid.length !== SID_SIZE) {
    throw new c.CryptoError("pair.bad_session", "the pairing session id is malformed");
  }
}

function checkDevice(device: JoiningDevice): void {
  const name = c.utf8(device.name).length;
  const type = c.utf8(device.type).length;
  if (name === 0 || name > MAX_DEVICE_NAME_SIZE || type === 0 || type > MAX_DEVICE_NAME_SIZE) {
    throw new c.CryptoError("pair.bad_device", "the device name and type must be 1-64 bytes");
  }
}

function copyIds(ids: PairingIds): PairingIds {
  return {
    accountId: ids.accountId,
    sid: ids.sid.slice(),
    shownDeviceId: ids.shownDeviceId,
    joiningDeviceId: ids.joiningDeviceId,
  };
}

function keyFrom(isk: Uint8Array, label: string): Uint8Array {
  return c.hmacSha512(isk, c.utf8(label));
}

function confirmation(isk: Uint8Array, label: string, transcript: Uint8Array): Uint8Array {
  const key = keyFrom(isk, label);
  try {
    return c.hmacSha512(key, transcript);
  } finally {
    c.wipe(key);
  }
}

function payloadKey(isk: Uint8Array): Uint8Array {
  const full = keyFrom(isk, PAYLOAD_LABEL);
  const key = full.slice(0, 32);
  c.wipe(full);
  return key;
}

function payloadAd(ids: PairingIds): Uint8Array {
  return c.ad(PAYLOAD_LABEL, ids.accountId, ids.joiningDeviceId, c.base64url(ids.sid));
}

// The code as typed ("123 456", "123-456" or "123456") → its six ASCII
// digits (secret: wipe it); anything else is "pair.bad_code" (refused
// before it costs the one guess).
export function normalizeCode(typed: string): Uint8Array {
  const digits = new Uint8Array(CODE_DIGITS);
  let n = 0;
  let bad = false;
  for (let i = 0; i < typed.length; i++) {
    const ch = typed.charCodeAt(i);
    if (ch === 0x20 || ch === 0x2d) continue; // ' ', '-'
    if (ch < 0x30 || ch > 0x39 || n === CODE_DIGITS) {
      bad = true;
      break;
    }
    digits[n++] = ch;
  }
  if (bad || n !== CODE_DIGITS) {
    c.wipe(digits);
    throw badCode();
  }
  return digits;
}

export function channelIdentifier(ids: PairingIds): Uint8Array {
  return cpace.lvCat(c.utf8(CHANNEL_LABEL), c.utf8(ids.accountId), c.utf8(ids.shownDeviceId),
    c.utf8(ids.joiningDeviceId));
}

export function joiningAd(device: JoiningDevice): Uint8Array {
  return cpace.lvCat(c.utf8(AD_B), c.utf8(device.name), c.utf8(device.type));
}

// Side A: the signed-in device that shows the code.
export class ShowingSide {
  private readonly ids_: PairingIds;
  private readonly scalar: Uint8Array;
  private readonly ya: Uint8Array;
  private isk?: Uint8Array;
  private transcript?: Uint8Array;
  private spent = false;

  private constructor(ids: PairingIds, share: cpace.Share) {
    this.ids_ = ids;
    this.scalar = share.scalar;
    this.ya = share.point;
  }

  // Draws ya; `code` is the six ASCII digits shown to the user (the caller
  // draws them). protocol.invalid_id, pair.bad_session, pair.bad_code.
  static start(ids: PairingIds, code: Uint8Array): ShowingSide {
    checkIds(ids);
    if (code.length !== CODE_DIGITS) throw new c.CryptoError("pair.bad_code", "bad code");
    const own = copyIds(ids);
    return new ShowingSide(own, cpace.makeShare(code, channelIdentifier(own), own.sid));
  }

  // Ya, sent to B.
  get message(): Uint8Array {
    return this.ya;
  }

  get ids(): PairingIds {
    return this.ids_;
  }

  // B's answer. "pair.bad_point" for an invalid, identity or reflected
  // point; "pair.wrong_code" when Tb does not verify (a wrong code, or a
  // relay that changed something); "pair.bad_device" for a name or type
  // not of 1-64 bytes. Either way this side is spent.
  check(yb: Uint8Array, device: JoiningDevice, tb: Uint8Array): void {
    if (this.spent || this.isk) throw spent();
    this.spent = true; // one answer per code, whatever it holds
    try {
      checkDevice(device);
      if (c.constantTimeEqual(yb, this.ya)) {
        throw new c.CryptoError("pair.bad_point",
          "the other device sent an invalid pairing message");
      }
      const k = cpace.sharedPoint(this.scalar, yb);
      const transcript = cpace.transcriptIr(this.ya, AD_A, yb, joiningAd(device));
      const isk = cpace.isk(this.ids_.sid, k, transcript);
      c.wipe(k);
      const expected = confirmation(isk, CONFIRM_B, transcript);
      if (tb.length !== CONFIRMATION_SIZE || !c.constantTimeEqual(tb, expected)) {
        c.wipe(isk);
        throw wrongCode();
      }
      this.isk = isk;
      this.transcript = transcript;
      this.spent = false; // seal may follow, once
    } finally {
      c.wipe(this.scalar); // never needed again: check runs once
    }
  }

  // After a successful check only: Ta and P, the vault key (32 bytes) for B.
  seal(vaultKey: Uint8Array): Release {
    if (this.spent || !this.isk || !this.transcript) throw spent();
    if (vaultKey.length !== VAULT_KEY_SIZE) throw new Error("pairing.seal: the vault key is 32 bytes");
    this.spent = true;
    const isk = this.isk;
    this.isk = undefined;
    const plain = c.concat(Uint8Array.of(PAYLOAD_VERSION), vaultKey);
    const kp = payloadKey(isk);
    try {
      return {
        confirmation: confirmation(isk, CONFIRM_A, this.transcript),
        payload: c.encrypt(kp, plain, payloadAd(this.ids_)),
      };
    } finally {
      c.wipe(plain);
      c.wipe(kp);
      c.wipe(isk);
    }
  }
}

// Side B: the new device that typed the code.
export class JoiningSide {
  private readonly ids: PairingIds;
  private readonly device_: JoiningDevice;
  private readonly yb: Uint8Array;
  private readonly tb: Uint8Array;
  private readonly isk: Uint8Array;
  private readonly transcript: Uint8Array;
  private spent = false;

  private constructor(ids: PairingIds, device: JoiningDevice, yb: Uint8Array, tb: Uint8Array,
    isk: Uint8Array, transcript: Uint8Array) {
    this.ids = ids;
    this.device_ = device;
    this.yb = yb;
    this.tb = tb;
    this.isk = isk;
    this.transcript = transcript;
  }

  // Computes Yb, ISK and Tb from A's Ya; `code` as normalizeCode returns it.
  // protocol.invalid_id, pair.bad_session, pair.bad_device, pair.bad_code;
  // "pair.bad_point" for an invalid or identity Ya.
  static answer(ids: PairingIds, code: Uint8Array, device: JoiningDevice,
    ya: Uint8Array): JoiningSide {
    checkIds(ids);
    checkDevice(device);
    if (code.length !== CODE_DIGITS) throw new c.CryptoError("pair.bad_code", "bad code");
    const own = copyIds(ids);
    const share = cpace.makeShare(code, channelIdentifier(own), own.sid);
    let k: Uint8Array;
    try {
      k = cpace.sharedPoint(share.scalar, ya);
    } finally {
      c.wipe(share.scalar);
    }
    const ownDevice = { name: device.name, type: device.type };
    const transcript = cpace.transcriptIr(ya, AD_A, share.point, joiningAd(ownDevice));
    const isk = cpace.isk(own.sid, k, transcript);
    c.wipe(k);
    const tb = confirmation(isk, CONFIRM_B, transcript);
    return new JoiningSide(own, ownDevice, share.point, tb, isk, transcript);
  }

  // Yb, sent to A.
  get message(): Uint8Array {
    return this.yb;
  }

  // Tb, sent to A.
  get confirmation(): Uint8Array {
    return this.tb;
  }

  get device(): JoiningDevice {
    return this.device_;
  }

  // A's release: checks Ta ("pair.wrong_code" when it does not verify),
  // then opens P ("pair.bad_payload"): the vault key, 32 bytes (wipe it).
  // Spent afterwards, whatever the outcome.
  receive(release: Release): Uint8Array {
    if (this.spent) throw spent();
    this.spent = true;
    try {
      const expected = confirmation(this.isk, CONFIRM_A, this.transcript);
      if (release.confirmation.length !== CONFIRMATION_SIZE ||
        !c.constantTimeEqual(release.confirmation, expected)) {
        throw wrongCode();
      }
      const kp = payloadKey(this.isk);
      let plain: Uint8Array | undefined;
      try {
        plain = c.decrypt(kp, release.payload, payloadAd(this.ids));
      } catch {
        plain = undefined;
      } finally {
        c.wipe(kp);
      }
      if (!plain || plain.length !== 1 + VAULT_KEY_SIZE || plain[0] !== PAYLOAD_VERSION) {
        if (plain) c.wipe(plain);
        throw new c.CryptoError("pair.bad_payload",
          "the signed-in device's answer could not be opened");
      }
      const uk = plain.slice(1);
      c.wipe(plain);
      return uk;
    } finally {
      c.wipe(this.isk); // never needed again: receive runs once
    }
  }
}
