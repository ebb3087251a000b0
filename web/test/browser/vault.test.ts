// The member's vault in the page, against the CLI on the same account: an
// item added in the page (generated password) is read by the CLI, one the
// CLI wrote is searched, revealed and copied in the page, an edit in the
// page reaches the CLI, an edit the CLI made meanwhile is not overwritten
// (stale revision, said in words), and a deletion reaches the CLI. Bad
// input gets words and no 5xx.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import {
  annWithAnItem, launch, PASSWORD, screenshot, Server, signInPage, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
let browser: Browser;
let session = "";

before(async () => {
  await server.start();
  await annWithAnItem(server);
  const out = server.cli("ann", ["login", "--email", "ann@example.com"], `${PASSWORD}\n`);
  session = out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  browser = await launch();
});

after(() => tearDown(browser, server));

interface CliItem {
  id: string;
  name: string;
  username: string;
}

function cliItems(): CliItem[] {
  return JSON.parse(server.cli("ann", ["--json", "item", "list"], "", { KEYWARD_SESSION: session })).items;
}

function cliPassword(id: string): string {
  return server.cli("ann", ["item", "get", id, "--field", "password"], "",
    { KEYWARD_SESSION: session }).trim();
}

test("add, search, reveal, copy, edit and delete in the page; the CLI sees the same vault", async () => {
  const { page, problems } = await watchedPage(browser);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await signInPage(page, server.url, "ann@example.com");

  // Add, with bad input first.
  await page.getByRole("button", { name: "Add an item" }).click();
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByText("Give the item a name.").waitFor();
  await page.getByLabel("Name", { exact: true }).fill("Git forge");
  await page.getByLabel("Username").fill("ann-dev");
  await page.getByLabel("Website").fill("not a url");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByText("Enter the website as a whole address").waitFor();
  await page.getByLabel("Website").fill("https://git.example.com");
  await page.getByRole("button", { name: "Generate a password" }).click();
  const generated = await page.getByLabel("Password", { exact: true }).inputValue();
  assert.equal(generated.length, 20);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("heading", { name: "Git forge" }).waitFor();
  const forge = cliItems().find((i) => i.name === "Git forge");
  assert.ok(forge);
  assert.equal(forge!.username, "ann-dev");
  assert.equal(cliPassword(forge!.id), generated);

  // The CLI's item: found by search, revealed, copied.
  await page.getByRole("button", { name: "Back to the list" }).click();
  await page.getByLabel("Search your vault").fill("ban");
  await page.getByText("1 of 2 item(s) match.").waitFor();
  await page.getByRole("button", { name: "Bank" }).click();
  assert.equal(await page.locator("#item-password").innerText(), "••••••••");
  await page.getByRole("button", { name: "Reveal the password" }).click();
  assert.equal(await page.locator("#item-password").innerText(), "bank-secret");
  await page.getByRole("button", { name: "Copy the password" }).click();
  await page.getByText("Password copied.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "bank-secret");
  await screenshot(page, "vault-item");

  // An edit in the page reaches the CLI.
  await page.getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("Username").fill("ann.smith");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { name: "Bank" }).waitFor();
  const bank = cliItems().find((i) => i.name === "Bank")!;
  assert.equal(bank.username, "ann.smith");

  // The CLI edits it meanwhile: the page's next save is refused, in words.
  server.cli("ann", ["item", "edit", bank.id, "--notes", "from the CLI"], "", { KEYWARD_SESSION: session });
  await page.getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("Username").fill("overwritten?");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("This item was changed on another device since you opened it").waitFor();
  assert.equal(cliItems().find((i) => i.id === bank.id)!.username, "ann.smith");

  // Delete (asked twice), gone for the CLI too.
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Back to the list" }).click();
  await page.getByLabel("Search your vault").fill("");
  await page.getByRole("button", { name: "Git forge" }).click();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete for good" }).click();
  await page.getByText("Git forge was deleted.").waitFor();
  assert.deepEqual(cliItems().map((i) => i.name), ["Bank"]);
  await screenshot(page, "vault-list");
  assert.deepEqual(problems, []);
});
