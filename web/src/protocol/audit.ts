// src/protocol/audit_chain.h in the browser: the verifiable audit log of an
// organization (docs/protocol.md "Audit log chain (src/protocol/audit_chain)").
// The event type and its rules, its canonical bytes (version 1), the hash
// chain h_i = BLAKE2b-256(key = 32 zero bytes, h_{i-1} ‖ canonical(event_i)),
// verification naming the first broken link, the consistency check against a
// remembered head, and the JSON Lines export with its strict import.
import * as c from "../crypto/primitives.js";
import { member, parseJsonStrict, type JsonValue } from "./policy.js";

// Event types named by docs/protocol.md; any well-formed dotted type verifies.
export const EventType = {
  recoveryEnrolled: "recovery.enrolled",
  recoveryWithdrew: "recovery.withdrew",
  passwordResetByRecovery: "account.password_reset_by_recovery",
  temporaryPasswordUpdated: "account.temporary_password_updated",
  login: "auth.login",
  loginFailed: "auth.login_failed",
  roleChanged: "org.role_changed",
  policyChanged: "org.policy_changed",
  keyGranted: "org.key_granted",
  keyRotated: "org.key_rotated",
  memberRemoved: "org.member_removed",
  deviceRemoved: "device.removed",
} as const;

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER; // 2^53 - 1
export const MAX_ID_LENGTH = 128;
export const MAX_TYPE_LENGTH = 64;
export const MAX_DETAILS = 32;
export const MAX_DETAIL_KEY_LENGTH = 64;
export const MAX_DETAIL_VALUE_LENGTH = 1024;
export const DIGEST_SIZE = 32;
const CANONICAL_VERSION = 0x01;
const MAX_LINE_LENGTH = 64 * 1024;
// H(0, ...): keyed with 32 zero bytes, which is not unkeyed BLAKE2b-256.
const CHAIN_KEY = new Uint8Array(32);

// One security event of one organization. No field ever holds a secret.
export interface Event {
  seq: number; // 1, 2, 3, ... per organization, without gaps
  orgId: string; // required
  type: string; // dotted, e.g. "recovery.enrolled"
  actorId: string; // "" = the server itself
  targetId: string; // may be ""
  deviceId: string; // may be ""
  time: number; // unix seconds, informational
  details: ReadonlyMap<string, string>; // written in ascending byte order of key
}

// The chain state after event `seq`; genesis() before the first.
export interface Head {
  seq: number;
  hash: Uint8Array; // DIGEST_SIZE
}

// One exported line: the event and its stored chain hash.
export interface AuditRecord {
  event: Event;
  hash: Uint8Array;
}

export function genesis(): Head {
  return { seq: 0, hash: new Uint8Array(DIGEST_SIZE) };
}

// ---- field rules ----

function isIdChar(ch: string): boolean {
  return /^[A-Za-z0-9_.:-]$/.test(ch);
}

function isValidId(id: string, required: boolean): boolean {
  if (id.length === 0) return !required;
  return id.length <= MAX_ID_LENGTH && [...id].every(isIdChar);
}

function isValidType(type: string): boolean {
  if (type.length < 3 || type.length > MAX_TYPE_LENGTH) return false;
  const labels = type.split(".");
  return labels.length >= 2 && labels.every((l) => /^[a-z][a-z0-9_]*$/.test(l));
}

function isValidDetailKey(key: string): boolean {
  return key.length >= 1 && key.length <= MAX_DETAIL_KEY_LENGTH && /^[a-z0-9_.]*$/.test(key);
}

// Well-formed (no lone surrogate: what would not be UTF-8) without C0
// controls or DEL, at most 1024 bytes of UTF-8.
function isValidDetailValue(value: string): boolean {
  if (typeof value !== "string" || c.utf8(value).length > MAX_DETAIL_VALUE_LENGTH) return false;
  for (const ch of value) {
    const u = ch.codePointAt(0)!;
    if (u < 0x20 || u === 0x7f || (u >= 0xd800 && u <= 0xdfff)) return false;
  }
  return true;
}

function isCounter(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_SAFE_INTEGER;
}

// The first field that breaks a rule of validate, if any.
function badField(e: Event): string | undefined {
  if (!isCounter(e.seq) || e.seq < 1) return "seq";
  if (typeof e.orgId !== "string" || !isValidId(e.orgId, true)) return "org_id";
  if (typeof e.type !== "string" || !isValidType(e.type)) return "type";
  if (typeof e.actorId !== "string" || !isValidId(e.actorId, false)) return "actor_id";
  if (typeof e.targetId !== "string" || !isValidId(e.targetId, false)) return "target_id";
  if (typeof e.deviceId !== "string" || !isValidId(e.deviceId, false)) return "device_id";
  if (!isCounter(e.time)) return "time";
  if (e.details.size > MAX_DETAILS) return "details";
  for (const [key, value] of e.details) {
    if (!isValidDetailKey(key) || !isValidDetailValue(value)) return "details";
  }
  return undefined;
}

function fieldMessage(field: string): string {
  return `the field '${field}' is not valid`;
}

function invalidEvent(field: string): c.CryptoError {
  return new c.CryptoError("events.invalid_event", `The event is not valid: ${fieldMessage(field)}.`);
}

function invalidExport(message: string): c.CryptoError {
  return new c.CryptoError("events.invalid_export", message);
}

function broken(seq: number, why: string): c.CryptoError {
  return new c.CryptoError("events.chain_broken", `event ${seq}: ${why}`);
}

function rewritten(message: string): c.CryptoError {
  return new c.CryptoError("events.chain_rewritten", message);
}

// events.invalid_event naming the first field that breaks a rule.
export function validate(event: Event): void {
  const field = badField(event);
  if (field) throw invalidEvent(field);
}

// ---- canonical bytes ----

// Ascending byte order of UTF-8 (std::map<std::string> order): code point
// order, which is not UTF-16 order beyond the BMP.
function compareBytes(a: string, b: string): number {
  const x = c.utf8(a);
  const y = c.utf8(b);
  for (let i = 0; i < x.length && i < y.length; i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function sortedDetails(details: ReadonlyMap<string, string>): Array<[string, string]> {
  return [...details].sort((a, b) => compareBytes(a[0], b[0]));
}

// A number that is not an integer has no u64 (the C++ field types cannot
// hold one): events.invalid_event naming it.
function u64(n: number, field: string): Uint8Array {
  if (!Number.isInteger(n)) throw invalidEvent(field);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)));
  return out;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

function str(text: string): Uint8Array {
  const bytes = c.utf8(text);
  return c.concat(u32(bytes.length), bytes);
}

// 0x01 ‖ u64be seq ‖ str org_id ‖ str type ‖ str actor_id ‖ str target_id ‖
// str device_id ‖ u64be time ‖ u32be n ‖ n × (str key ‖ str value).
export function canonical(e: Event): Uint8Array {
  const parts = [Uint8Array.of(CANONICAL_VERSION), u64(e.seq, "seq"), str(e.orgId), str(e.type),
    str(e.actorId), str(e.targetId), str(e.deviceId), u64(e.time, "time"), u32(e.details.size)];
  for (const [key, value] of sortedDetails(e.details)) parts.push(str(key), str(value));
  return c.concat(...parts);
}

// One step of the chain; no checks.
export function chainHash(prev: Uint8Array, event: Event): Uint8Array {
  return c.hash(CHAIN_KEY, c.concat(prev, canonical(event)));
}

// The head after `event`, which must be valid and numbered prev.seq + 1.
export function append(prev: Head, event: Event): Head {
  validate(event);
  if (event.seq !== prev.seq + 1) throw invalidEvent("seq");
  return { seq: event.seq, hash: chainHash(prev.hash, event) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- verification ----

// The event at `pos` should be numbered `expected`; what is wrong otherwise.
function checkSeq(expected: number, pos: number, seqs: readonly number[]): c.CryptoError | undefined {
  const found = seqs[pos];
  if (found === expected) return undefined;
  for (let i = pos + 1; i < seqs.length; i++) {
    if (seqs[i] === expected) {
      return broken(expected, `out of order (found event ${found} in its place)`);
    }
  }
  if (found > expected) {
    if (expected === 1) return broken(expected, `missing (the log starts at event ${found})`);
    return broken(expected, `missing (the log skips from ${expected - 1} to ${found})`);
  }
  return broken(expected, `out of order (found event ${found} in its place)`);
}

function verifyImpl(start: Head, orgId: string, events: readonly Event[],
  hashes: readonly Uint8Array[]): Head {
  let head = start;
  const seqs = events.map((e) => e.seq);
  events.forEach((e, pos) => {
    const expected = head.seq + 1;
    const err = checkSeq(expected, pos, seqs);
    if (err) throw err;
    const field = badField(e);
    if (field) throw broken(expected, fieldMessage(field));
    if (e.orgId !== orgId) throw broken(expected, "belongs to another organization");
    const next = chainHash(head.hash, e);
    if (!sameBytes(next, hashes[pos])) throw broken(expected, "hash does not match");
    head = { seq: expected, hash: next };
  });
  return head;
}

// The chain over the events after `start` (numbered start.seq + 1, ...),
// each compared with its stored hash. events.chain_broken names the first
// broken link; different counts are events.invalid_export.
export function verifyFrom(start: Head, orgId: string, events: readonly Event[],
  storedHashes: readonly Uint8Array[]): Head {
  if (events.length !== storedHashes.length) {
    throw invalidExport(`The log has ${events.length} events but ${storedHashes.length} hashes.`);
  }
  return verifyImpl(start, orgId, events, storedHashes);
}

// The whole log of `orgId`, from event 1; returns the final head.
export function verify(orgId: string, events: readonly Event[],
  storedHashes: readonly Uint8Array[]): Head {
  return verifyFrom(genesis(), orgId, events, storedHashes);
}

// verify over records (e.g. from parseJsonLines).
export function verifyRecords(orgId: string, records: readonly AuditRecord[]): Head {
  return verifyImpl(genesis(), orgId, records.map((r) => r.event), records.map((r) => r.hash));
}

// Does the whole log `events` still reach `remembered` (its hash at its seq)?
// events.chain_rewritten when it is shorter or differs there; a gap or
// disorder before it is events.chain_broken. Only numbers and hashes count.
export function checkExtends(remembered: Head, events: readonly Event[]): void {
  if (remembered.seq === 0) {
    if (!sameBytes(remembered.hash, genesis().hash)) {
      throw new c.CryptoError("events.invalid_head", "The remembered head is not valid.");
    }
    return;
  }
  let head = genesis();
  const seqs = events.map((e) => e.seq);
  for (let pos = 0; pos < events.length && head.seq < remembered.seq; pos++) {
    const expected = head.seq + 1;
    const err = checkSeq(expected, pos, seqs);
    if (err) throw err;
    head = { seq: expected, hash: chainHash(head.hash, events[pos]) };
  }
  const want = String(remembered.seq);
  if (head.seq < remembered.seq) {
    if (head.seq === 0) throw rewritten(`the log is empty, before the remembered event ${want}`);
    throw rewritten(`the log ends at event ${head.seq}, before the remembered event ${want}`);
  }
  if (!sameBytes(head.hash, remembered.hash)) {
    throw rewritten(`event ${want}: does not match the remembered head`);
  }
}

// The records built by appending `events` to genesis in order.
export function buildChain(events: readonly Event[]): AuditRecord[] {
  const out: AuditRecord[] = [];
  let head = genesis();
  for (const e of events) {
    head = append(head, e);
    out.push({ event: e, hash: head.hash });
  }
  return out;
}

// ---- JSON Lines ----

const LINE_KEYS = ["seq", "org_id", "type", "actor_id", "target_id", "device_id", "time",
  "details", "hash"];

// One object per record in LINE_KEYS order, each line ending in '\n'.
export function exportJsonLines(records: readonly AuditRecord[]): string {
  let out = "";
  for (const r of records) {
    const e = r.event;
    validate(e);
    // JSON.stringify escapes a valid event's strings as nlohmann's dump does
    // ('"', '\\'; UTF-8 as is; controls cannot occur).
    const details = sortedDetails(e.details)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
    out += `{"seq":${e.seq},"org_id":${JSON.stringify(e.orgId)},"type":${JSON.stringify(e.type)}` +
      `,"actor_id":${JSON.stringify(e.actorId)},"target_id":${JSON.stringify(e.targetId)}` +
      `,"device_id":${JSON.stringify(e.deviceId)},"time":${e.time},"details":{${details}}` +
      `,"hash":"${c.hex(r.hash)}"}\n`;
  }
  return out;
}

// Strict inverse of one exported line (without its '\n'): exactly those
// keys, once each, with those JSON types (integers, not 1.0), a valid event
// and a 64-digit lowercase hex hash. Key order and whitespace are free.
export function parseJsonLine(line: string): AuditRecord {
  const parsed = parseJsonStrict(line);
  if (!parsed || parsed.repeatsKey || parsed.value.kind !== "object") {
    throw invalidExport("not a valid JSON object");
  }
  const j = parsed.value;
  for (const [key] of j.entries) {
    if (!LINE_KEYS.includes(key)) throw invalidExport("unexpected field");
  }
  for (const key of LINE_KEYS) {
    if (member(j, key) === undefined) throw invalidExport(`the field '${key}' is missing`);
  }
  const bad = (field: string) => invalidExport(fieldMessage(field));
  const get = (key: string): JsonValue => member(j, key)!;

  const seq = get("seq");
  if (seq.kind !== "unsigned") throw bad("seq");
  const strings: Record<string, string> = {};
  for (const key of ["org_id", "type", "actor_id", "target_id", "device_id"]) {
    const v = get(key);
    if (v.kind !== "string") throw bad(key);
    strings[key] = v.value;
  }
  const time = get("time");
  if (time.kind !== "unsigned" && time.kind !== "integer") throw bad("time");
  if (time.kind === "unsigned" && time.value > BigInt(MAX_SAFE_INTEGER)) throw bad("time");
  const details = get("details");
  if (details.kind !== "object") throw bad("details");
  const pairs: Array<[string, string]> = [];
  for (const [key, value] of details.entries) {
    if (value.kind !== "string") throw bad("details");
    pairs.push([key, value.value]);
  }
  // Numbers beyond 2^53 become >= 2^53 here, which badField refuses as the
  // C++ does.
  const e: Event = {
    seq: Number(seq.value), orgId: strings.org_id, type: strings.type, actorId: strings.actor_id,
    targetId: strings.target_id, deviceId: strings.device_id, time: Number(time.value),
    details: new Map(pairs.sort((a, b) => compareBytes(a[0], b[0]))),
  };
  const field = badField(e);
  if (field) throw bad(field);
  const hash = get("hash");
  if (hash.kind !== "string" || !/^[0-9a-f]{64}$/.test(hash.value)) throw bad("hash");
  return { event: e, hash: c.fromHex(hash.value) };
}

// Every line of `text`, each ended by '\n' (the last may omit it); no blank
// lines; at most 64 KiB a line. events.invalid_export with the line number.
// Does not verify the chain: call verifyRecords on the result.
export function parseJsonLines(text: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  let lineNo = 0;
  let rest = text;
  while (rest.length > 0) {
    lineNo++;
    const end = rest.indexOf("\n");
    const line = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? "" : rest.slice(end + 1);
    const where = `line ${lineNo}: `;
    if (line.length === 0) throw invalidExport(`${where}blank line`);
    if (c.utf8(line).length > MAX_LINE_LENGTH) throw invalidExport(`${where}too long`);
    try {
      out.push(parseJsonLine(line));
    } catch (e) {
      if (e instanceof c.CryptoError) throw invalidExport(where + e.message);
      throw e;
    }
  }
  return out;
}
