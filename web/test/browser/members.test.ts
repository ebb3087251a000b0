// The console's members page and admin-reset mode, in a real Chromium with
// mail through a real SMTP server: an admin invited from the page, granted
// the recovery key to the member key the admin confirmed by fingerprint (a
// wrong one refused, nothing granted); a member's master password reset by
// the admin in the browser (a temporary password shown once); the member
// signing in with it, forced to choose a new one (renewing the escrow to the
// organization whose fingerprint they ticked), and reading the same vault,
// in the page and in the CLI.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";

import {
  launch, openConsole, PASSWORD, screenshot, Server, signInPage, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";
let fingerprint = "";
const NEW_PASSWORD = "bob's own new master password";

before(async () => {
  await server.start(undefined, [], true);
  alice = await server.newAccount("alice", "alice@example.com");
  const bob = await server.newAccount("bob", "bob@example.com");
  const as = (s: string) => ({ KEYWARD_SESSION: s });
  server.cli("alice", ["org", "create", "Acme"], "", as(alice));
  server.cli("alice", ["org", "policy", "set", "--enrollment", "opt-in", "--mode", "admin-reset"], "",
    as(alice));
  server.cli("alice", ["org", "invite", "bob@example.com", "--role", "user"], "", as(alice));
  const token = (await server.mail("bob@example.com", /keyward org join ([A-Za-z0-9_-]+)/))[1];
  fingerprint = (await server.mail("bob@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/))[1];
  server.cli("bob", ["--yes", "org", "join", token, "--fingerprint", fingerprint], "", as(bob));
  server.cli("bob", ["--yes", "recovery", "enroll"], `${PASSWORD}\n`, as(bob));
  server.cli("bob", ["item", "add", "--name", "Mail", "--username", "bob"], "mail-secret\n", as(bob));
  browser = await launch();
});

after(() => tearDown(browser, server));

async function membersOf(page: Page): Promise<void> {
  await signInPage(page, server.url, "alice@example.com");
  await openConsole(page, fingerprint);
  await page.getByRole("button", { name: "Members" }).click();
  await page.getByRole("heading", { name: "Acme: members" }).waitFor();
}

test("invite and grant from the page; an admin reset; the member chooses a new password", async () => {
  const { page, problems } = await watchedPage(browser);
  await membersOf(page);
  await screenshot(page, "console-members");

  // Invite carol as admin, from the page; she joins with the CLI.
  await page.getByLabel("Email", { exact: true }).fill("carol@example.com");
  await page.getByLabel("Role", { exact: true }).selectOption("admin");
  await page.getByRole("button", { name: "Send the invitation" }).click();
  await page.getByText("Invitation emailed to carol@example.com.").waitFor();
  const carol = await server.newAccount("carol", "carol@example.com");
  const token = (await server.mail("carol@example.com", /keyward org join ([A-Za-z0-9_-]+)/))[1];
  server.cli("carol", ["--yes", "org", "join", token, "--fingerprint", fingerprint], "",
    { KEYWARD_SESSION: carol });
  const carolKey = JSON.parse(server.cli("carol", ["--json", "account", "show"], "",
    { KEYWARD_SESSION: carol })).member_key_fingerprint;

  // Grant her the recovery key: a wrong fingerprint grants nothing.
  await page.getByRole("button", { name: "Members" }).click();
  await page.getByRole("button", { name: "Manage carol@example.com" }).click();
  await page.getByRole("button", { name: "Grant the recovery key" }).click();
  await page.getByText("Enter the member's key fingerprint first").waitFor();
  await page.getByLabel("The member's key fingerprint").fill("00000000 11111111 22222222 33333333 44444444");
  await page.getByRole("button", { name: "Grant the recovery key" }).click();
  await page.getByText("The fingerprint you entered is not the one").waitFor();
  await page.getByLabel("The member's key fingerprint").fill(carolKey.toUpperCase());
  await page.getByRole("button", { name: "Grant the recovery key" }).click();
  await page.getByText("carol@example.com now holds the recovery key.").waitFor();
  const members = JSON.parse(server.cli("alice", ["--json", "org", "members"], "",
    { KEYWARD_SESSION: alice }));
  const listed = members.members.find((m: { email: string }) => m.email === "carol@example.com");
  assert.ok(listed.grant_key_version >= 1, JSON.stringify(listed));

  // Reset bob's master password: a temporary one, shown once.
  await page.getByRole("button", { name: "Manage bob@example.com" }).click();
  const seen = server.mailCount("bob@example.com");
  await page.getByRole("button", { name: "Reset the master password" }).click();
  await page.getByRole("heading", { name: "Temporary master password — shown once" }).waitFor({ timeout: 30_000 });
  const temporary = await page.locator("#temporary-password").inputValue();
  assert.equal(temporary.length, 20);
  await screenshot(page, "console-temporary-password");
  await server.mail("bob@example.com", /reset/i, seen);

  // bob signs in with it and must choose a new one at once.
  const bob = await watchedPage(browser);
  await signInPage(bob.page, server.url, "bob@example.com", temporary, "Choose a new master password");
  await bob.page.getByLabel("New master password", { exact: true }).fill(NEW_PASSWORD);
  await bob.page.getByLabel("Repeat the new master password").fill(NEW_PASSWORD);
  await bob.page.getByRole("button", { name: "Change the master password" }).click();
  await bob.page.getByText("Compare and tick Acme's fingerprint").waitFor();
  assert.match(await bob.page.locator("form").innerText(), new RegExp(fingerprint));
  await screenshot(bob.page, "change-password-forced");
  await bob.page.getByLabel(/^Acme:/).check();
  await bob.page.getByRole("button", { name: "Change the master password" }).click();
  await bob.page.getByText("Your master password is changed.").waitFor({ timeout: 30_000 });
  assert.equal(await bob.page.getByRole("list", { name: "Items" }).innerText(), "Mail\nbob");

  // The CLI agrees: the temporary password is dead, the new one opens the
  // same vault, and bob is still enrolled (a fresh escrow).
  assert.throws(() => server.cli("bob-cli", ["login", "--email", "bob@example.com"], `${temporary}\n`));
  const out = server.cli("bob-cli", ["login", "--email", "bob@example.com"], `${NEW_PASSWORD}\n`);
  const session = out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  const items = JSON.parse(server.cli("bob-cli", ["--json", "item", "list"], "", { KEYWARD_SESSION: session }));
  assert.deepEqual(items.items.map((i: { name: string }) => i.name), ["Mail"]);
  const after = JSON.parse(server.cli("alice", ["--json", "org", "members"], "", { KEYWARD_SESSION: alice }));
  const bobRow = after.members.find((m: { email: string }) => m.email === "bob@example.com");
  assert.equal(bobRow.enrollment.state, "enrolled");
  assert.ok(bobRow.enrollment.epoch >= 3, JSON.stringify(bobRow.enrollment));

  // carol back to user: no grant needed, her recovery key is dropped.
  await page.getByRole("button", { name: "Members" }).click();
  await page.getByRole("button", { name: "Manage carol@example.com" }).click();
  await page.getByLabel("Role", { exact: true }).selectOption("user");
  await page.getByRole("button", { name: "Change the role" }).click();
  await page.getByText("carol@example.com is now user.").waitFor();
  assert.deepEqual(problems, []);
  assert.deepEqual(bob.problems, []);
});
