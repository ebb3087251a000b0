// The admin console in a real Chromium, with mail through a real SMTP
// server: the Enpass story (a member asks in the page, two admins approve
// in their browsers with a quorum of 2, the link is made in the second
// admin's browser, the member redeems it in the page and reads the same
// vault), a decline with a reason that is emailed, a new request after it,
// search and counts, a link made in the browser redeemed by the CLI, and an
// admin starting a recovery.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import jsQR from "jsqr";
import type { Browser, Page } from "playwright-core";

import {
  askRecoveryInPage, launch, openConsole, openRecoveryLink, organization, screenshot, Server, setNewPassword,
  signInPage, tearDown, watchedPage, type Watched,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let signingFingerprint = "";
const NEW_PASSWORD = "a brand new master password 42";
const NEWER_PASSWORD = "the newest master password 43";

before(async () => {
  await server.start(undefined, [], true);
  const alice = await server.newAccount("alice", "alice@example.com");
  const bob = await server.newAccount("bob", "bob@example.com");
  await organization(server, "alice", alice, "bob", "bob@example.com", bob);
  server.cli("bob", ["item", "add", "--name", "Mail", "--username", "bob"], "mail-secret\n",
    { KEYWARD_SESSION: bob });
  // carol: a second admin, holding the recovery key; then a quorum of 2.
  const carol = await server.newAccount("carol", "carol@example.com");
  server.cli("alice", ["org", "invite", "carol@example.com", "--role", "admin"], "",
    { KEYWARD_SESSION: alice });
  const token = (await server.mail("carol@example.com", /keyward org join ([A-Za-z0-9_-]+)/))[1];
  signingFingerprint = (await server.mail("carol@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/))[1];
  server.cli("carol", ["--yes", "org", "join", token, "--fingerprint", signingFingerprint], "",
    { KEYWARD_SESSION: carol });
  const carolKey = JSON.parse(server.cli("carol", ["--json", "account", "show"], "",
    { KEYWARD_SESSION: carol })).member_key_fingerprint;
  server.cli("alice", ["org", "grant-recovery", "carol@example.com", "--fingerprint", carolKey], "",
    { KEYWARD_SESSION: alice });
  server.cli("alice", ["org", "policy", "set", "--quorum", "2"], "", { KEYWARD_SESSION: alice });
  browser = await launch();
});

after(() => tearDown(browser, server));

// Signs in, opens the console and confirms the signing key, after checking
// the page shows the fingerprint the invitation gave.
async function consoleOf(page: Page, email: string, shots = ""): Promise<void> {
  await signInPage(page, server.url, email);
  await openConsole(page, signingFingerprint, shots && `${shots}-fingerprint`);
}

async function openRequestOf(page: Page, email: string): Promise<void> {
  await page.getByRole("button", { name: `Open the request of ${email}` }).first().click();
  await page.getByRole("heading", { name: "Recovery request" }).waitFor();
}

// Approves the open request; returns the link when this approval made one.
async function approveInPage(page: Page, shots = ""): Promise<string | undefined> {
  await page.getByRole("button", { name: "Approve" }).click();
  const shown = page.getByRole("heading", { name: "Recovery link — shown once" });
  const recorded = page.getByRole("heading", { name: "Approval recorded" });
  await shown.or(recorded).waitFor({ timeout: 30_000 });
  if (shots) await screenshot(page, shots);
  if (await recorded.isVisible()) return undefined;
  return page.locator("#recovery-link").inputValue();
}

// The QR code on the page, decoded.
async function qrText(page: Page): Promise<string | undefined> {
  const rgba = await page.evaluate(async () => {
    const svg = document.querySelector("svg.qr")!.cloneNode(true) as SVGSVGElement;
    svg.querySelector(".qr-light")!.setAttribute("fill", "#fff");
    svg.querySelector(".qr-dark")!.setAttribute("fill", "#000");
    svg.setAttribute("width", "400");
    svg.setAttribute("height", "400");
    const img = new Image();
    img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 400;
    const g = canvas.getContext("2d")!;
    g.drawImage(img, 0, 0, 400, 400);
    return Array.from(g.getImageData(0, 0, 400, 400).data);
  });
  return jsQR.default(new Uint8ClampedArray(rgba), 400, 400)?.data;
}

// The member redeems `link` in the page, then signs in and reads the vault.
async function redeemInPage(w: Watched, link: string, password: string): Promise<string> {
  const { page } = w;
  await openRecoveryLink(page, server, link, "bob@example.com");
  await setNewPassword(page, password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByLabel("Master password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
  return page.getByRole("list", { name: "Items" }).innerText();
}

test("the Enpass story in the browser: two admins approve, the member gets the same vault back", async () => {
  const bob = await watchedPage(browser);
  await askRecoveryInPage(bob.page, server, server.url, "bob@example.com");

  // alice approves first: 1 of 2, no link.
  const alice = await watchedPage(browser);
  await consoleOf(alice.page, "alice@example.com", "console");
  assert.ok(await alice.page.getByRole("button", { name: "Pending (1)" }).isVisible());
  await screenshot(alice.page, "console-requests");
  await openRequestOf(alice.page, "bob@example.com");
  const details = await alice.page.locator("dl.details").innerText();
  assert.match(details, /Account recovery/);
  assert.match(details, /Web browser/);
  assert.match(details, /0 of 2/);
  await screenshot(alice.page, "console-request");
  assert.equal(await approveInPage(alice.page), undefined);
  assert.match(await alice.page.locator("main").innerText(), /1 of 2/);

  // carol's approval is the second: her browser makes the link.
  const carol = await watchedPage(browser);
  await consoleOf(carol.page, "carol@example.com");
  await openRequestOf(carol.page, "bob@example.com");
  assert.match(await carol.page.locator("dl.details").innerText(), /1 of 2: alice@example\.com/);
  const seen = server.mailCount("bob@example.com");
  const link = await approveInPage(carol.page, "console-link");
  assert.ok(link?.startsWith(`${server.url}/recover/`), link);
  assert.equal(await qrText(carol.page), link);
  // The member is told by mail (through SMTP), never given the link there.
  await server.mail("bob@example.com", /approved/i, seen);

  assert.equal(await redeemInPage(bob, link!, NEW_PASSWORD), "Mail\nbob");
  for (const w of [alice, bob, carol]) assert.deepEqual(w.problems, []);
});

// `keyward recovery redeem LINK`, answering the emailed code when it comes.
async function redeemWithCli(link: string, password: string): Promise<string> {
  const seen = server.mailCount("bob@example.com");
  const { status, out } = await server.cliAsync("bob-new-device", ["recovery", "redeem", link], async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const code = await server.code("bob@example.com", seen);
    return `${code}\n${password}\n${password}\n`;
  });
  assert.equal(status, 0, out);
  return out;
}

test("decline with a reason (emailed), a new request, search, and a browser link redeemed by the CLI", async () => {
  const bob = await watchedPage(browser);
  await askRecoveryInPage(bob.page, server, server.url, "bob@example.com");
  const alice = await watchedPage(browser);
  await consoleOf(alice.page, "alice@example.com");
  await openRequestOf(alice.page, "bob@example.com");
  // No reason: said in words; then declined with one, which bob gets by mail.
  await alice.page.getByRole("button", { name: "Decline" }).click();
  await alice.page.getByText("Give the member a reason: it is emailed to them.").waitFor();
  await alice.page.getByLabel("Reason for declining (emailed to the member)")
    .fill("Please call the help desk first");
  await alice.page.getByRole("button", { name: "Decline" }).click();
  await alice.page.getByRole("heading", { name: "Request declined" }).waitFor();
  await server.mail("bob@example.com", /Please call the help desk first/);

  // bob asks again; the list counts both, and the search finds only bob's.
  await askRecoveryInPage(bob.page, server, server.url, "bob@example.com");
  await alice.page.getByRole("button", { name: "Requests" }).click();
  await alice.page.getByRole("button", { name: "Declined (1)" }).waitFor();
  assert.ok(await alice.page.getByRole("button", { name: "Pending (1)" }).isVisible());
  assert.ok(await alice.page.getByRole("button", { name: "Link used (1)" }).isVisible());
  await alice.page.getByRole("button", { name: "All (3)" }).click();
  await alice.page.getByRole("button", { name: "All (3)", pressed: true }).waitFor();
  await alice.page.getByLabel("Search by member email").fill("bob");
  await alice.page.getByRole("button", { name: "Search", exact: true }).click();
  await alice.page.getByText("Enter a member's whole email address.").waitFor();
  await alice.page.getByLabel("Search by member email").fill("carol@example.com");
  await alice.page.getByRole("button", { name: "Search", exact: true }).click();
  await alice.page.getByText("No request here.").waitFor();
  await alice.page.getByLabel("Search by member email").fill("BOB@example.com");
  await alice.page.getByRole("button", { name: "Search", exact: true }).click();
  await alice.page.getByRole("table", { name: "All requests of BOB@example.com" }).waitFor();
  assert.equal(await alice.page.locator("table.requests tbody tr").count(), 3);
  await screenshot(alice.page, "console-search");

  // Approved by both in the browser; the CLI redeems the link.
  await alice.page.getByRole("button", { name: "Pending (1)" }).click();
  await alice.page.getByRole("table", { name: "Pending requests" }).waitFor();
  await openRequestOf(alice.page, "bob@example.com");
  assert.equal(await approveInPage(alice.page), undefined);
  const carol = await watchedPage(browser);
  await consoleOf(carol.page, "carol@example.com");
  await openRequestOf(carol.page, "bob@example.com");
  const link = await approveInPage(carol.page);
  assert.ok(link);
  const out = await redeemWithCli(link!, NEWER_PASSWORD);
  assert.match(out, /Your master password was reset/);
  const login = server.cli("bob-new-device", ["login", "--email", "bob@example.com"],
    `${NEWER_PASSWORD}\n`);
  const session = login.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  const items = JSON.parse(server.cli("bob-new-device", ["--json", "item", "list"], "",
    { KEYWARD_SESSION: session }));
  assert.deepEqual(items.items.map((i: { name: string }) => i.name), ["Mail"]);

  // alice starts a recovery for bob herself: pending, started by an admin.
  await alice.page.getByRole("button", { name: "Start a recovery" }).click();
  await alice.page.getByLabel("Member email").fill("nobody@example.com");
  await alice.page.getByRole("button", { name: "Start the recovery" }).click();
  await alice.page.getByText("nobody@example.com is not a member of this organization.").waitFor();
  await alice.page.getByLabel("Member email").fill("bob@example.com");
  await alice.page.getByRole("button", { name: "Start the recovery" }).click();
  await alice.page.getByRole("heading", { name: "Recovery request" }).waitFor();
  assert.match(await alice.page.locator("dl.details").innerText(), /Started by\s+an admin/);
  for (const w of [alice, bob, carol]) assert.deepEqual(w.problems, []);
});
