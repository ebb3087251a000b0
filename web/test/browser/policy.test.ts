// The policy editor (the statement signed in the browser, verified by the
// CLI from its own pin: the owner's and a member's), bad input in words,
// the server's refusal of an unreachable quorum in words; and an approved
// link that expires: refused on the member's page, shown Expired in the
// console.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Browser } from "playwright-core";

import {
  aliceAndBob, askRecoveryInPage, launch, openConsole, screenshot, Server, signInPage, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";
let bob = "";

before(async () => {
  await server.start();
  ({ alice, bob } = await aliceAndBob(server));
  browser = await launch();
});

after(() => tearDown(browser, server));

async function aliceConsole(w: Awaited<ReturnType<typeof watchedPage>>): Promise<void> {
  await signInPage(w.page, server.url, "alice@example.com");
  await openConsole(w.page);
}

test("a policy signed in the browser is verified by the CLI from its pin", async () => {
  const w = await watchedPage(browser);
  const { page } = w;
  await aliceConsole(w);
  await page.getByRole("button", { name: "Policy" }).click();
  await page.getByRole("heading", { name: "Acme: policy" }).waitFor();
  const save = page.getByRole("button", { name: "Sign and save the policy" });

  // Bad input, in words; nothing sent.
  await page.getByLabel("Approvals needed").fill("0");
  await save.click();
  await page.getByText("The quorum is a whole number from 1 to 10.").waitFor();
  await page.getByLabel("Approvals needed").fill("1");
  await page.getByLabel("Recovery link lifetime").fill("forever");
  await save.click();
  await page.getByText("Write the link lifetime as a number and a unit").waitFor();
  await page.getByLabel("Recovery link lifetime").fill("1m");
  await save.click();
  await page.getByText("The policy is not valid:").waitFor();
  await page.getByLabel("Recovery link lifetime").fill("2h");
  await page.getByLabel("Admins to email").fill("not-an-email");
  await save.click();
  await page.getByText("not-an-email is not an email address.").waitFor();
  await page.getByLabel("Admins to email").fill("");
  // A quorum nobody can reach: the server refuses it, said in words.
  await page.getByLabel("Approvals needed").fill("2");
  await save.click();
  await page.locator("#form-error").filter({ hasText: /recovery admin/i }).waitFor();

  await page.getByLabel("Approvals needed").fill("1");
  await page.getByLabel("Unanswered request lifetime").fill("3d");
  await save.click();
  await page.getByText(/Statement \d+ is signed and saved\./).waitFor();
  await screenshot(page, "console-policy");

  // Both CLIs verify the browser's signature from their own pins.
  for (const [who, session] of [["alice", alice], ["bob", bob]]) {
    const shown = JSON.parse(server.cli(who, ["--json", "org", "policy", "show"], "",
      { KEYWARD_SESSION: session }));
    assert.equal(shown.policy.link_ttl, 7200, who);
    assert.equal(shown.policy.pending_ttl, 3 * 86400, who);
    assert.equal(shown.policy.quorum, 1, who);
  }
  assert.deepEqual(w.problems, []);
});

test("an approved link that expires is refused, and the console shows it expired", async () => {
  const member = await watchedPage(browser);
  await askRecoveryInPage(member.page, server, server.url, "bob@example.com");
  const w = await watchedPage(browser);
  await aliceConsole(w);
  await w.page.getByRole("button", { name: "Open the request of bob@example.com" }).click();
  await w.page.getByRole("button", { name: "Approve" }).click();
  await w.page.getByRole("heading", { name: "Recovery link — shown once" }).waitFor({ timeout: 30_000 });
  const link = await w.page.locator("#recovery-link").inputValue();

  // Its deadline passes (moved into the past in the database).
  const edit = spawnSync("/usr/bin/python3", ["-c",
    "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); " +
    "db.execute(\"UPDATE recovery_requests SET expires_at = 1 WHERE status = 'approved'\"); db.commit()",
    join(server.dir, "data", "keyward.db")], { encoding: "utf8" });
  assert.equal(edit.status, 0, edit.stderr);
  await member.page.goto(link);
  await member.page.getByRole("button", { name: "Email me a code" }).click();
  await member.page.getByText("This recovery link has expired; ask for recovery again.").waitFor();

  await w.page.getByRole("button", { name: "Done: I gave the link to the member" }).click();
  await w.page.getByRole("button", { name: "Expired (1)" }).click();
  await w.page.getByRole("table", { name: "Expired requests" }).waitFor();
  assert.match(await w.page.locator("table.requests tbody").innerText(), /bob@example\.com/);
  assert.deepEqual(w.problems, []);
  assert.deepEqual(member.problems, []);
});
