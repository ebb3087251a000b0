// The browser's CPace and device pairing (src/crypto/cpace.ts,
// src/protocol/pairing.ts) against the known-answer vectors the C++ code
// passes (tests/vectors/cpace.json: the draft's CPACE-RISTR255-SHA512
// vectors; hmac.json for the synchronous HMAC-SHA-512 under the
// confirmations), and the cases of src/protocol/pairing_test.cc and
// pairing_offline_test.cc, under node's test runner: `npm run test:vectors`.
import { test } from "node:test";
import assert from "node:assert/strict";

import * as c from "../src/crypto/primitives.js";
import { load, rows, h, codeOf } from "./vector_support.js";
import * as cpace from "../src/crypto/cpace.js";
import {
  channelIdentifier, CONFIRMATION_SIZE, joiningAd, JoiningSide, normalizeCode, ShowingSide,
  SID_SIZE, type JoiningDevice, type PairingIds,
} from "../src/protocol/pairing.js";

// pairing_test.cc's fixture.
function ids(): PairingIds {
  return {
    accountId: "acct_1",
    sid: new Uint8Array(SID_SIZE).fill(0x5a),
    shownDeviceId: "dev_laptop",
    joiningDeviceId: "dev_new",
  };
}
const code = (digits: string) => c.utf8(digits);
const newDevice = (): JoiningDevice => ({ name: "laptop-2", type: "cli" });

test("init", async () => {
  await c.init();
});

test("cpace prepend_len (cpace.json)", () => {
  for (const v of rows(load("cpace.json"), "prepend_len", 4)) {
    assert.equal(c.hex(cpace.prependLen(h(v.input))), v.output, v.input);
  }
});

test("cpace lv_cat (cpace.json)", () => {
  for (const v of rows(load("cpace.json"), "lv_cat", 1)) {
    assert.equal(v.parts.length, 4);
    assert.equal(c.hex(cpace.lvCat(...v.parts.map(h))), v.output);
  }
});

// Every intermediate value of the draft, so a mismatch names the step.
test("cpace CPACE-RISTR255-SHA512 (cpace.json)", () => {
  for (const v of rows(load("cpace.json"), "cpace", 1)) {
    const prs = h(v.prs), ci = h(v.ci), sid = h(v.sid);
    const gs = cpace.generatorString(prs, ci, sid);
    assert.equal(c.hex(gs), v.generator_string);
    assert.equal(c.hex(c.sha512(gs)), v.hash);
    const g = cpace.calculateGenerator(prs, ci, sid);
    assert.equal(c.hex(g), v.generator);
    const a = cpace.shareFromScalar(g, h(v.ya));
    const b = cpace.shareFromScalar(g, h(v.yb));
    assert.equal(c.hex(a.point), v.Ya);
    assert.equal(c.hex(b.point), v.Yb);
    const ka = cpace.sharedPoint(a.scalar, b.point);
    const kb = cpace.sharedPoint(b.scalar, a.point);
    assert.equal(c.hex(ka), v.K);
    assert.equal(c.hex(kb), v.K);
    const transcript = cpace.transcriptIr(a.point, h(v.ad_a), b.point, h(v.ad_b));
    assert.equal(c.hex(transcript), v.transcript_ir);
    assert.equal(c.hex(cpace.isk(sid, ka, transcript)), v.isk_ir);
  }
});

test("cpace scalar_mult_valid (cpace.json)", () => {
  for (const v of rows(load("cpace.json"), "scalar_mult_valid", 1)) {
    assert.equal(c.hex(cpace.sharedPoint(h(v.scalar), h(v.point))), v.result);
  }
});

test("cpace scalar_mult_invalid (cpace.json)", () => {
  for (const v of rows(load("cpace.json"), "scalar_mult_invalid", 2)) {
    assert.equal(codeOf(() => cpace.sharedPoint(h(v.scalar), h(v.point))), "pair.bad_point", v.why);
  }
  // Not 32 bytes: the same error, as SharedPoint gives.
  const scalar = h(load("cpace.json").scalar_mult_invalid[0].scalar);
  assert.equal(codeOf(() => cpace.sharedPoint(scalar, new Uint8Array(31).fill(1))), "pair.bad_point");
});

// The synchronous HMAC-SHA-512 the confirmations use (keys of any length).
test("hmac-sha512, synchronous (hmac.json)", () => {
  const sha512 = rows(load("hmac.json"), "vectors", 10).filter((v) => v.algorithm === "hmac-sha512");
  assert.ok(sha512.length >= 7, "hmac-sha512: at least 7 rows");
  for (const v of sha512) {
    const mac = c.hmacSha512(h(v.key), h(v.message));
    assert.equal(mac.length, 64);
    assert.equal(c.hex(mac.subarray(0, v.output_bytes)), v.mac, v.source);
  }
});

test("cpace shares and decoys", () => {
  const prs = code("123456");
  const ci = channelIdentifier(ids());
  const sid = ids().sid;
  const a = cpace.makeShare(prs, ci, sid);
  const b = cpace.makeShare(prs, ci, sid);
  assert.equal(a.point.length, cpace.POINT_SIZE);
  assert.equal(a.scalar.length, cpace.SCALAR_SIZE);
  assert.equal(c.hex(cpace.sharedPoint(a.scalar, b.point)), c.hex(cpace.sharedPoint(b.scalar, a.point)));
  // The share matches the generator.
  const g = cpace.calculateGenerator(prs, ci, sid);
  assert.equal(c.hex(cpace.shareFromScalar(g, a.scalar).point), c.hex(a.point));
  // A decoy is a valid point.
  const decoy = cpace.pointFromHash(c.randomBytes(64));
  assert.equal(cpace.sharedPoint(a.scalar, decoy).length, 32);
  // The identity as generator: ShareFromScalar fails.
  assert.equal(codeOf(() => cpace.shareFromScalar(new Uint8Array(32), a.scalar)), "pair.bad_point");
});

test("pairing encodings (CI, ADb)", () => {
  assert.equal(c.hex(channelIdentifier(ids())),
    "0f6b6579776172642f76312f7061697206616363745f310a6465765f6c6170746f70076465765f6e6577");
  assert.equal(c.hex(joiningAd(newDevice())),
    "116b6579776172642f76312f706169722f62086c6170746f702d3203636c69");
});

// pairing_test.cc CodesAreSixDigitsAsTyped.
test("pairing codes are six digits as typed", () => {
  assert.equal(new TextDecoder().decode(normalizeCode("123 456")), "123456");
  assert.equal(new TextDecoder().decode(normalizeCode("123-456")), "123456");
  assert.equal(new TextDecoder().decode(normalizeCode("000000")), "000000");
  assert.equal(new TextDecoder().decode(normalizeCode(" 12-34 56 ")), "123456");
  for (const bad of ["", "12345", "1234567", "12a456", "１２３４５６", "123_456", "١٢٣٤٥٦"]) {
    assert.equal(codeOf(() => normalizeCode(bad)), "pair.bad_code", bad);
  }
});

// pairing_test.cc HonestRunHandsOverTheVaultKey.
test("pairing: an honest run hands over the vault key", () => {
  const a = ShowingSide.start(ids(), normalizeCode("042 917"));
  const b = JoiningSide.answer(ids(), code("042917"), newDevice(), a.message);
  assert.equal(b.message.length, 32);
  assert.equal(b.confirmation.length, CONFIRMATION_SIZE);
  a.check(b.message, newDevice(), b.confirmation);
  const uk = c.randomBytes(32);
  const release = a.seal(uk);
  assert.equal(release.confirmation.length, CONFIRMATION_SIZE);
  assert.equal(release.payload.length, 1 + 24 + 33 + 16);
  assert.equal(c.hex(b.receive(release)), c.hex(uk));
  // Both sides are one-shot.
  assert.equal(codeOf(() => a.seal(uk)), "pair.closed");
  assert.equal(codeOf(() => a.check(b.message, newDevice(), b.confirmation)), "pair.closed");
  assert.equal(codeOf(() => b.receive(release)), "pair.closed");
});

// pairing_test.cc WrongCodeFailsAndLeavesNoSecondGuess.
test("pairing: a wrong code fails and leaves no second guess", () => {
  const a = ShowingSide.start(ids(), code("042917"));
  const wrong = JoiningSide.answer(ids(), code("042918"), newDevice(), a.message);
  assert.equal(codeOf(() => a.check(wrong.message, newDevice(), wrong.confirmation)),
    "pair.wrong_code");
  const right = JoiningSide.answer(ids(), code("042917"), newDevice(), a.message);
  assert.equal(codeOf(() => a.check(right.message, newDevice(), right.confirmation)),
    "pair.closed");
  assert.equal(codeOf(() => a.seal(c.randomBytes(32))), "pair.closed");
});

// pairing_test.cc ARelayThatChangesWhatIsBoundFailsTheConfirmation: either
// device id swapped, the session, the account, the new device's name.
test("pairing: a relay that changes what is bound fails the confirmation", () => {
  const changes: Array<(seenByB: PairingIds, toldToA: JoiningDevice, bDevice: JoiningDevice) => void> = [
    (i) => { i.shownDeviceId = "dev_other"; },
    (i) => { i.joiningDeviceId = "dev_attacker"; },
    (i) => { i.sid[0] ^= 1; },
    (i) => { i.accountId = "acct_2"; },
    (_i, toldToA) => { toldToA.name = "innocent-name"; },
    (_i, toldToA) => { toldToA.type = "web"; },
  ];
  changes.forEach((change, what) => {
    const a = ShowingSide.start(ids(), code("000000"));
    const seenByB = ids();
    const toldToA = newDevice();
    const bDevice = newDevice();
    change(seenByB, toldToA, bDevice);
    const b = JoiningSide.answer(seenByB, code("000000"), bDevice, a.message);
    assert.equal(codeOf(() => a.check(b.message, toldToA, b.confirmation)), "pair.wrong_code",
      `change ${what}`);
  });
});

// pairing_test.cc IdentityInvalidAndReflectedPointsAbort.
test("pairing: identity, invalid and reflected points abort", () => {
  const identity = new Uint8Array(32);
  const invalid = h("2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c");
  for (const bad of [identity, invalid, new Uint8Array(31).fill(1)]) {
    assert.equal(codeOf(() => JoiningSide.answer(ids(), code("123456"), newDevice(), bad)),
      "pair.bad_point");
    const a = ShowingSide.start(ids(), code("123456"));
    assert.equal(codeOf(() => a.check(bad, newDevice(), new Uint8Array(CONFIRMATION_SIZE))),
      "pair.bad_point");
    assert.equal(codeOf(() => a.seal(c.randomBytes(32))), "pair.closed");
  }
  // Reflection: A's own Ya sent back as Yb.
  const a = ShowingSide.start(ids(), code("123456"));
  assert.equal(codeOf(() => a.check(a.message.slice(), newDevice(),
    new Uint8Array(CONFIRMATION_SIZE))), "pair.bad_point");
});

// pairing_test.cc AnEditedReleaseIsRefused.
test("pairing: an edited release is refused", () => {
  for (const what of ["confirmation", "payload", "short confirmation", "short payload"]) {
    const a = ShowingSide.start(ids(), code("314159"));
    const b = JoiningSide.answer(ids(), code("314159"), newDevice(), a.message);
    a.check(b.message, newDevice(), b.confirmation);
    const release = a.seal(c.randomBytes(32));
    if (what === "confirmation") {
      release.confirmation[10] ^= 1;
      assert.equal(codeOf(() => b.receive(release)), "pair.wrong_code", what);
    } else if (what === "payload") {
      release.payload[release.payload.length - 1] ^= 1;
      assert.equal(codeOf(() => b.receive(release)), "pair.bad_payload", what);
    } else if (what === "short confirmation") {
      release.confirmation = release.confirmation.subarray(0, 32);
      assert.equal(codeOf(() => b.receive(release)), "pair.wrong_code", what);
    } else {
      release.payload = release.payload.subarray(0, 20);
      assert.equal(codeOf(() => b.receive(release)), "pair.bad_payload", what);
    }
    assert.equal(codeOf(() => b.receive(release)), "pair.closed", what);
  }
});

test("pairing: malformed ids, session, device and code are refused", () => {
  const cases: Array<[string, (i: PairingIds, d: JoiningDevice) => void, string]> = [
    ["account id", (i) => { i.accountId = "acct 1"; }, "protocol.invalid_id"],
    ["shown device id", (i) => { i.shownDeviceId = ""; }, "protocol.invalid_id"],
    ["joining device id", (i) => { i.joiningDeviceId = "x".repeat(65); }, "protocol.invalid_id"],
    ["session", (i) => { i.sid = new Uint8Array(15); }, "pair.bad_session"],
  ];
  const a = ShowingSide.start(ids(), code("271828"));
  for (const [what, change, error] of cases) {
    const i = ids();
    change(i, newDevice());
    assert.equal(codeOf(() => ShowingSide.start(i, code("271828"))), error, what);
    assert.equal(codeOf(() => JoiningSide.answer(i, code("271828"), newDevice(), a.message)), error,
      what);
  }
  for (const device of [{ name: "", type: "cli" }, { name: "n".repeat(65), type: "cli" },
    { name: "é".repeat(33), type: "cli" }, { name: "laptop-2", type: "" }]) {
    assert.equal(codeOf(() => JoiningSide.answer(ids(), code("271828"), device, a.message)),
      "pair.bad_device", device.name);
  }
  // 64 bytes is fine.
  JoiningSide.answer(ids(), code("271828"), { name: "é".repeat(32), type: "t".repeat(64) }, a.message);
  for (const bad of ["12345", "1234567", ""]) {
    assert.equal(codeOf(() => ShowingSide.start(ids(), code(bad))), "pair.bad_code", bad);
    assert.equal(codeOf(() => JoiningSide.answer(ids(), code(bad), newDevice(), a.message)),
      "pair.bad_code", bad);
  }
  // A bad device in B's answer spends A too.
  const b = JoiningSide.answer(ids(), code("271828"), newDevice(), a.message);
  assert.equal(codeOf(() => a.check(b.message, { name: "", type: "cli" }, b.confirmation)),
    "pair.bad_device");
  assert.equal(codeOf(() => a.check(b.message, newDevice(), b.confirmation)), "pair.closed");
});

// pairing_offline_test.cc, on a window of 10^4 codes around the real one
// rather than all 10^6 (that C++ test is labelled "slow"): K formed from a
// code's generator, Ya or Yb never makes the recorded Tb verify, while a
// confirmation made as a broken protocol would (K = the generator) is picked
// out at the right code and only there.
test("pairing: a recorded transcript does not give the code away offline", () => {
  const kCode = "583920";
  const device = newDevice();
  const a = ShowingSide.start(ids(), code(kCode));
  const b = JoiningSide.answer(ids(), code(kCode), device, a.message);
  const ya = a.message, yb = b.message, tb = b.confirmation;
  const ci = channelIdentifier(ids());
  const sid = ids().sid;
  const transcript = cpace.transcriptIr(ya, c.utf8("keyward/v1/pair/a"), yb, joiningAd(device));
  const confirmation = (k: Uint8Array) => {
    const isk = cpace.isk(sid, k, transcript);
    const kb = c.hmacSha512(isk, c.utf8("keyward/v1/pair/confirm-b"));
    return c.hmacSha512(kb, transcript);
  };
  // The honest Tb is the formula's, with the real K (sanity for the loop).
  a.check(yb, device, tb);
  const brokenTb = confirmation(cpace.calculateGenerator(code(kCode), ci, sid));
  let matches = 0;
  const found: string[] = [];
  for (let n = 580000; n < 590000; n++) {
    const guess = String(n).padStart(6, "0");
    const tg = confirmation(cpace.calculateGenerator(code(guess), ci, sid));
    if (c.constantTimeEqual(tg, tb)) matches++;
    if (c.constantTimeEqual(tg, brokenTb)) found.push(guess);
    if (n % 1000 === 0 &&
      (c.constantTimeEqual(confirmation(ya), tb) || c.constantTimeEqual(confirmation(yb), tb))) {
      matches++;
    }
  }
  assert.equal(matches, 0);
  assert.deepEqual(found, [kCode]);
});
