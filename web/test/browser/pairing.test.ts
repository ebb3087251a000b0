// Pairing a new device from the browser: the signed-in page shows the code,
// the CLI on a new device types it, the page asks and releases the vault
// key, and the CLI reads the same vault. A wrong code, and an answer whose
// device name the server changed (through a proxy), close the pairing with
// nothing sent.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";

import {
  annWithAnItem, EditingProxy, launch, screenshot, Server, signInPage, startBehindProxy, tearDown,
  watchedPage,
} from "./harness.js";

const server = new Server();
const proxy = new EditingProxy();
let browser: Browser;

before(async () => {
  await startBehindProxy(server, proxy);
  await annWithAnItem(server);
  browser = await launch();
});

after(() => tearDown(browser, server, proxy));

// `keyward device pair` on a new device, typing `code`; its exit status
// and output, once it ends.
function pairWithCli(profile: string, code: () => Promise<string>): Promise<{ status: number; out: string }> {
  return server.cliAsync(profile, ["device", "pair", "--email", "ann@example.com", "--device-name",
    "ann-phone"], async () => `${await code()}\n`);
}

async function showCode(page: Page): Promise<string> {
  await page.getByRole("button", { name: "Pair a new device" }).click();
  const shown = await page.locator("#pairing-code").innerText({ timeout: 30_000 });
  assert.match(shown, /^[0-9]{3} [0-9]{3}$/);
  return shown;
}

test("pair from the page; a wrong code and a changed answer send nothing", async () => {
  const w = await watchedPage(browser);
  const { page } = w;
  await signInPage(page, proxy.url, "ann@example.com");

  // Honest: the CLI types the code, the page asks, ann says yes.
  const code = await showCode(page);
  await screenshot(page, "pairing-code");
  const cli = pairWithCli("ann-phone", async () => code);
  await page.getByText("A new device typed the code: “ann-phone” (cli)").waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Pair ann-phone" }).click();
  await page.getByText("ann-phone is paired").waitFor();
  const done = await cli;
  assert.equal(done.status, 0, done.out);
  const session = done.out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/)![1];
  const items = JSON.parse(server.cli("ann-phone", ["--json", "item", "list"], "", { KEYWARD_SESSION: session }));
  assert.deepEqual(items.items.map((i: { name: string }) => i.name), ["Bank"]);

  // A wrong code: the page refuses and closes; the CLI gets nothing.
  await page.getByRole("button", { name: "Back to your vault" }).click();
  const right = await showCode(page);
  const wrong = right === "000 000" ? "111111" : "000000";
  const refused = await pairWithCli("ann-wrong", async () => wrong);
  await page.getByText("The code typed on the new device was wrong").waitFor({ timeout: 30_000 });
  assert.notEqual(refused.status, 0);

  // The right code, but the server renames the device in its answer.
  await page.getByRole("button", { name: "Back to your vault" }).click();
  proxy.edit = (x, status, body) => {
    if (!/^\/v1\/pairings\/[A-Za-z0-9_-]+$/.test(x.path) || status !== 200) return body;
    const j = JSON.parse(body);
    if (j.state === "answered") j.device.name = "totally-ann";
    return JSON.stringify(j);
  };
  const third = await showCode(page);
  const changed = await pairWithCli("ann-changed", async () => third);
  await page.getByText("The code typed on the new device was wrong (or the answer was changed").waitFor({ timeout: 30_000 });
  proxy.edit = undefined;
  assert.notEqual(changed.status, 0);
  assert.equal(proxy.exchanges.filter((x) => x.path.endsWith("/release")).length, 1);
  assert.deepEqual(w.problems, []);
});
