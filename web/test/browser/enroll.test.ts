// A member's account recovery in the page, with two organizations: bob
// enrolls in Acme from the page (its fingerprint compared, the master
// password re-checked, bad input in words); asks for recovery; the link
// (approved by Acme's owner with the CLI) vouches for Acme only, so the
// redeem page offers Beta with its fingerprint and renews Beta's escrow too
// when bob ticks it; then he withdraws from Beta in the page.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";

import {
  approveWithCli, askRecoveryInPage, launch, openRecoveryLink, PASSWORD, screenshot, Server, signInPage,
  tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";
let bob = "";
const fingerprints: Record<string, string> = {};
const NEW_PASSWORD = "a brand new master password 42";

// `owner` makes an organization (opt-in) and bob joins it (not enrolled).
async function orgWithBob(owner: string, session: string, name: string): Promise<void> {
  const seen = server.mailCount("bob@example.com");
  server.cli(owner, ["org", "create", name], "", { KEYWARD_SESSION: session });
  server.cli(owner, ["org", "policy", "set", "--enrollment", "opt-in"], "", { KEYWARD_SESSION: session });
  server.cli(owner, ["org", "invite", "bob@example.com", "--role", "user"], "", { KEYWARD_SESSION: session });
  const token = (await server.mail("bob@example.com", /keyward org join ([A-Za-z0-9_-]+)/, seen))[1];
  fingerprints[name] = (await server.mail("bob@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/, seen))[1];
  server.cli("bob", ["--yes", "org", "join", token, "--fingerprint", fingerprints[name]], "",
    { KEYWARD_SESSION: bob });
}

before(async () => {
  await server.start();
  alice = await server.newAccount("alice", "alice@example.com");
  const dave = await server.newAccount("dave", "dave@example.com");
  bob = await server.newAccount("bob", "bob@example.com");
  server.cli("bob", ["item", "add", "--name", "Mail", "--username", "bob"], "mail-secret\n",
    { KEYWARD_SESSION: bob });
  await orgWithBob("dave", dave, "Beta");
  await orgWithBob("alice", alice, "Acme");
  // bob enrolls in Beta with the CLI.
  const beta = JSON.parse(server.cli("bob", ["--json", "org", "list"], "", { KEYWARD_SESSION: bob }))
    .orgs.find((o: { name: string }) => o.name === "Beta");
  server.cli("bob", ["--yes", "recovery", "enroll", "--org", beta.id], `${PASSWORD}\n`, { KEYWARD_SESSION: bob });
  browser = await launch();
});

after(() => tearDown(browser, server));

async function recoveryPage(page: Page, password: string): Promise<void> {
  await signInPage(page, server.url, "bob@example.com", password);
  await page.getByRole("button", { name: "Account recovery" }).click();
  await page.getByRole("heading", { name: "Account recovery" }).waitFor();
}

function states(): Record<string, string> {
  const out = server.cli("bob", ["--json", "recovery", "status"], "", { KEYWARD_SESSION: bob });
  return Object.fromEntries(JSON.parse(out).orgs.map((o: { name: string; state: string; epoch: number }) =>
    [o.name, `${o.state} ${o.epoch}`]));
}

test("enroll in the page; a redemption renews a confirmed second organization; withdraw", async () => {
  const { page, problems } = await watchedPage(browser);
  await recoveryPage(page, PASSWORD);
  await page.getByRole("button", { name: "Enroll in Acme" }).click();
  assert.equal(await page.locator("#signing-fingerprint").innerText(), fingerprints.Acme);
  await page.getByRole("button", { name: "Enroll", exact: true }).click();
  await page.getByText("Compare the fingerprint and tick the box first.").waitFor();
  await page.getByLabel("This is the fingerprint in my invitation email").check();
  await page.getByLabel("Your master password").fill("not my password");
  await page.getByRole("button", { name: "Enroll", exact: true }).click();
  await page.getByText("The email or master password is wrong.").waitFor({ timeout: 30_000 });
  await page.getByLabel("Your master password").fill(PASSWORD);
  await page.getByRole("button", { name: "Enroll", exact: true }).click();
  await page.getByText("You are enrolled in account recovery with Acme.").waitFor({ timeout: 30_000 });
  await screenshot(page, "account-recovery");
  assert.deepEqual(states(), { Acme: "enrolled 1", Beta: "enrolled 1" });

  // The request goes to Acme (the newest enrollment); its link vouches for
  // Acme, and bob confirms Beta's fingerprint himself.
  await askRecoveryInPage(page, server, server.url, "bob@example.com");
  const link = approveWithCli(server, "alice", alice);
  await openRecoveryLink(page, server, link, "bob@example.com");
  await page.getByLabel("New master password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Repeat the new master password").fill(NEW_PASSWORD);
  assert.match(await page.locator("form").innerText(), new RegExp(`Renew with Beta: ${fingerprints.Beta}`));
  await page.getByLabel(/^Renew with Beta/).check();
  await screenshot(page, "redeem-confirm-other-org");
  await page.getByRole("button", { name: "Set the new master password" }).click();
  await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 30_000 });
  assert.match(await page.locator("main").innerText(), /Account recovery renewed with: (Acme, Beta|Beta, Acme)/);
  const login = server.cli("bob", ["login", "--email", "bob@example.com"], `${NEW_PASSWORD}\n`);
  bob = login.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  assert.deepEqual(states(), { Acme: "enrolled 2", Beta: "enrolled 2" });

  // Withdraw from Beta in the page.
  await recoveryPage(page, NEW_PASSWORD);
  await page.getByRole("button", { name: "Withdraw from Beta" }).click();
  await page.getByLabel("Your master password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Withdraw", exact: true }).click();
  await page.getByText("You withdrew from account recovery with Beta.").waitFor({ timeout: 30_000 });
  assert.equal(states().Beta.split(" ")[0], "not_enrolled");
  assert.deepEqual(problems, []);
});
