// src/protocol/policy.h in the browser: an organization's recovery policy,
// the JSON carried inside its signed statements. The same canonical text
// (sorted keys, no spaces; "pairing_reset":"deny", "snapshot_keep":N and
// "sso":"required" only when not the default), the same strict parser with the same refusals
// ("org.invalid_policy") and the CLI's durations ("24h", "7d").
//
// Also the strict JSON reader both this and audit.ts use: nlohmann::json's
// grammar (what the C++ accepts), keeping integers apart from floats (1 is
// not 1.0) and exact up to 64 bits, and telling when a key is repeated.
import * as c from "../crypto/primitives.js";
import { MAX_COUNTER } from "./binding.js";
import { MAX_POLICY_SIZE } from "./statement.js";

// ---- strict JSON (nlohmann::json::parse, without exceptions) ----

export type JsonValue =
  | { kind: "null" }
  | { kind: "bool"; value: boolean }
  | { kind: "string"; value: string }
  // nlohmann's number_unsigned: no minus sign, fits in 64 bits.
  | { kind: "unsigned"; value: bigint }
  // number_integer: a minus sign ("-0" included), fits in int64.
  | { kind: "integer"; value: bigint }
  // number_float: a fraction or exponent, or an integer too large for both.
  | { kind: "float"; value: number }
  | { kind: "array"; items: JsonValue[] }
  // In the order of the text, repeats kept (member() reads the last, as
  // nlohmann keeps the last).
  | { kind: "object"; entries: Array<[string, JsonValue]> };

export interface ParsedJson {
  value: JsonValue;
  repeatsKey: boolean; // some object, at any depth, has a key twice
  repeatsTopKey: boolean; // the top-level object has a key twice
}

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

type Frame =
  | { kind: "array"; items: JsonValue[] }
  | { kind: "object"; entries: Array<[string, JsonValue]>; keys: Set<string>; key: string };

// One JSON text (a BOM first and whitespace around allowed, nothing else
// after it), or undefined when nlohmann would refuse it. Iterative: no
// nesting limit, as nlohmann has none.
export function parseJsonStrict(text: string): ParsedJson | undefined {
  let pos = text.startsWith("\uFEFF") ? 1 : 0;
  let repeatsKey = false;
  let repeatsTopKey = false;
  const stack: Frame[] = [];

  const skipWs = () => {
    while (pos < text.length) {
      const ch = text[pos];
      if (ch !== " " && ch !== "\t" && ch !== "\n" && ch !== "\r") break;
      pos++;
    }
  };
  // At a '"': the string's value, or undefined.
  const readString = (): string | undefined => {
    if (text[pos] !== '"') return undefined;
    pos++;
    let out = "";
    for (;;) {
      if (pos >= text.length) return undefined;
      const u = text.charCodeAt(pos);
      if (u === 0x22) {
        pos++;
        return out;
      }
      if (u < 0x20) return undefined;
      if (u === 0x5c) {
        const e = text[pos + 1];
        pos += 2;
        switch (e) {
          case '"': out += '"'; break;
          case "\\": out += "\\"; break;
          case "/": out += "/"; break;
          case "b": out += "\b"; break;
          case "f": out += "\f"; break;
          case "n": out += "\n"; break;
          case "r": out += "\r"; break;
          case "t": out += "\t"; break;
          case "u": {
            const hex1 = text.slice(pos, pos + 4);
            if (!HEX4.test(hex1)) return undefined;
            pos += 4;
            const first = parseInt(hex1, 16);
            if (first >= 0xdc00 && first <= 0xdfff) return undefined;
            if (first >= 0xd800 && first <= 0xdbff) {
              const hex2 = text.slice(pos + 2, pos + 6);
              if (text.slice(pos, pos + 2) !== "\\u" || !HEX4.test(hex2)) return undefined;
              const second = parseInt(hex2, 16);
              if (second < 0xdc00 || second > 0xdfff) return undefined;
              pos += 6;
              out += String.fromCharCode(first, second);
            } else {
              out += String.fromCharCode(first);
            }
            break;
          }
          default:
            return undefined;
        }
        continue;
      }
      // Raw text: a lone surrogate is not UTF-8 (nlohmann checks the bytes).
      if (u >= 0xd800 && u <= 0xdbff) {
        const next = text.charCodeAt(pos + 1);
        if (!(next >= 0xdc00 && next <= 0xdfff)) return undefined;
        out += text.slice(pos, pos + 2);
        pos += 2;
        continue;
      }
      if (u >= 0xdc00 && u <= 0xdfff) return undefined;
      out += text[pos];
      pos++;
    }
  };
  // After '{' or ',' in an object: `"key" :`, recorded in the frame.
  const readKey = (frame: Extract<Frame, { kind: "object" }>): boolean => {
    skipWs();
    const key = readString();
    if (key === undefined) return false;
    skipWs();
    if (text[pos] !== ":") return false;
    pos++;
    if (frame.keys.has(key)) {
      repeatsKey = true;
      if (stack[0] === frame) repeatsTopKey = true;
    }
    frame.keys.add(key);
    frame.key = key;
    return true;
  };
  const readScalar = (): JsonValue | undefined => {
    const ch = text[pos];
    if (ch === '"') {
      const s = readString();
      return s === undefined ? undefined : { kind: "string", value: s };
    }
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value === null ? { kind: "null" } : { kind: "bool", value };
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return undefined;
    const token = m[0];
    pos += token.length;
    const n = /[.eE]/.test(token) ? undefined : BigInt(token);
    if (n !== undefined && (token.startsWith("-") ? n >= INT64_MIN : n <= UINT64_MAX)) {
      return { kind: token.startsWith("-") ? "integer" : "unsigned", value: n };
    }
    // A float; one that overflows a double ("1e400") is refused.
    const f = Number(token);
    return Number.isFinite(f) ? { kind: "float", value: f } : undefined;
  };

  for (;;) {
    // A value is expected here.
    skipWs();
    let value: JsonValue | undefined;
    const ch = text[pos];
    if (ch === "{") {
      pos++;
      skipWs();
      if (text[pos] === "}") {
        pos++;
        value = { kind: "object", entries: [] };
      } else {
        const frame: Frame = { kind: "object", entries: [], keys: new Set(), key: "" };
        stack.push(frame);
        if (!readKey(frame)) return undefined;
        continue;
      }
    } else if (ch === "[") {
      pos++;
      skipWs();
      if (text[pos] === "]") {
        pos++;
        value = { kind: "array", items: [] };
      } else {
        stack.push({ kind: "array", items: [] });
        continue;
      }
    } else {
      value = readScalar();
      if (value === undefined) return undefined;
    }
    // A value was read: into its container, then what follows it.
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) {
        skipWs();
        if (pos !== text.length) return undefined;
        return { value, repeatsKey, repeatsTopKey };
      }
      if (top.kind === "array") top.items.push(value);
      else top.entries.push([top.key, value]);
      skipWs();
      const next = text[pos];
      if (next === ",") {
        pos++;
        if (top.kind === "object" && !readKey(top)) return undefined;
        break;
      }
      if (next !== (top.kind === "array" ? "]" : "}")) return undefined;
      pos++;
      stack.pop();
      value = top.kind === "array"
        ? { kind: "array", items: top.items }
        : { kind: "object", entries: top.entries };
    }
  }
}

// The value of `key` in an object (the last if repeated), or undefined.
export function member(obj: JsonValue, key: string): JsonValue | undefined {
  if (obj.kind !== "object") return undefined;
  for (let i = obj.entries.length - 1; i >= 0; i--) {
    if (obj.entries[i][0] === key) return obj.entries[i][1];
  }
  return undefined;
}

// ---- the policy ----

export type Enrollment = "disabled" | "opt-in" | "opt-out" | "mandatory";
export type RecoveryMode = "dual-control" | "admin-reset";

export const MAX_QUORUM = 10;
export const MIN_LINK_TTL = 5 * 60;
export const MAX_LINK_TTL = 30 * 86400;
export const MIN_PENDING_TTL = 3600;
export const MAX_PENDING_TTL = 90 * 86400;
export const MAX_NOTIFY = 50;
export const DEFAULT_SNAPSHOT_KEEP = 10;
export const MIN_SNAPSHOT_KEEP = 1;
export const MAX_SNAPSHOT_KEEP = 100;

export interface RecoveryPolicy {
  enrollment: Enrollment;
  mode: RecoveryMode;
  quorum: number; // 1..MAX_QUORUM
  linkTtl: number; // seconds, MIN_LINK_TTL..MAX_LINK_TTL
  pendingTtl: number; // seconds, MIN_PENDING_TTL..MAX_PENDING_TTL
  notify: string[]; // lower-case emails, at most MAX_NOTIFY, no duplicates
  pairingReset: boolean; // JSON "pairing_reset": "allow" (true, omitted) | "deny"
  snapshotKeep: number; // MIN_SNAPSHOT_KEEP..MAX_SNAPSHOT_KEEP, omitted when the default
  // Every new session of a member (owners excepted) goes through the
  // organization's identity provider (docs/sso.md). JSON "sso": "required"
  // (true) | "optional" (false, omitted).
  requireSso: boolean;
}

// RecoveryPolicy{} of the C++: recovery off until an owner turns it on.
export function defaultPolicy(): RecoveryPolicy {
  return {
    enrollment: "disabled", mode: "dual-control", quorum: 1, linkTtl: 24 * 3600,
    pendingTtl: 7 * 24 * 3600, notify: [], pairingReset: true,
    snapshotKeep: DEFAULT_SNAPSHOT_KEEP, requireSso: false,
  };
}

function invalid(message: string): c.CryptoError {
  return new c.CryptoError("org.invalid_policy", message);
}

const ENROLLMENTS: readonly string[] = ["disabled", "opt-in", "opt-out", "mandatory"];
const MODES: readonly string[] = ["dual-control", "admin-reset"];
const ENROLLMENT_MESSAGE = "enrollment must be disabled, opt-in, opt-out or mandatory";
const MODE_MESSAGE = "mode must be dual-control or admin-reset";
const SNAPSHOT_KEEP_RANGE =
  `snapshot_keep must be an integer ${MIN_SNAPSHOT_KEEP}..${MAX_SNAPSHOT_KEEP}`;

export function parseEnrollment(text: string): Enrollment {
  if (!ENROLLMENTS.includes(text)) throw invalid(ENROLLMENT_MESSAGE);
  return text as Enrollment;
}

export function parseRecoveryMode(text: string): RecoveryMode {
  if (!MODES.includes(text)) throw invalid(MODE_MESSAGE);
  return text as RecoveryMode;
}

// A plausible address, already lower-cased: one '@', a non-empty local part,
// a dotted domain, printable ASCII without spaces.
function plausibleEmail(e: string): boolean {
  if (e.length < 3 || e.length > 254) return false;
  const at = e.indexOf("@");
  if (at <= 0 || e.indexOf("@", at + 1) >= 0) return false;
  const domain = e.slice(at + 1);
  if (domain.length < 3 || !domain.includes(".") || domain.startsWith(".") ||
      domain.endsWith(".")) {
    return false;
  }
  for (let i = 0; i < e.length; i++) {
    const u = e.charCodeAt(i);
    if (u <= 0x20 || u >= 0x7f || (u >= 0x41 && u <= 0x5a) || '"\\,<>'.includes(e[i])) return false;
  }
  return true;
}

function inRange(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

// The ranges above; org.invalid_policy naming the field, never an email.
export function validatePolicy(p: RecoveryPolicy): void {
  if (!ENROLLMENTS.includes(p.enrollment)) throw invalid(ENROLLMENT_MESSAGE);
  if (!MODES.includes(p.mode)) throw invalid(MODE_MESSAGE);
  if (!inRange(p.quorum, 1, MAX_QUORUM)) throw invalid(`quorum must be 1..${MAX_QUORUM}`);
  if (!inRange(p.linkTtl, MIN_LINK_TTL, MAX_LINK_TTL)) {
    throw invalid(`link_ttl must be ${formatDuration(MIN_LINK_TTL)}..${formatDuration(MAX_LINK_TTL)}`);
  }
  if (!inRange(p.pendingTtl, MIN_PENDING_TTL, MAX_PENDING_TTL)) {
    throw invalid(`pending_ttl must be ${formatDuration(MIN_PENDING_TTL)}..` +
      formatDuration(MAX_PENDING_TTL));
  }
  if (!inRange(p.snapshotKeep, MIN_SNAPSHOT_KEEP, MAX_SNAPSHOT_KEEP)) {
    throw invalid(SNAPSHOT_KEEP_RANGE);
  }
  if (p.notify.length > MAX_NOTIFY) {
    throw invalid(`notify holds at most ${MAX_NOTIFY} addresses`);
  }
  p.notify.forEach((address, i) => {
    if (typeof address !== "string" || !plausibleEmail(address)) {
      throw invalid(`notify entry ${i + 1} is not a lower-case email address`);
    }
    if (p.notify.indexOf(address) < i) throw invalid(`notify entry ${i + 1} is a duplicate`);
  });
}

// Canonical JSON of a valid policy.
export function encodePolicy(p: RecoveryPolicy): string {
  validatePolicy(p);
  // Sorted keys; the emails need no escaping beyond JSON.stringify's (none).
  let out = `{"enrollment":${JSON.stringify(p.enrollment)},"link_ttl":${p.linkTtl}` +
    `,"mode":${JSON.stringify(p.mode)},"notify":[${p.notify.map((a) => JSON.stringify(a)).join(",")}]`;
  if (!p.pairingReset) out += `,"pairing_reset":"deny"`;
  out += `,"pending_ttl":${p.pendingTtl},"quorum":${p.quorum}`;
  if (p.snapshotKeep !== DEFAULT_SNAPSHOT_KEEP) out += `,"snapshot_keep":${p.snapshotKeep}`;
  // And "optional" (sorted last).
  if (p.requireSso) out += `,"sso":"required"`;
  return out + "}";
}

const REQUIRED_KEYS = ["enrollment", "link_ttl", "mode", "notify", "pending_ttl", "quorum"];

function intField(j: JsonValue, key: string): bigint {
  const v = member(j, key)!;
  if (v.kind === "unsigned") {
    if (v.value > (1n << 63n) - 1n) throw invalid(`the field '${key}' is out of range`);
    return v.value;
  }
  if (v.kind === "integer") return v.value;
  throw invalid(`the field '${key}' must be an integer`);
}

function stringField(j: JsonValue, key: string): string {
  const v = member(j, key)!;
  if (v.kind !== "string") throw invalid(`the field '${key}' must be a string`);
  return v.value;
}

// Strict: a JSON object with exactly the six keys and the right types, plus
// optionally "pairing_reset" ("allow" | "deny"), "snapshot_keep" (an
// integer 1..100) and "sso" ("required" | "optional"), then validatePolicy. Not required to be canonical.
export function parsePolicy(text: string): RecoveryPolicy {
  if (c.utf8(text).length > MAX_POLICY_SIZE) throw invalid("the policy is larger than 16 KiB");
  const parsed = parseJsonStrict(text);
  if (!parsed || parsed.value.kind !== "object") throw invalid("the policy is not a JSON object");
  if (parsed.repeatsTopKey) throw invalid("the policy repeats a field");
  const j = parsed.value;
  const hasPairingReset = member(j, "pairing_reset") !== undefined;
  const hasSnapshotKeep = member(j, "snapshot_keep") !== undefined;
  const hasSso = member(j, "sso") !== undefined;
  if (j.entries.length !== REQUIRED_KEYS.length + (hasPairingReset ? 1 : 0) +
      (hasSnapshotKeep ? 1 : 0) + (hasSso ? 1 : 0)) {
    throw invalid("the policy must have the six required fields, plus the optional " +
      "'pairing_reset', 'snapshot_keep' and 'sso'");
  }
  for (const k of REQUIRED_KEYS) {
    if (member(j, k) === undefined) throw invalid(`the policy lacks the field '${k}'`);
  }
  const p = defaultPolicy();
  if (hasPairingReset) {
    const pairingReset = stringField(j, "pairing_reset");
    if (pairingReset !== "allow" && pairingReset !== "deny") {
      throw invalid("pairing_reset must be allow or deny");
    }
    p.pairingReset = pairingReset === "allow";
  }
  if (hasSnapshotKeep) {
    const keep = intField(j, "snapshot_keep");
    if (keep < MIN_SNAPSHOT_KEEP || keep > MAX_SNAPSHOT_KEEP) throw invalid(SNAPSHOT_KEEP_RANGE);
    p.snapshotKeep = Number(keep);
  }
  if (hasSso) {
    const sso = stringField(j, "sso");
    if (sso !== "required" && sso !== "optional") throw invalid("sso must be required or optional");
    p.requireSso = sso === "required";
  }
  p.enrollment = parseEnrollment(stringField(j, "enrollment"));
  p.mode = parseRecoveryMode(stringField(j, "mode"));
  const quorum = intField(j, "quorum");
  if (quorum < 1 || quorum > MAX_QUORUM) throw invalid(`quorum must be 1..${MAX_QUORUM}`);
  p.quorum = Number(quorum);
  // Out-of-range values stay out of range as numbers: validatePolicy refuses them.
  p.linkTtl = Number(intField(j, "link_ttl"));
  p.pendingTtl = Number(intField(j, "pending_ttl"));
  const notify = member(j, "notify")!;
  if (notify.kind !== "array") throw invalid("the field 'notify' must be an array");
  if (notify.items.length > MAX_NOTIFY) {
    throw invalid(`notify holds at most ${MAX_NOTIFY} addresses`);
  }
  for (const a of notify.items) {
    if (a.kind !== "string") throw invalid("notify entries must be strings");
    p.notify.push(a.value);
  }
  validatePolicy(p);
  return p;
}

// ---- durations (the CLI's --link-ttl / --pending-ttl) ----

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

// "24h", "7d", "30m", "90s" or a bare number of seconds -> seconds.
export function parseDuration(text: string): number {
  const bad = invalid("a duration is a positive number with an optional unit s, m, h or d");
  if (text.length === 0 || c.utf8(text).length > 20) throw bad;
  const last = text[text.length - 1];
  const unit = UNITS[last] ?? 1;
  const digits = last in UNITS ? text.slice(0, -1) : text;
  if (!/^[0-9]+$/.test(digits)) throw bad;
  const n = BigInt(digits);
  // std::from_chars into int64: more than 2^63-1 fails, as does n > max / unit.
  if (n <= 0n || n > (1n << 63n) - 1n || n > BigInt(MAX_COUNTER) / BigInt(unit)) throw bad;
  return Number(n) * unit;
}

// The largest exact unit ("7d", "24h", "90s").
export function formatDuration(seconds: number): string {
  if (seconds !== 0) {
    if (seconds % 86400 === 0) return `${Math.trunc(seconds / 86400)}d`;
    if (seconds % 3600 === 0) return `${Math.trunc(seconds / 3600)}h`;
    if (seconds % 60 === 0) return `${Math.trunc(seconds / 60)}m`;
  }
  return `${seconds}s`;
}
