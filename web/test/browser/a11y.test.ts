// "Usable by everyone" (docs/web.md): axe-core on every page there is so far
// (no serious or critical violation), the sign-in page at 360 px wide, and
// signing in with the keyboard alone. axe is injected into a context that
// bypasses the Content-Security-Policy (the pages' own tests keep it on).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";

import {
  aliceAndBob, annWithAnItem, askRecoveryInPage, launch, openConsole, PASSWORD, screenshot, Server,
  signInPage, tearDown,
} from "./harness.js";

const server = new Server();
let browser: Browser;
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

before(async () => {
  await server.start();
  await annWithAnItem(server);
  await aliceAndBob(server);
  browser = await launch();
});

after(() => tearDown(browser, server));

async function axe(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  const bad = result.filter((v: any) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${name}: ${JSON.stringify(result)}`);
}

test("no serious or critical axe-core violation on any page", async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").waitFor();
  await axe(page, "sign in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Enter the email address of your account.").waitFor();
  await axe(page, "sign in with an error");
  await page.getByRole("button", { name: "Forgot master password?" }).click();
  await axe(page, "forgot master password");
  await page.goto(`${server.url}/recover/req-1#${"A".repeat(43)}`);
  await page.getByRole("heading", { name: "Recover your account" }).waitFor();
  await axe(page, "recovery link");
  await signInPage(page, server.url, "ann@example.com");
  await axe(page, "vault");
  await context.close();
});

test("signing in with the keyboard alone, at 360 px wide", async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  // The email field has the focus; Tab goes to the password, Enter submits.
  await page.keyboard.type("ann@example.com");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
  // Nothing wider than the screen.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `page is ${width}px wide`);
  await screenshot(page, "vault-360px");
  // Sign out is reachable by Tab and has a visible focus ring.
  let focused = "";
  for (let i = 0; i < 10 && focused !== "Sign out"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
  }
  assert.equal(focused, "Sign out");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  assert.notEqual(outline, "none");
  await page.keyboard.press("Enter");
  await page.getByText("You are signed out.").waitFor();
  await context.close();
});

// Tab until the focused element reads `name` (at most 40 presses).
async function tabTo(page: Page, name: string): Promise<void> {
  let focused = "";
  for (let i = 0; i < 40 && focused !== name; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => {
      const a = document.activeElement;
      return a?.getAttribute("aria-label") ?? a?.textContent?.trim() ?? "";
    });
  }
  assert.equal(focused, name);
}

test("the admin console: axe-core on each page, and an approval with the keyboard alone at 360 px", async () => {
  const bob = await browser.newPage();
  await askRecoveryInPage(bob, server, server.url, "bob@example.com");
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.keyboard.type("alice@example.com");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
  await tabTo(page, "Admin console");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Check Acme's signing key" }).waitFor();
  await axe(page, "console: signing key");
  await tabTo(page, "The fingerprints match");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Acme: recovery requests" }).waitFor();
  await axe(page, "console: requests");
  await screenshot(page, "console-requests-360px");
  await tabTo(page, "Open the request of bob@example.com");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Recovery request" }).waitFor();
  await axe(page, "console: request");
  await tabTo(page, "Approve");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Recovery link — shown once" }).waitFor({ timeout: 30_000 });
  await axe(page, "console: link");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `page is ${width}px wide`);
  await screenshot(page, "console-link-360px");
  await tabTo(page, "Start a recovery");
  await page.keyboard.press("Enter");
  await page.getByLabel("Member email").waitFor();
  await axe(page, "console: start a recovery");
  await context.close();
});

test("axe-core on the members, event log, policy, rotation, vault item and password pages", async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await signInPage(page, server.url, "alice@example.com");
  await page.getByRole("button", { name: "Add an item" }).click();
  await axe(page, "vault: add an item");
  await page.getByLabel("Name", { exact: true }).fill("Router");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("heading", { name: "Router" }).waitFor();
  await axe(page, "vault: item");
  await page.getByRole("button", { name: "Back to the list" }).click();
  await page.getByRole("button", { name: "Change master password" }).click();
  await page.getByLabel("Current master password").waitFor();
  await axe(page, "change master password");
  await page.getByRole("button", { name: "Cancel" }).click();
  for (const [nav, heading] of [["Account recovery", "Account recovery"], ["Cloud backups", "Cloud backups"],
    ["Pair a new device", "Pair a new device"]]) {
    await page.getByRole("button", { name: nav, exact: true }).click();
    await page.getByRole("heading", { name: heading }).waitFor();
    if (nav === "Pair a new device") await page.locator("#pairing-code").waitFor();
    await axe(page, heading);
    await page.getByRole("button", { name: "Back to your vault" }).click();
    await page.getByRole("heading", { name: "Your vault" }).waitFor();
  }
  await openConsole(page);
  for (const [nav, heading] of [["Members", "Acme: members"], ["Event log", "Acme: event log"],
    ["Policy", "Acme: policy"], ["Key rotation", "Acme: key rotation"]]) {
    await page.getByRole("button", { name: nav, exact: true }).click();
    await page.getByRole("heading", { name: heading }).waitFor();
    await axe(page, heading);
  }
  await page.getByRole("button", { name: "Members", exact: true }).click();
  await page.getByRole("button", { name: "Manage bob@example.com" }).click();
  await page.getByRole("heading", { name: "bob@example.com" }).waitFor();
  await axe(page, "member");
  await context.close();
});
