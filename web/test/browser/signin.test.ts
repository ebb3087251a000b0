// The member's sign-in page in a real Chromium against a live keywardd: the
// headers of docs/web.md, Argon2id and the vault key in the page, the items
// the CLI stored read back and decrypted here, errors in words.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { get as httpGet } from "node:http";
import { gunzipSync } from "node:zlib";
import type { Browser } from "playwright-core";

import { annWithAnItem, launch, PASSWORD, screenshot, Server, tearDown, watchedPage } from "./harness.js";

const server = new Server();
let browser: Browser;

before(async () => {
  await server.start();
  await annWithAnItem(server);
  browser = await launch();
});

after(() => tearDown(browser, server));

test("the page is served with its security headers", async () => {
  const r = await fetch(`${server.url}/`);
  assert.equal(r.status, 200);
  const csp = r.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers.get("referrer-policy"), "no-referrer");
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  assert.equal(r.headers.get("cache-control"), "no-cache");
  const html = await r.text();
  assert.doesNotMatch(html, /<script>|<style|style=/, "no inline script or style");
  const asset = html.match(/src="(\/assets\/[^"]+\.js)"/);
  assert.ok(asset, html);
  const js = await fetch(`${server.url}${asset[1]}`);
  assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const missing = await fetch(`${server.url}/assets/nope.js`);
  assert.equal(missing.status, 404);

  // Precompressed: gzip to a client that accepts it (the same bytes once
  // inflated), the plain file to one that does not or refuses it (q=0).
  const raw = (encoding: string) => new Promise<{ headers: Record<string, unknown>; body: Buffer }>((ok, fail) => {
    const req = httpGet(`${server.url}${asset[1]}`, { headers: { "accept-encoding": encoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d) => chunks.push(d));
      res.on("end", () => ok({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", fail);
  });
  const plain = await raw("identity");
  const zipped = await raw("br, gzip;q=0.8");
  const refused = await raw("gzip;q=0");
  assert.equal(plain.headers["content-encoding"], undefined);
  assert.equal(zipped.headers["content-encoding"], "gzip");
  assert.equal(zipped.headers["vary"], "Accept-Encoding");
  assert.ok(zipped.body.length < plain.body.length / 2, `${zipped.body.length} vs ${plain.body.length}`);
  assert.ok(gunzipSync(zipped.body).equals(plain.body));
  assert.equal(refused.headers["content-encoding"], undefined);
});

test("a member signs in and reads the vault the CLI wrote", async () => {
  const { page, problems } = await watchedPage(browser);
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill("ann@example.com");
  await page.getByLabel("Master password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("The email or master password is wrong.").waitFor({ timeout: 30_000 });
  await screenshot(page, "signin-wrong-password");

  await page.getByLabel("Master password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
  await page.getByText("Bank").waitFor();
  assert.match(await page.locator("main").innerText(), /1 item\(s\)/);
  // Nothing of the session or the keys is kept in storage.
  const stored = await page.evaluate(() => localStorage.length + sessionStorage.length);
  assert.equal(stored, 0);
  await screenshot(page, "vault");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You are signed out.").waitFor();
  assert.deepEqual(problems, []);
});

test("bad input gets words, not a request", async () => {
  const { page, problems } = await watchedPage(browser);
  let calls = 0;
  page.on("request", (r) => {
    if (r.url().includes("/v1/")) calls++;
  });
  await page.goto(`${server.url}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Enter the email address of your account.").waitFor();
  await page.getByLabel("Email").fill("ann@example.com");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Enter your master password.").waitFor();
  assert.equal(calls, 0);
  await screenshot(page, "signin-empty");
  assert.deepEqual(problems, []);
});
