// The idle lock (docs/web.md): with keywardd's web_lock_after at 2 s, the
// vault page forgets the session and keys after 2 s without activity, ends
// the session on the server, and says so; activity keeps it open.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import { launch, Server, signInPage, tearDown, watchedPage } from "./harness.js";

const server = new Server();
let browser: Browser;

before(async () => {
  await server.start(undefined, ["--web-lock-after", "2s"]);
  await server.newAccount("ann", "ann@example.com");
  browser = await launch();
});

after(() => tearDown(browser, server));

test("the page locks itself after the server's idle time, not while in use", async () => {
  const info = await (await fetch(`${server.url}/v1/server`)).json();
  assert.equal(info.web_lock_seconds, 2);
  const { page, problems } = await watchedPage(browser);
  const signOuts: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "DELETE" && r.url().endsWith("/v1/sessions/current")) signOuts.push(r.url());
  });
  await signInPage(page, server.url, "ann@example.com");
  // In use: a key press every half second for 3 s keeps it open.
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Shift");
    await page.waitForTimeout(500);
  }
  assert.equal(await page.getByRole("heading", { name: "Your vault" }).count(), 1);
  assert.equal(signOuts.length, 0);
  // Left alone: locked.
  await page.getByText("Locked after a while without activity; sign in again.")
    .waitFor({ timeout: 10_000 });
  assert.equal(signOuts.length, 1);
  assert.equal(await page.getByRole("heading", { name: "Sign in to Keyward" }).count(), 1);
  assert.deepEqual(problems, []);
});
