// src/protocol/link.h in the browser: recovery links.
// T = Sub(L, 1, "KWlink__"), KL = Sub(L, 2, "KWlink__");
// LA = Enc(KL, A [‖ anchor], linkAd); link = public_url "/recover/" id "#" b64url(L).
import * as c from "../crypto/primitives.js";
import { checkCounter, checkId, isValidId, linkAd, MAX_COUNTER } from "./binding.js";

export const RECOVER_PATH = "/recover/";
export const MAX_LINK_SIZE = 2048;
const ANCHOR_FIXED = 32 + 32 + 8;

// The approving admin's pin of the organization, carried inside LA.
export interface OrgPin {
  orgId: string;
  signingPublicKey: Uint8Array;
  statementDigest: Uint8Array;
  version: number;
}

export interface ApprovedLink {
  linkSecret: Uint8Array; // L
  token: Uint8Array; // T
  linkedAdminShare: Uint8Array; // LA
}

export function linkToken(linkSecret: Uint8Array): Uint8Array {
  return c.sub(linkSecret, 1, "KWlink__");
}

export function linkKey(linkSecret: Uint8Array): Uint8Array {
  return c.sub(linkSecret, 2, "KWlink__");
}

export function encodeLinkPlaintext(adminPart: Uint8Array, anchor?: OrgPin): Uint8Array {
  if (!anchor) return adminPart.slice();
  checkId(anchor.orgId);
  checkCounter(anchor.version);
  if (anchor.signingPublicKey.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
  if (anchor.statementDigest.length !== 32) {
    throw new c.CryptoError("link.invalid_anchor",
      "the organization anchor needs a 32-byte statement digest");
  }
  const version = new Uint8Array(8);
  new DataView(version.buffer).setBigUint64(0, BigInt(anchor.version));
  return c.concat(adminPart, anchor.signingPublicKey, anchor.statementDigest, version,
    c.utf8(anchor.orgId));
}

// With a given link secret (known-answer tests); createLink draws one.
export function createLinkWith(linkSecret: Uint8Array, adminPart: Uint8Array, request: string,
  user: string, epoch: number, anchor?: OrgPin, nonce?: Uint8Array): ApprovedLink {
  checkId(request);
  checkId(user);
  checkCounter(epoch);
  const plain = encodeLinkPlaintext(adminPart, anchor);
  const kl = linkKey(linkSecret);
  try {
    const la = nonce
      ? c.encryptWithNonce(kl, nonce, plain, linkAd(request, user, epoch))
      : c.encrypt(kl, plain, linkAd(request, user, epoch));
    return { linkSecret, token: linkToken(linkSecret), linkedAdminShare: la };
  } finally {
    c.wipe(kl);
    c.wipe(plain);
  }
}

export function createLink(adminPart: Uint8Array, request: string, user: string, epoch: number,
  anchor?: OrgPin): ApprovedLink {
  return createLinkWith(c.randomBytes(32), adminPart, request, user, epoch, anchor);
}

export interface OpenedLink {
  adminPart: Uint8Array;
  anchor?: OrgPin;
}

export function openLink(linkSecret: Uint8Array, linkedAdminShare: Uint8Array, request: string,
  user: string, epoch: number): OpenedLink {
  checkId(request);
  checkId(user);
  checkCounter(epoch);
  const kl = linkKey(linkSecret);
  let plain: Uint8Array;
  try {
    plain = c.decrypt(kl, linkedAdminShare, linkAd(request, user, epoch));
  } finally {
    c.wipe(kl);
  }
  if (plain.length < 32) throw c.decryptFailed();
  const adminPart = plain.slice(0, 32);
  if (plain.length === 32) return { adminPart };
  if (plain.length <= 32 + ANCHOR_FIXED) throw c.decryptFailed();
  const rest = plain.subarray(32);
  const version = Number(new DataView(rest.buffer, rest.byteOffset + 64, 8).getBigUint64(0));
  const orgId = new TextDecoder().decode(rest.subarray(72));
  if (!isValidId(orgId) || version < 1 || version > MAX_COUNTER) throw c.decryptFailed();
  return {
    adminPart,
    anchor: {
      orgId,
      signingPublicKey: rest.slice(0, 32),
      statementDigest: rest.slice(32, 64),
      version,
    },
  };
}

function validPublicUrl(url: string): boolean {
  let rest: string;
  if (url.startsWith("https://")) rest = url.slice(8);
  else if (url.startsWith("http://")) rest = url.slice(7);
  else return false;
  if (rest === "" || rest.startsWith("/") || url.endsWith("/")) return false;
  for (const ch of url) {
    const u = ch.codePointAt(0)!;
    if (u <= 0x20 || u >= 0x7f || ch === "?" || ch === "#" || ch === "\\") return false;
  }
  return true;
}

export function buildLinkText(publicUrl: string, request: string, linkSecret: Uint8Array): string {
  if (!validPublicUrl(publicUrl)) {
    throw new c.CryptoError("link.invalid_public_url",
      "the public URL must be http(s)://host[...] without a trailing '/', query or fragment");
  }
  checkId(request);
  return `${publicUrl}${RECOVER_PATH}${request}#${c.base64url(linkSecret)}`;
}

export interface RecoveryLink {
  publicUrl: string;
  requestId: string;
  linkSecret: Uint8Array;
}

export function parseLinkText(text: string): RecoveryLink {
  const bad = (what: string) => new c.CryptoError("link.malformed", `malformed recovery link: ${what}`);
  if (text.length > MAX_LINK_SIZE) throw bad("too long");
  const hash = text.indexOf("#");
  if (hash < 0) throw bad("no fragment");
  const fragment = text.slice(hash + 1);
  const location = text.slice(0, hash);
  if (fragment.includes("#")) throw bad("two fragments");
  const recover = location.lastIndexOf(RECOVER_PATH);
  if (recover < 0) throw bad("no /recover/ path");
  const publicUrl = location.slice(0, recover);
  const requestId = location.slice(recover + RECOVER_PATH.length);
  if (!validPublicUrl(publicUrl)) throw bad("server address");
  if (!isValidId(requestId)) throw bad("request id");
  let secret: Uint8Array;
  try {
    secret = c.fromBase64url(fragment);
  } catch {
    throw bad("link secret");
  }
  if (secret.length !== 32) throw bad("link secret");
  return { publicUrl, requestId, linkSecret: secret };
}
