// src/protocol/statement.h in the browser: an organization's signed
// statements (its recovery key pk_org and policy) verified from the pin this
// browser holds, so a page never seals to a key the server chose.
import * as c from "../crypto/primitives.js";
import { checkCounter, checkId, MAX_COUNTER } from "./binding.js";
import type { OrgPin as LinkAnchor } from "./link.js";

export const STATEMENT_LABEL = "keyward/v1/org-statement";
export const MAX_POLICY_SIZE = 16 * 1024;
export const CLOCK_SKEW_SECONDS = 300;

export interface OrgStatement {
  orgId: string;
  version: number;
  signingPublicKey: Uint8Array;
  orgPublicKey: Uint8Array;
  policyJson: string;
  notBefore: number;
}

export interface SignedOrgStatement {
  statement: Uint8Array;
  signature: Uint8Array;
}

// What a member's browser remembers for an organization (the link anchor
// has the same fields).
export type OrgPin = LinkAnchor;

export interface VerifiedOrgStatement {
  statement: OrgStatement;
  nextPin: OrgPin;
}

function denied(code: string, message: string): c.CryptoError {
  return new c.CryptoError(code, message);
}

function malformed(): c.CryptoError {
  return new c.CryptoError("org.statement_malformed",
    "the organization statement is not in canonical form");
}

function checkPolicy(policy: string): void {
  let ok = c.utf8(policy).length <= MAX_POLICY_SIZE;
  if (ok) {
    try {
      const j = JSON.parse(policy);
      ok = j !== null && typeof j === "object" && !Array.isArray(j);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new c.CryptoError("org.invalid_policy",
      "the policy must be a JSON object of at most 16 KiB");
  }
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

function u64Field(v: bigint): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, 8);
  view.setBigUint64(4, BigInt.asUintN(64, v));
  return out;
}

export function encodeOrgStatement(st: OrgStatement): Uint8Array {
  checkId(st.orgId);
  checkCounter(st.version);
  if (st.signingPublicKey.length !== 32 || st.orgPublicKey.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
  checkPolicy(st.policyJson);
  return c.concat(c.utf8(STATEMENT_LABEL), Uint8Array.of(0), lengthPrefixed(c.utf8(st.orgId)),
    u64Field(BigInt(st.version)), lengthPrefixed(st.signingPublicKey),
    lengthPrefixed(st.orgPublicKey), lengthPrefixed(c.utf8(st.policyJson)),
    u64Field(BigInt(st.notBefore)));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeOrgStatement(bytes: Uint8Array): OrgStatement {
  const label = c.utf8(STATEMENT_LABEL);
  if (bytes.length < label.length + 1 || bytes[label.length] !== 0 ||
      !label.every((b, i) => bytes[i] === b)) {
    throw malformed();
  }
  let at = label.length + 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (): Uint8Array => {
    if (bytes.length - at < 4) throw malformed();
    const n = view.getUint32(at);
    if (bytes.length - at - 4 < n) throw malformed();
    const out = bytes.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return out;
  };
  const u64 = (): bigint => {
    const f = field();
    if (f.length !== 8) throw malformed();
    return new DataView(f.buffer, f.byteOffset, 8).getBigUint64(0);
  };
  let st: OrgStatement;
  try {
    const org = strictUtf8.decode(field());
    const version = u64();
    const signing = field().slice();
    const orgKey = field().slice();
    const policy = strictUtf8.decode(field());
    const notBefore = BigInt.asIntN(64, u64());
    if (at !== bytes.length || version > BigInt(MAX_COUNTER)) throw malformed();
    st = { orgId: org, version: Number(version), signingPublicKey: signing, orgPublicKey: orgKey,
      policyJson: policy, notBefore: Number(notBefore) };
  } catch (e) {
    if (e instanceof c.CryptoError) throw e;
    throw malformed();
  }
  // Decoding accepts exactly what encoding produces.
  let again: Uint8Array;
  try {
    again = encodeOrgStatement(st);
  } catch {
    throw malformed();
  }
  if (again.length !== bytes.length || !again.every((b, i) => bytes[i] === b)) throw malformed();
  return st;
}

export function pinOnFirstUse(orgId: string, signingPublicKey: Uint8Array): OrgPin {
  checkId(orgId);
  if (signingPublicKey.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
  return { orgId, signingPublicKey, version: 0, statementDigest: new Uint8Array(0) };
}

export function verifyOrgStatement(signed: SignedOrgStatement, pin: OrgPin,
  now: number): VerifiedOrgStatement {
  if (pin.signingPublicKey.length !== 32) {
    throw new c.CryptoError("protocol.invalid_public_key", "a public key must be 32 bytes");
  }
  if (signed.signature.length === 0) {
    throw denied("org.statement_unsigned", "the organization statement is not signed");
  }
  if (!c.verify(pin.signingPublicKey, signed.statement, signed.signature)) {
    throw denied("org.signature_invalid",
      "the organization statement is not signed by the pinned signing key");
  }
  const st = decodeOrgStatement(signed.statement);
  if (st.orgId !== pin.orgId) {
    throw denied("org.wrong_org", "the statement is for another organization");
  }
  const digest = c.hash(new Uint8Array(0), signed.statement);
  if (st.version < pin.version) {
    throw denied("org.statement_rollback",
      "the statement is older than the last one accepted (rollback)");
  }
  if (st.version === pin.version && !c.constantTimeEqual(digest, pin.statementDigest)) {
    throw denied("org.statement_conflict",
      "another statement with the same version was accepted before");
  }
  if (st.notBefore > now && st.notBefore - now > CLOCK_SKEW_SECONDS) {
    throw denied("org.statement_not_yet_valid", "the statement is not valid yet");
  }
  return {
    statement: st,
    nextPin: { orgId: pin.orgId, signingPublicKey: st.signingPublicKey, version: st.version,
      statementDigest: digest },
  };
}

export function verifyOrgStatementChain(chain: SignedOrgStatement[], pin: OrgPin,
  now: number): VerifiedOrgStatement {
  if (chain.length === 0) throw denied("org.statement_unsigned", "no organization statement");
  let verified = verifyOrgStatement(chain[0], pin, now);
  for (let i = 1; i < chain.length; i++) verified = verifyOrgStatement(chain[i], verified.nextPin, now);
  return verified;
}

// A statement as the server serves it (docs/api.md "Statement").
export interface WireStatement {
  version: number;
  statement: string; // base64url
  signature: string; // base64url
}

export function decodeWireStatements(wire: WireStatement[]): (SignedOrgStatement & { version: number })[] {
  return wire.map((s) => ({ version: s.version, statement: c.fromBase64url(s.statement),
    signature: c.fromBase64url(s.signature) })).sort((a, b) => a.version - b.version);
}

// client/org_json.h VerifyStatements in the browser: the chain verified
// from `pin` (the statements at or after its version), or with none from
// the first statement's signing key — which the member confirmed by its
// fingerprint beforehand — then the newest verified pk_org must be
// `offered` (org.key_mismatch).
export function verifyOffered(orgId: string, chain: (SignedOrgStatement & { version: number })[],
  pin: OrgPin | undefined, offered: Uint8Array, now: number): VerifiedOrgStatement {
  let from = pin;
  if (!from) {
    const first = chain.find((s) => s.version === 1);
    if (!first) throw denied("org.statement_unsigned", "The server sent no first statement of the organization.");
    from = pinOnFirstUse(orgId, decodeOrgStatement(first.statement).signingPublicKey);
  }
  const start = from.version;
  const verified = verifyOrgStatementChain(chain.filter((s) => s.version >= start), from, now);
  if (!c.constantTimeEqual(verified.statement.orgPublicKey, offered)) {
    throw denied("org.key_mismatch",
      "The organization key offered differs from the signed one; nothing was changed.");
  }
  return verified;
}
