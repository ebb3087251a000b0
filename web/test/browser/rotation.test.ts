// Key rotation in the browser: the new key's statement signed in the page,
// the new key granted to an admin whose member key fingerprint was entered,
// the escrows re-wrapped with a progress bar; interrupted (the server
// refuses the re-wrapped shares) and the tab closed, then finished from a
// new tab; afterwards the other admin approves a recovery with the CLI,
// which opens the re-wrapped share with the key the browser granted.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";

import {
  aliceAndBob, approveWithCli, askRecoveryInPage, launch, openConsole, screenshot, Server, signInPage,
  tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let carol = "";
let carolKey = "";

before(async () => {
  await server.start();
  const { alice } = await aliceAndBob(server);
  carol = await server.newAccount("carol", "carol@example.com");
  server.cli("alice", ["org", "invite", "carol@example.com", "--role", "admin"], "", { KEYWARD_SESSION: alice });
  const token = (await server.mail("carol@example.com", /keyward org join ([A-Za-z0-9_-]+)/))[1];
  const fingerprint = (await server.mail("carol@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/))[1];
  server.cli("carol", ["--yes", "org", "join", token, "--fingerprint", fingerprint], "", { KEYWARD_SESSION: carol });
  carolKey = JSON.parse(server.cli("carol", ["--json", "account", "show"], "", { KEYWARD_SESSION: carol }))
    .member_key_fingerprint;
  server.cli("alice", ["org", "grant-recovery", "carol@example.com", "--fingerprint", carolKey], "",
    { KEYWARD_SESSION: alice });
  browser = await launch();
});

after(() => tearDown(browser, server));

async function rotationPage(page: Page): Promise<void> {
  await signInPage(page, server.url, "alice@example.com");
  await openConsole(page);
  await page.getByRole("button", { name: "Key rotation" }).click();
  await page.getByRole("heading", { name: "Acme: key rotation" }).waitFor();
}

test("rotate in the browser, interrupted and finished from a new tab; the new key works", async () => {
  const first = await watchedPage(browser);
  await rotationPage(first.page);
  await first.page.getByLabel("Member key fingerprint of carol@example.com").fill(carolKey);
  // The server refuses the re-wrapped shares this once.
  await first.page.route("**/rotation/escrows", (route) => route.fulfill({ status: 409,
    contentType: "application/json",
    body: JSON.stringify({ error: { code: "test.interrupted", message: "Interrupted by the test." } }) }));
  await first.page.getByRole("button", { name: "Rotate the recovery key" }).click();
  await first.page.getByText("Open Key rotation again to finish it").waitFor({ timeout: 30_000 });
  await first.page.close();

  const second = await watchedPage(browser);
  await rotationPage(second.page);
  await second.page.getByText("A key rotation is in progress: 1 escrow(s)").waitFor();
  await second.page.getByRole("button", { name: "Finish the rotation" }).click();
  await second.page.getByText("The interrupted rotation is finished: key version 2. 1 escrow(s) re-wrapped").waitFor({ timeout: 30_000 });
  assert.equal(await second.page.locator("#rotation-progress").getAttribute("value"), "1");
  await screenshot(second.page, "console-rotation");

  // carol holds the new key (granted by the browser), bob's share moved to
  // it: her CLI approves his recovery and makes the link.
  const bob = await watchedPage(browser);
  await askRecoveryInPage(bob.page, server, server.url, "bob@example.com");
  const link = approveWithCli(server, "carol", carol);
  assert.ok(link.startsWith(`${server.url}/recover/`));
  const shown = JSON.parse(server.cli("carol", ["--json", "org", "policy", "show"], "", { KEYWARD_SESSION: carol }));
  assert.equal(shown.statement_version, 3);
  assert.deepEqual(second.problems, []);
  assert.deepEqual(bob.problems, []);
});
