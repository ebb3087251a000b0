// The console's event log: filters, the whole chain verified in the
// browser, the JSON Lines export byte for byte the CLI's, a head noted
// from the CLI checked, and a row edited in the database caught by the
// browser, naming the first broken link (as the CLI does).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";

import {
  aliceAndBob, launch, openConsole, screenshot, Server, signInPage, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";

before(async () => {
  await server.start();
  alice = (await aliceAndBob(server)).alice;
  browser = await launch();
});

after(() => tearDown(browser, server));

test("the event log: filter, verify, export, and a row edited in the database", async () => {
  const { page, problems } = await watchedPage(browser);
  await signInPage(page, server.url, "alice@example.com");
  await openConsole(page);
  await page.getByRole("button", { name: "Event log" }).click();
  await page.getByRole("heading", { name: "Acme: event log" }).waitFor();
  assert.match(await page.locator("table.requests").innerText(), /org\.created/);

  // Filters: by type, by member, and bad input in words.
  await page.getByLabel("Event type").fill("Not A Type");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByText("An event type is 3 to 64 lowercase letters").waitFor();
  await page.getByLabel("Event type").fill("member.joined");
  await page.getByRole("button", { name: "Filter" }).click();
  // The filtered page, not the table still shown from before the click.
  await page.locator("table.requests tbody td:nth-child(3)")
    .filter({ hasNotText: "member.joined" }).first().waitFor({ state: "detached" });
  const types = await page.locator("table.requests tbody td:nth-child(3)").allInnerTexts();
  assert.deepEqual([...new Set(types)], ["member.joined"]);
  await page.getByLabel("Event type").fill("");
  await page.getByLabel("Member email").fill("bob@example.com");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("table.requests tbody td:nth-child(4)")
    .filter({ hasNotText: "bob@example.com" }).first().waitFor({ state: "detached" });
  const actors = await page.locator("table.requests tbody td:nth-child(4)").allInnerTexts();
  assert.ok(actors.length > 0);
  assert.deepEqual([...new Set(actors)], ["bob@example.com"]);
  await screenshot(page, "console-events");

  // The head the CLI verified, then the browser's verification.
  const cli = JSON.parse(server.cli("alice", ["--json", "events", "verify"], "", { KEYWARD_SESSION: alice }));
  await page.getByLabel("A head you noted before").fill(`${cli.head_seq} ${cli.head_hash}`);
  await page.getByRole("button", { name: "Verify the whole chain" }).click();
  await page.getByText(`The chain verifies: ${cli.head_seq} event(s)`).waitFor();
  assert.match(await page.locator("#chain-result").innerText(), new RegExp(cli.head_hash));

  // The export is the CLI's, byte for byte.
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export (JSON Lines)" }).click();
  const file = await (await download).path();
  const exported = server.cli("alice", ["events", "export", "--format", "jsonl"], "", { KEYWARD_SESSION: alice });
  assert.equal(readFileSync(file, "utf8"), exported);

  // Someone with the database edits event 2's details: the browser names it.
  const edit = spawnSync("/usr/bin/python3", ["-c",
    "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); " +
    "db.execute(\"UPDATE org_events SET details_json='{\\\"role\\\":\\\"owner\\\"}' WHERE seq=2\"); db.commit()",
    join(server.dir, "data", "keyward.db")], { encoding: "utf8" });
  assert.equal(edit.status, 0, edit.stderr);
  await page.getByLabel("A head you noted before").fill("");
  await page.getByRole("button", { name: "Verify the whole chain" }).click();
  await page.getByText("The chain does not verify").waitFor();
  assert.match(await page.locator("#chain-result").innerText(), /event 2: hash does not match/);
  await screenshot(page, "console-events-broken");
  assert.throws(() => server.cli("alice", ["events", "verify"], "", { KEYWARD_SESSION: alice }),
    /event 2: hash does not match/);
  assert.deepEqual(problems, []);
});
