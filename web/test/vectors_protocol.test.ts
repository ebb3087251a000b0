// The browser's recovery policy, audit chain and backup framing
// (src/protocol/policy.ts, audit.ts, backup.ts) against the known-answer
// vectors the C++ code passes (tests/vectors/protocol_policy.json,
// audit_chain.json, backup.json, snapshot.json), under node's test runner:
// `npm run test:vectors`.
import { test } from "node:test";
import assert from "node:assert/strict";

import * as c from "../src/crypto/primitives.js";
import { load, rows, h, type Json } from "./vector_support.js";
import {
  defaultPolicy, encodePolicy, formatDuration, parseDuration, parseEnrollment, parsePolicy,
  parseRecoveryMode, type RecoveryPolicy,
} from "../src/protocol/policy.js";
import {
  append, canonical, checkExtends, exportJsonLines, genesis, parseJsonLine, parseJsonLines,
  verify, verifyRecords, type AuditRecord, type Head,
} from "../src/protocol/audit.js";
import {
  BackupWriter, deriveBackupKey, deriveSnapshotKey, encodeBackupHeader, openBackup,
  parseBackupHeader, type BackupHeader,
} from "../src/protocol/backup.js";

function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    return e instanceof c.CryptoError ? { code: e.code, message: e.message }
      : { code: String(e), message: String(e) };
  }
  return { code: "ok", message: "" };
}

function codeOf(f: () => unknown): string {
  return errorOf(f).code;
}

test("init", async () => {
  await c.init();
});

test("recovery policy (protocol_policy.json)", () => {
  const doc = load("protocol_policy.json");
  const canonicalRows = rows(doc, "canonical", 8);
  let denied = 0;
  let kept = 0;
  let sso = 0;
  for (const v of canonicalRows) {
    const p: RecoveryPolicy = defaultPolicy();
    // Given only when "deny"; absent means "allow", which the JSON omits.
    const pairingReset = v.pairing_reset ?? "allow";
    assert.ok(pairingReset === "allow" || pairingReset === "deny", pairingReset);
    p.pairingReset = pairingReset === "allow";
    if (!p.pairingReset) {
      denied++;
      assert.ok(v.json.includes('"pairing_reset":"deny"'), v.json);
    } else {
      assert.ok(!v.json.includes("pairing_reset"), v.json);
    }
    // Given only when not the default; absent means 10, which the JSON omits.
    if ("snapshot_keep" in v) {
      kept++;
      p.snapshotKeep = v.snapshot_keep;
      assert.notEqual(p.snapshotKeep, 10);
      // Last, or before "sso" (sorted).
      const keep = `"snapshot_keep":${p.snapshotKeep}`;
      assert.ok(v.json.includes(`${keep}}`) || v.json.includes(`${keep},"sso":`), v.json);
    } else {
      assert.ok(!v.json.includes("snapshot_keep"), v.json);
    }
    // Given only when "required"; absent means "optional", which the JSON omits.
    const requireSso = v.sso ?? "optional";
    assert.ok(requireSso === "optional" || requireSso === "required", requireSso);
    p.requireSso = requireSso === "required";
    if (p.requireSso) {
      sso++;
      assert.ok(v.json.endsWith(',"sso":"required"}'), v.json);
    } else {
      assert.ok(!v.json.includes('"sso"'), v.json);
    }
    p.enrollment = parseEnrollment(v.enrollment);
    p.mode = parseRecoveryMode(v.mode);
    p.quorum = v.quorum;
    p.linkTtl = v.link_ttl;
    p.pendingTtl = v.pending_ttl;
    p.notify = v.notify;
    assert.equal(encodePolicy(p), v.json);
    assert.deepEqual(parsePolicy(v.json), p, v.json);
  }
  assert.ok(denied >= 1, "a canonical policy with pairing_reset deny");
  assert.ok(kept >= 1, "a canonical policy with snapshot_keep");
  assert.ok(sso >= 2, "canonical policies with sso required");
  for (const v of rows(doc, "accepted", 7)) {
    assert.equal(encodePolicy(parsePolicy(v.json)), canonicalRows[v.canonical_index].json, v.json);
  }
  for (const v of rows(doc, "refused", 35)) {
    assert.equal(codeOf(() => parsePolicy(v.json)), v.error, v.json);
  }
  for (const v of rows(doc, "durations", 6)) {
    const seconds = parseDuration(v.text);
    assert.equal(seconds, v.seconds, v.text);
    assert.equal(formatDuration(seconds), v.display, v.text);
  }
  for (const text of rows(doc, "invalid_durations", 7)) {
    assert.equal(codeOf(() => parseDuration(text)), "org.invalid_policy", JSON.stringify(text));
  }
  // The default policy is the first canonical text.
  assert.equal(encodePolicy(defaultPolicy()), canonicalRows[0].json);
});

test("audit log chain (audit_chain.json)", () => {
  const doc = load("audit_chain.json");
  assert.equal(doc.hash_key, "0".repeat(64));
  assert.equal(doc.genesis, c.hex(genesis().hash));

  // The chain: each line parses, has the canonical bytes and hash given, and
  // the whole verifies and exports to the same lines.
  let head: Head = genesis();
  const records: AuditRecord[] = [];
  let exported = "";
  for (const row of rows(doc, "chain", 5)) {
    const line = JSON.stringify(row.line);
    const r = parseJsonLine(line);
    assert.equal(c.hex(canonical(r.event)), row.canonical, line);
    head = append(head, r.event);
    assert.equal(c.hex(head.hash), row.line.hash, line);
    assert.equal(c.hex(r.hash), row.line.hash, line);
    records.push(r);
    exported += `${line}\n`;
  }
  const org = records[0].event.orgId;
  const verified = verifyRecords(org, records);
  assert.equal(verified.seq, head.seq);
  assert.equal(c.hex(verified.hash), c.hex(head.hash));
  const again = verify(org, records.map((r) => r.event), records.map((r) => r.hash));
  assert.equal(c.hex(again.hash), c.hex(head.hash));
  assert.equal(exportJsonLines(records), exported);
  assert.deepEqual(parseJsonLines(exported), records);
  assert.deepEqual(parseJsonLines(exported.slice(0, -1)), records);
  assert.equal(codeOf(() => verify(org, records.map((r) => r.event), [])),
    "events.invalid_export");

  for (const row of rows(doc, "canonical", 3)) {
    const line = JSON.stringify({ ...row.event, hash: "0".repeat(64) });
    assert.equal(c.hex(canonical(parseJsonLine(line).event)), row.canonical, line);
  }

  const parseLines = (lines: Json[]) => lines.map((l) => parseJsonLine(JSON.stringify(l)));
  for (const row of rows(doc, "broken", 4)) {
    const got = errorOf(() => verifyRecords(row.org_id, parseLines(row.lines)));
    assert.equal(got.code, row.error, row.description);
    assert.equal(got.message, row.message, row.description);
  }

  let passed = 0;
  for (const row of rows(doc, "extends", 4)) {
    const remembered = { seq: row.remembered.seq, hash: h(row.remembered.hash) };
    const got = errorOf(() => checkExtends(remembered, parseLines(row.lines).map((r) => r.event)));
    if (row.error === null) {
      passed++;
      assert.equal(got.code, "ok", row.description);
    } else {
      assert.equal(got.code, row.error, row.description);
      assert.equal(got.message, row.message, row.description);
    }
  }
  assert.ok(passed >= 1 && passed < doc.extends.length, "extends: both outcomes");

  for (const row of rows(doc, "invalid_lines", 19)) {
    assert.equal(codeOf(() => parseJsonLine(row.line)), row.error, row.description);
    // The same line inside an export names its line number.
    const got = errorOf(() => parseJsonLines(`${JSON.stringify(doc.chain[0].line)}\n${row.line}\n`));
    assert.equal(got.code, "events.invalid_export", row.description);
    assert.ok(got.message.startsWith("line 2: "), got.message);
  }
});

test("local backup file (backup.json)", () => {
  const doc = load("backup.json");
  const header: BackupHeader = {
    cloud: false, kdf: { ops: doc.ops, mem: doc.mem }, salt: h(doc.salt),
    createdAt: doc.created_at, accountId: doc.account_id, snapshotId: "",
    streamHeader: new Uint8Array(0),
  };
  const key = deriveBackupKey(doc.password, header);
  assert.equal(c.hex(key), doc.key);

  const file = h(doc.file);
  const parsed = parseBackupHeader(file);
  assert.equal(parsed.size, doc.header_size);
  assert.equal(parsed.header.cloud, false);
  assert.equal(parsed.header.accountId, doc.account_id);
  assert.equal(parsed.header.createdAt, doc.created_at);
  assert.equal(c.hex(parsed.header.salt), doc.salt);
  assert.equal(parsed.header.kdf.ops, doc.ops);
  assert.equal(parsed.header.kdf.mem, doc.mem);
  assert.equal(c.hex(encodeBackupHeader(parsed.header)), doc.file.slice(0, 2 * doc.header_size));

  const opened = openBackup(key, file);
  const records = rows(doc, "records", 2);
  assert.deepEqual(opened.records.map(c.hex), records);
  c.wipe(opened.plaintext);
  assert.ok(opened.records.every((r) => r.every((b) => b === 0)), "wiped with the plaintext");

  for (const row of rows(doc, "refused", 8)) {
    assert.equal(codeOf(() => openBackup(key, h(row.file))), row.error, row.what);
  }
  // Another password does not open it.
  const other = deriveBackupKey("correct horse battery stapler", header);
  assert.equal(codeOf(() => openBackup(other, file)), "backup.cannot_open");

  // Headers refused before any key is derived.
  const size = doc.header_size;
  assert.equal(codeOf(() => parseBackupHeader(file.slice(0, size - 1))), "backup.bad_header");
  const greedy = file.slice();
  greedy[9 + 7] = 65; // ops = 65
  assert.equal(codeOf(() => parseBackupHeader(greedy)), "backup.kdf_out_of_range");

  // A file written here opens into the same records.
  const writer = new BackupWriter(key, header);
  records.forEach((r, i) => (i === records.length - 1 ? writer.finish(h(r)) : writer.add(h(r))));
  const mine = writer.take();
  assert.equal(c.hex(mine.subarray(0, size - 24)), doc.file.slice(0, 2 * (size - 24)));
  assert.deepEqual(openBackup(key, mine).records.map(c.hex), records);
  assert.throws(() => writer.add(new Uint8Array(1)));
});

test("cloud snapshot (snapshot.json)", () => {
  const doc = load("snapshot.json");
  const uk = h(doc.vault_key);
  const key = deriveSnapshotKey(uk);
  assert.equal(c.hex(key), doc.key);

  const file = h(doc.file);
  const parsed = parseBackupHeader(file);
  assert.equal(parsed.header.cloud, true);
  assert.equal(parsed.size, doc.header_size);
  assert.equal(parsed.header.accountId, doc.account_id);
  assert.equal(parsed.header.snapshotId, doc.snapshot_id);
  assert.equal(parsed.header.createdAt, doc.created_at);
  // The header re-encodes byte for byte.
  assert.equal(c.hex(encodeBackupHeader(parsed.header)), doc.file.slice(0, 2 * doc.header_size));

  const opened = openBackup(key, file);
  const records = rows(doc, "records", 4);
  assert.deepEqual(opened.records.map(c.hex), records);
  const items = rows(doc, "items", 2);
  assert.equal(records.length, items.length + 2);
  items.forEach((item, i) => {
    // 0x01 ‖ u32 BE id size ‖ id ‖ u32 BE data size ‖ data
    const id = c.utf8(item.id);
    const data = h(item.data);
    const record = c.concat(Uint8Array.of(1, 0, 0, 0, id.length), id,
      Uint8Array.of(0, 0, data.length >> 8, data.length & 255), data);
    assert.equal(c.hex(record), records[i + 1], item.id);
    const plain = c.decrypt(uk, data, c.ad("keyward/v1/item", doc.account_id, item.id));
    assert.equal(new TextDecoder().decode(plain), item.plaintext, item.id);
  });

  for (const row of rows(doc, "refused", 5)) {
    assert.equal(codeOf(() => openBackup(key, h(row.file))), row.error, row.what);
  }
  // Another vault's key does not open it.
  assert.equal(codeOf(() => openBackup(deriveSnapshotKey(c.randomBytes(32)), file)),
    "backup.cannot_open");

  // A snapshot written here opens into the same records.
  const writer = new BackupWriter(key, parsed.header);
  records.forEach((r, i) => (i === records.length - 1 ? writer.finish(h(r)) : writer.add(h(r))));
  const mine = writer.bytes();
  assert.deepEqual(openBackup(key, mine).records.map(c.hex), records);
  // Cut anywhere after its header: truncated.
  assert.equal(codeOf(() => openBackup(key, mine.subarray(0, mine.length - 1))),
    "backup.truncated");
});
