// Cloud restores from the browser, through a proxy that can edit the
// server's answers: signed in, the page downloads and checks the snapshot
// (a part the server changed is refused and nothing is asked), asks, and
// the admin's approval in the console rolls the vault back; with the
// password lost too, "Forgot master password?" asks for the newest backup
// as well, and the link's page stages it before the new password.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import * as c from "../../src/crypto/primitives.js";
import {
  aliceAndBob, askRecoveryInPage, EditingProxy, launch, openConsole, openRecoveryLink, PASSWORD, screenshot,
  Server, setNewPassword, signInPage, startBehindProxy, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
const proxy = new EditingProxy();
let browser: Browser;
let bob = "";
const NEW_PASSWORD = "a brand new master password 42";

before(async () => {
  await c.init();
  await startBehindProxy(server, proxy);
  ({ bob } = await aliceAndBob(server));
  const as = { KEYWARD_SESSION: bob };
  server.cli("bob", ["item", "add", "--name", "Mail", "--username", "bob"], "mail-secret\n", as);
  server.cli("bob", ["backup", "push"], "", as);
  server.cli("bob", ["item", "add", "--name", "Later", "--username", "bob"], "later-secret\n", as);
  browser = await launch();
});

after(() => tearDown(browser, server, proxy));

// alice approves the one pending request in the console; the link, if any.
async function aliceApproves(): Promise<string | undefined> {
  const w = await watchedPage(browser);
  await signInPage(w.page, proxy.url, "alice@example.com");
  await openConsole(w.page);
  await w.page.getByRole("button", { name: "Open the request of bob@example.com" }).click();
  assert.match(await w.page.locator("dl.details").innerText(), /Cloud backup restore/);
  await w.page.getByRole("button", { name: "Approve" }).click();
  const shown = w.page.getByRole("heading", { name: "Recovery link — shown once" });
  const recorded = w.page.getByRole("heading", { name: "Approval recorded" });
  await shown.or(recorded).waitFor({ timeout: 30_000 });
  const link = (await shown.isVisible()) ? await w.page.locator("#recovery-link").inputValue() : undefined;
  if (!link) assert.match(await w.page.locator("main").innerText(), /rolled back to the cloud backup/);
  assert.deepEqual(w.problems, []);
  return link;
}

function cliItems(person: string, password: string): string[] {
  const out = server.cli(person, ["login", "--email", "bob@example.com"], `${password}\n`);
  const session = out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  bob = session;
  return JSON.parse(server.cli(person, ["--json", "item", "list"], "", { KEYWARD_SESSION: session }))
    .items.map((i: { name: string }) => i.name).sort();
}

test("signed in: a changed backup is refused; an honest one is restored once approved", async () => {
  const w = await watchedPage(browser);
  const { page } = w;
  await signInPage(page, proxy.url, "bob@example.com");
  await page.getByRole("button", { name: "Cloud backups" }).click();
  await page.getByRole("heading", { name: "Cloud backups" }).waitFor();
  await page.getByRole("button", { name: /^Restore the backup of/ }).click();
  await page.getByRole("button", { name: "Ask to restore it" }).click();
  await page.getByText("Tick the box first").waitFor();
  await page.getByLabel("I understand that every other device").check();

  // The server changes a byte of the snapshot: refused, nothing asked.
  proxy.edit = (x, status, body) => {
    if (!/^\/v1\/snapshots\/[^/]+\/parts\/0$/.test(x.path) || status !== 200) return body;
    const j = JSON.parse(body);
    const data = c.fromBase64url(j.data);
    data[data.length - 20] ^= 1;
    j.data = c.base64url(data);
    return JSON.stringify(j);
  };
  await page.getByRole("button", { name: "Ask to restore it" }).click();
  await page.getByText(/backup file was changed|nothing was restored/).waitFor();
  assert.equal(proxy.exchanges.filter((x) => x.path === "/v1/restores").length, 0);
  proxy.edit = undefined;

  await page.getByRole("button", { name: "Ask to restore it" }).click();
  await page.getByRole("heading", { name: "Restore requested" }).waitFor({ timeout: 30_000 });
  await screenshot(page, "cloud-restore-requested");
  assert.equal(await aliceApproves(), undefined);
  // The vault is the backup's: "Later" is gone, for the page and the CLI.
  await page.getByRole("button", { name: "Back to your vault" }).click();
  await page.getByRole("list", { name: "Items" }).waitFor();
  assert.equal(await page.getByRole("list", { name: "Items" }).innerText(), "Mail\nbob");
  assert.deepEqual(cliItems("bob-2", PASSWORD), ["Mail"]);
  assert.deepEqual(w.problems, []);
});

test("password lost too: the link's page restores the newest backup with the new password", async () => {
  const as = { KEYWARD_SESSION: bob };
  server.cli("bob-2", ["item", "add", "--name", "Extra", "--username", "bob"], "extra-secret\n", as);
  server.cli("bob-2", ["backup", "push"], "", as);
  server.cli("bob-2", ["item", "add", "--name", "After", "--username", "bob"], "after-secret\n", as);

  const w = await watchedPage(browser);
  const { page } = w;
  await askRecoveryInPage(page, server, proxy.url, "bob@example.com", true);

  const link = await aliceApproves();
  assert.ok(link);
  await openRecoveryLink(page, server, link!, "bob@example.com");
  await page.getByText("The cloud backup is checked and ready").waitFor({ timeout: 30_000 });
  await setNewPassword(page, NEW_PASSWORD);
  assert.deepEqual(cliItems("bob-3", NEW_PASSWORD), ["Extra", "Mail"]);
  assert.deepEqual(w.problems, []);
});
