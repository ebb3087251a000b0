// The Enpass story across the browser and the CLI: a member asks for
// recovery in the page, the owner approves with the CLI (the link is made
// by the CLI), the member redeems the link in the page (code, new master
// password), then signs in with the CLI and reads the same vault. The
// link's secret must leave the address bar at once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import {
  aliceAndBob, approveWithCli, askRecoveryInPage, launch, PASSWORD, screenshot, Server, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";
const NEW_PASSWORD = "a brand new master password 42";

before(async () => {
  await server.start();
  const people = await aliceAndBob(server);
  alice = people.alice;
  const bob = people.bob;
  server.cli("bob", ["item", "add", "--name", "Mail", "--username", "bob"], "mail-secret\n",
    { KEYWARD_SESSION: bob });
  browser = await launch();
});

after(() => tearDown(browser, server));

test("a link made by the CLI is redeemed in the page, and the vault is the same", async () => {
  const { page, problems } = await watchedPage(browser);
  // bob asks, in the page; alice approves with the CLI, which makes the link.
  await askRecoveryInPage(page, server, server.url, "bob@example.com");
  const link = approveWithCli(server, "alice", alice);

  // bob opens it: the fragment is gone from the address bar at once.
  await page.goto(link);
  await page.getByRole("heading", { name: "Recover your account" }).waitFor();
  assert.equal(new URL(page.url()).hash, "");
  assert.equal(await page.evaluate(() => location.hash), "");
  const seen = server.mailCount("bob@example.com");
  await page.getByRole("button", { name: "Email me a code" }).click();
  await page.getByLabel("6-digit code from the email").waitFor();
  await page.getByLabel("6-digit code from the email").fill(await server.code("bob@example.com", seen));
  await page.getByRole("button", { name: "Check the code" }).click();
  await page.getByLabel("New master password", { exact: true }).waitFor({ timeout: 30_000 });
  // Too short, then two different ones: said in words.
  await page.getByLabel("New master password", { exact: true }).fill("short");
  await page.getByLabel("Repeat the new master password").fill("short");
  await page.getByRole("button", { name: "Set the new master password" }).click();
  await page.getByText("Use at least 12 characters.").waitFor();
  await page.getByLabel("New master password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Repeat the new master password").fill(`${NEW_PASSWORD}!`);
  await page.getByRole("button", { name: "Set the new master password" }).click();
  await page.getByText("The two passwords differ.").waitFor();
  await page.getByLabel("Repeat the new master password").fill(NEW_PASSWORD);
  await screenshot(page, "redeem-new-password");
  await page.getByRole("button", { name: "Set the new master password" }).click();
  await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 30_000 });
  assert.match(await page.locator("main").innerText(), /Account recovery renewed with: Acme/);
  await screenshot(page, "redeem-done");

  // The old password no longer opens; the new one opens the same vault.
  assert.throws(() => server.cli("bob-cli", ["login", "--email", "bob@example.com"],
    `${PASSWORD}\n`));
  const out = server.cli("bob-cli", ["login", "--email", "bob@example.com"], `${NEW_PASSWORD}\n`);
  const session = out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  const items = JSON.parse(server.cli("bob-cli", ["--json", "item", "list"], "",
    { KEYWARD_SESSION: session }));
  assert.deepEqual(items.items.map((i: { name: string }) => i.name), ["Mail"]);
  // The link works once.
  const again = await watchedPage(browser);
  await again.page.goto(link);
  await again.page.getByRole("button", { name: "Email me a code" }).click();
  await again.page.getByText("This recovery link was already used.").waitFor();
  assert.deepEqual(problems, []);
  assert.deepEqual(again.problems, []);
});
