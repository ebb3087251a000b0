// Single sign-on in the browser (docs/web.md "Single sign-on in the
// browser") against a real OpenID Connect provider: Debian's glewlwyd,
// started by tests/support/glewlwyd.py. Acme's policy requires single
// sign-on (set by the owner's CLI, on a keywardd restarted with an
// [sso.ORG] table): a password-only sign-in of the member gets the server's
// auth.sso_required in words; "Sign in with single sign-on" goes to
// glewlwyd, whose answer comes back to /sso/callback (the code removed from
// the address bar), then the master password and the two-step code open the
// vault. Against a callback this tab did not start and a server handing out
// a hostile sign-in address, nothing is sent. The policy editor shows and
// signs the setting; the server's org.sso_not_configured is said in words.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";

import * as c from "../../src/crypto/primitives.js";
import { fromBase32, totp } from "../../src/crypto/totp.js";
import * as deviceShare from "../../src/protocol/device_share.js";
import { recoverVaultKey } from "../../src/protocol/escrow.js";
import {
  aliceAndBob, approveWithCli, askRecoveryInPage, EditingProxy, launch, openConsole,
  openRecoveryLink, PASSWORD, screenshot, Server, setNewPassword, signInPage, startBehindProxy,
  tearDown, watchedPage,
} from "./harness.js";
import { finishAtProvider, Provider, throughProvider } from "./glewlwyd.js";

function withoutKeywardVars(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEYWARD_")));
}

const server = new Server();
const provider = new Provider();
let browser: Browser;
let alice = "";
let orgId = "";
let configFile = "";
let totpSecret: Uint8Array;
let totpStepUsed = 0;
let cliPort = 0; // the CLI's loopback callback, registered at the provider

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

// bob turns on two-step login with the CLI (the secret read from its JSON,
// the code computed here, as an authenticator app would).
async function enableTwoStep(bobSession: string): Promise<void> {
  const child = spawn(process.env.KEYWARD_CLI!, ["--server", server.url, "--profile",
    join(server.dir, "profiles", "bob"), "--json", "2fa", "enable"],
  { stdio: ["pipe", "pipe", "pipe"], env: { ...withoutKeywardVars(), KEYWARD_SESSION: bobSession } });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number>((resolve) => child.on("exit", (s) => resolve(s ?? -1)));
  child.stdin.write(`${PASSWORD}\n`);
  const secret = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/"secret"\s*:\s*"([A-Z2-7=]+)"/);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`2fa enable ended early:\n${out}\n${err}`)));
  });
  totpSecret = fromBase32(secret);
  totpStepUsed = Math.floor(Date.now() / 1000 / 30);
  child.stdin.end(`${await totp(totpSecret, totpStepUsed * 30)}\n`);
  assert.equal(await exited, 0, `${out}\n${err}`);
}

// A code for now, never a time step already used (each step works once;
// the server allows one step of skew: past that, wait for the clock).
async function nextCode(): Promise<string> {
  const now = () => Math.floor(Date.now() / 1000 / 30);
  while (totpStepUsed + 1 > now() + 1) await new Promise((r) => setTimeout(r, 1000));
  const step = Math.max(now(), totpStepUsed + 1);
  totpStepUsed = step;
  return totp(totpSecret, step * 30);
}

before(async () => {
  await c.init();
  await server.start();
  let bob = "";
  ({ alice, bob } = await aliceAndBob(server));
  await enableTwoStep(bob);
  const listed = JSON.parse(server.cli("alice", ["--json", "org", "list"], "",
    { KEYWARD_SESSION: alice }));
  orgId = listed.orgs[0].id;
  assert.match(orgId, /^[A-Za-z0-9_-]+$/);
  // The provider knows keywardd's web callback; keywardd (same address,
  // same data) restarts with Acme's provider in its config file.
  cliPort = await freePort();
  await provider.start(join(server.dir, "idp"), `${server.url}/sso/callback`,
    `http://127.0.0.1:${cliPort}/callback`);
  configFile = join(server.dir, "keywardd.toml");
  writeFileSync(configFile, `[sso.${orgId}]\nissuer = "${provider.info!.issuer}"\n` +
    `client_id = "keyward"\nclient_secret = "${provider.info!.client_secret}"\n`, { mode: 0o600 });
  await server.restart(["--config", configFile]);
  server.cli("alice", ["org", "policy", "set", "--org", orgId, "--sso", "required"], "",
    { KEYWARD_SESSION: alice });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await provider.stop();
  server.stop();
});

// On "Finish signing in": bob's email and master password, then the
// two-step code it asks for, as far as the vault.
async function passwordAndCode(page: Page, password = PASSWORD): Promise<void> {
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByLabel("Master password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("Enter the code from your authenticator app.").waitFor({ timeout: 30_000 });
  await page.getByLabel("Code from your authenticator app").fill(await nextCode());
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
}

// From the sign-in page through Acme's provider, as far as "Finish signing in".
async function ssoSignInPage(page: Page): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await finishAtProvider(page, provider, server.url, orgId);
}

// On "Finish signing in" of a trusted browser: its sign-in, the two-step
// code it asks for, as far as the vault.
async function trustedSignIn(page: Page): Promise<void> {
  const go = page.getByRole("button", { name: "Sign in as bob@example.com with this trusted browser" });
  await go.click();
  await page.getByText("then sign in with this trusted browser again").waitFor({ timeout: 30_000 });
  await page.getByLabel("Code from your authenticator app").fill(await nextCode());
  await go.click();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
}

// Acme's event log (alice's CLI) holds an event of `type`.
function expectLogged(type: string): void {
  const logged = server.cli("alice", ["--json", "events", "list", "--org", orgId, "--type", type],
    "", { KEYWARD_SESSION: alice });
  assert.ok(logged.includes(type), logged);
}

// Every request the page makes to keywardd's API, by path.
function apiCalls(page: Page, base: string): string[] {
  const calls: string[] = [];
  page.on("request", (r) => {
    if (r.url().startsWith(`${base}/v1/`)) calls.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  return calls;
}

test("a member of an organization that requires it signs in through the provider", async () => {
  const { page, problems } = await watchedPage(browser);
  const calls = apiCalls(page, server.url);

  // The master password alone: refused, in the server's words naming Acme
  // and its id, with the way on next to it.
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByLabel("Master password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const refusal = page.locator("#form-error").filter({ hasText: "requires single sign-on" });
  await refusal.waitFor({ timeout: 30_000 });
  const said = await refusal.innerText();
  assert.match(said, /Acme/);
  assert.ok(said.includes(orgId), said);
  assert.equal(await page.getByLabel("Master password").inputValue(), "");
  const ssoLink = page.getByRole("link", { name: "Sign in with single sign-on" });
  assert.ok(await ssoLink.evaluate((a) => a === document.activeElement));
  await screenshot(page, "signin-sso-required");

  // The organization id (empty first: said in words, nothing sent).
  await ssoLink.click();
  await page.getByRole("heading", { name: "Sign in with single sign-on" }).waitFor();
  const before = calls.length;
  await page.getByRole("button", { name: "Continue to your organization's sign-in" }).click();
  await page.getByText("Enter your organization's id.").waitFor();
  assert.equal(calls.length, before);
  await page.getByLabel("Organization id").fill(orgId);
  await screenshot(page, "sso-start");

  // To glewlwyd: the browser really goes there, and bob signs in there
  // headless with the very authorization request the browser made.
  const { authUrl, back } = await throughProvider(page, provider, server.url, () =>
    page.getByRole("button", { name: "Continue to your organization's sign-in" }).click());
  const auth = new URL(authUrl);
  assert.equal(auth.searchParams.get("redirect_uri"), `${server.url}/sso/callback`);
  assert.equal(auth.searchParams.get("code_challenge_method"), "S256");
  assert.ok(calls.includes("POST /v1/sso/start"), calls.join("\n"));
  assert.ok(back.startsWith(`${server.url}/sso/callback?`), back);
  assert.match(back, /[?&]code=/);

  // Back on /sso/callback: the code leaves the address bar at once, the
  // stored state is used up, the server gives a ticket; then the master
  // password and the second step.
  await page.goto(back);
  await page.getByRole("heading", { name: "Finish signing in to Keyward" }).waitFor({ timeout: 30_000 });
  assert.equal(page.url(), `${server.url}/`);
  assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
  assert.ok(calls.includes("POST /v1/sso/finish"), calls.join("\n"));
  await page.locator("#sso-done").filter({ hasText: orgId }).waitFor();
  await screenshot(page, "sso-callback");

  await passwordAndCode(page);
  // The session was made with the ticket, which was sent once per try.
  const sessions = calls.filter((x) => x === "POST /v1/sessions").length;
  assert.equal(sessions, 3, calls.join("\n"));
  assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
  assert.deepEqual(problems, []);
});

test("a callback this tab did not start does nothing", async () => {
  const { page, problems } = await watchedPage(browser);
  const calls = apiCalls(page, server.url);

  // No sign-in started here at all.
  await page.goto(`${server.url}/sso/callback?code=stolen-code&state=forged-state`);
  await page.getByText("This sign-in was not started here.").waitFor();
  assert.equal(page.url(), `${server.url}/`, "the code left the address bar");
  await screenshot(page, "sso-not-started");

  // One started here, for another state: still nothing, and the started
  // one is kept for its own answer.
  const pending = JSON.stringify({ state: "the-real-state", org_id: orgId });
  await page.evaluate((p) => sessionStorage.setItem("keyward.sso", p), pending);
  for (const query of ["code=stolen-code&state=forged-state", "code=stolen-code",
    "code=x&state=the-real-state&state=forged-state"]) {
    await page.goto(`${server.url}/sso/callback?${query}`);
    await page.getByText("This sign-in was not started here.").waitFor();
  }
  assert.equal(await page.evaluate(() => sessionStorage.getItem("keyward.sso")), pending);
  assert.deepEqual(calls, [], "nothing was sent to the server");

  // The provider's refusal for the sign-in this tab did start: said, the
  // state used up, still nothing sent.
  await page.goto(`${server.url}/sso/callback?error=access_denied&state=the-real-state`);
  await page.getByText("Your organization's identity provider did not sign you in (access_denied).").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(calls, []);
  assert.deepEqual(problems, []);
});

test("a sign-in address the page must not open is refused, and nothing is stored", async () => {
  // A second keywardd behind a proxy that answers POST /v1/sso/start
  // itself, with hostile addresses.
  const hostile = new Server();
  const proxy = new EditingProxy();
  let hostileBrowser: Browser | undefined;
  try {
    await startBehindProxy(hostile, proxy);
    let answer = "";
    proxy.edit = (x, _status, body) => (x.path === "/v1/sso/start" ? answer : body);
    proxy.status = (x, status) => (x.path === "/v1/sso/start" ? 201 : status);
    hostileBrowser = await launch();
    const { page, problems } = await watchedPage(hostileBrowser);
    await page.goto(`${proxy.url}/`);
    await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
    await page.getByLabel("Organization id").fill(orgId);
    const state = "s".repeat(43);
    for (const url of [
      `javascript:alert(document.domain)//?state=${state}`,
      `data:text/html,<script>alert(1)</script>?state=${state}`,
      `http://idp.example.com/auth?state=${state}`,
      `http://127.0.0.1.evil.example/auth?state=${state}`,
      `https://idp.example.com/auth?state=another-state`,
      "https://idp.example.com/auth",
      `https://user:pw@idp.example.com/auth?state=${state}`,
    ]) {
      answer = JSON.stringify({ authorization_url: url, state, expires_at: "2099-01-01T00:00:00Z" });
      await page.getByRole("button", { name: "Continue to your organization's sign-in" }).click();
      await page.locator("#form-error").filter({ hasText: "will not open" }).waitFor();
      assert.equal(page.url(), `${proxy.url}/`, url);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, url);
      if (url.startsWith("javascript:")) await screenshot(page, "sso-hostile-address");
      await page.locator("#form-error").evaluate((e) => (e.textContent = ""));
    }
    assert.equal(proxy.exchanges.filter((x) => x.path === "/v1/sso/start").length, 7);
    assert.deepEqual(problems, []);
  } finally {
    await tearDown(hostileBrowser, hostile, proxy);
  }
});

test("the policy editor shows and signs single sign-on; no provider is said in words", async () => {
  const w = await watchedPage(browser);
  const { page } = w;
  // alice owns Acme: owners sign in with the master password alone.
  await signInPage(page, server.url, "alice@example.com");
  await openConsole(page);
  await page.getByText("Single sign-on: required.").waitFor();
  await page.getByRole("button", { name: "Policy" }).click();
  await page.getByRole("heading", { name: "Acme: policy" }).waitFor();
  const sso = page.getByLabel("Single sign-on");
  assert.equal(await sso.inputValue(), "required");
  await screenshot(page, "console-policy-sso");
  const save = page.getByRole("button", { name: "Sign and save the policy" });

  // Optional, signed in the browser: the owner's CLI verifies it.
  await sso.selectOption("optional");
  await save.click();
  const saved = page.getByText(/Statement \d+ is signed and saved\./);
  await saved.waitFor();
  const version = Number((await saved.innerText()).match(/Statement (\d+)/)![1]);
  let shown = JSON.parse(server.cli("alice", ["--json", "org", "policy", "show", "--org", orgId], "",
    { KEYWARD_SESSION: alice }));
  assert.equal(shown.policy.sso, "optional");

  // On a keywardd without Acme's provider, required is refused by the server.
  await server.restart();
  await page.getByLabel("Single sign-on").selectOption("required");
  await page.getByRole("button", { name: "Sign and save the policy" }).click();
  await page.locator("#form-error").filter({ hasText: "no single sign-on provider" }).waitFor();
  await screenshot(page, "console-policy-sso-not-configured");
  assert.match(await page.locator("#form-error").innerText(), new RegExp(`\\[sso\\.${orgId}\\]`));
  shown = JSON.parse(server.cli("alice", ["--json", "org", "policy", "show", "--org", orgId], "",
    { KEYWARD_SESSION: alice }));
  assert.equal(shown.policy.sso, "optional");

  // And with it again, required is signed and verified.
  await server.restart(["--config", configFile]);
  await page.getByRole("button", { name: "Sign and save the policy" }).click();
  // The next statement's message, not the one still shown from before.
  await page.getByText(`Statement ${version + 1} is signed and saved.`).waitFor();
  shown = JSON.parse(server.cli("alice", ["--json", "org", "policy", "show", "--org", orgId], "",
    { KEYWARD_SESSION: alice }));
  assert.equal(shown.policy.sso, "required");
  assert.deepEqual(w.problems, []);
});

// A JSON call to keywardd with no session, as a new device makes it.
async function api(method: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" },
    body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

// bob lost every trusted device: a new phone signs in at the provider (its
// subject bound to bob by the first test's sign-in) and asks the admins.
// alice approves it in the console only with the fingerprint bob reads
// out; a server that swaps the device key in its answer gets a refusal.
// Then the phone opens what was released to it.
test("a new device's request is approved in the console only with the member's fingerprint", async () => {
  const started = await api("POST", "/v1/sso/start",
    { org_id: orgId, client: "web", redirect_uri: `${server.url}/sso/callback` });
  assert.equal(started.status, 201, JSON.stringify(started.json));
  const back = new URL(provider.login(started.json.authorization_url));
  const finished = await api("POST", "/v1/sso/finish",
    { state: back.searchParams.get("state"), code: back.searchParams.get("code") });
  assert.equal(finished.status, 201, JSON.stringify(finished.json));
  const device = c.generateBoxKeyPair();
  const claim = c.randomBytes(32);
  const made = await api("POST", "/v1/device-requests", {
    sso_ticket: finished.json.ticket, device: { id: "bob-phone", name: "Bob's phone", type: "mobile" },
    device_public_key: c.base64url(device.publicKey), claim: c.base64url(claim),
  });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  const requestId: string = made.json.request_id;
  const fingerprint = c.fingerprint(device.publicKey);
  const state = async () => (await api("POST", "/v1/device-requests/open",
    { request_id: requestId, claim: c.base64url(claim) })).json;

  const { page, problems } = await watchedPage(browser);
  await signInPage(page, server.url, "alice@example.com");
  await openConsole(page);
  const row = page.getByRole("row").filter({ hasText: "New device" });
  await row.getByRole("button", { name: "Open the request of bob@example.com" }).click();
  await page.getByRole("heading", { name: "Recovery request" }).waitFor();
  const shown = await page.locator("dl.details").innerText();
  assert.ok(shown.includes(fingerprint), shown);
  assert.match(shown, /New device/);
  await screenshot(page, "device-request");

  const error = page.locator("#form-error");
  const approve = page.getByRole("button", { name: "Approve" });
  await approve.click();
  await error.filter({ hasText: "Type the fingerprint the member reads" }).waitFor();
  await page.getByLabel("Fingerprint the member reads off the new device").fill("0".repeat(40));
  await approve.click();
  await error.filter({ hasText: "not the one the member's device shows" }).waitFor();
  await screenshot(page, "device-request-wrong-fingerprint");

  // The server lists its own key for the device: refused in the browser.
  const attacker = c.base64url(c.generateBoxKeyPair().publicKey);
  await page.route(`${server.url}/v1/orgs/*/recovery/requests/${requestId}`, async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    json.device_public_key = attacker;
    await route.fulfill({ response, json });
  });
  await page.getByLabel("Fingerprint the member reads off the new device").fill(fingerprint);
  await page.getByRole("button", { name: "Approve" }).click();
  await error.filter({ hasText: "not the one the member's device shows" }).waitFor();
  await page.unroute(`${server.url}/v1/orgs/*/recovery/requests/${requestId}`);
  assert.equal((await state()).approvals, 0, "nothing was recorded");

  await page.getByRole("button", { name: "Approve" }).click();
  await page.getByText("the new device of bob@example.com can now finish").waitFor({ timeout: 30_000 });
  await screenshot(page, "device-request-approved");
  assert.deepEqual(problems, []);

  // The phone: DA opens only as boxed by the organization's key, DU with
  // its own key, and together they unwrap the escrowed vault key.
  const opened = await state();
  assert.equal(opened.status, "approved");
  const g = opened.grant;
  const a = deviceShare.openAdminShare(device, c.fromBase64url(g.org.recovery_public_key),
    c.fromBase64url(g.device_admin_share), g.org.org_id, g.account_id, g.epoch, requestId);
  const u = deviceShare.openServerShare(device, c.fromBase64url(g.device_server_share),
    g.org.org_id, g.account_id, g.epoch, requestId);
  const uk = recoverVaultKey(a, u, c.fromBase64url(g.wrapped_vault_key), g.org.org_id,
    g.account_id, g.epoch);
  assert.equal(uk.length, 32);
  // The phone closes the request (it becomes a trusted device of bob's).
  const completed = await fetch(`${server.url}/v1/device-requests/complete`, { method: "POST",
    headers: { "content-type": "application/json" }, body: JSON.stringify({
      request_id: requestId, claim: c.base64url(claim), device_type: "mobile",
      sign_public_key: c.base64url(c.randomBytes(32)), wrapped_vault_key: c.base64url(c.randomBytes(72)),
    }) });
  assert.equal(completed.status, 204, await completed.text());
  assert.equal((await state()).status, "link_used");
});

// bob makes this browser a trusted device; then the provider's sign-in and
// the two-step code open his vault here without the master password. A
// server that swaps the wrapped key in its answer gets no session used;
// "Forget this browser" drops the key.
test("a trusted browser signs in through the provider and the two-step code alone", async () => {
  const { page, problems } = await watchedPage(browser);
  const ssoSignIn = () => ssoSignInPage(page);
  const signOut = async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
  };
  const go = page.getByRole("button", { name: "Sign in as bob@example.com with this trusted browser" });

  // Once with the master password, then trusted.
  await ssoSignIn();
  assert.equal(await page.locator("#trusted-browser").count(), 0);
  await passwordAndCode(page);
  await page.getByRole("button", { name: "Trust this browser" }).click();
  await page.getByText("This browser is now trusted").waitFor();
  await screenshot(page, "trusted-browser-made");
  await signOut();

  // A server that hands back an edited wrapped key: refused, and the
  // session it made is ended at once.
  await ssoSignIn();
  const sessions = `${server.url}/v1/sessions`;
  await page.route(sessions, async (route) => {
    const response = await route.fetch();
    if (response.status() !== 201) return route.fulfill({ response });
    const json = await response.json();
    const b: string = json.trusted_device.wrapped_vault_key;
    json.trusted_device.wrapped_vault_key = b.slice(0, 10) + (b[10] === "A" ? "B" : "A") + b.slice(11);
    return route.fulfill({ response, json });
  });
  await go.click();
  await page.getByText("then sign in with this trusted browser again").waitFor({ timeout: 30_000 });
  await page.getByLabel("Code from your authenticator app").fill(await nextCode());
  await go.click();
  await page.locator("#form-error").filter({ hasText: "does not open with this browser's key" })
    .waitFor({ timeout: 30_000 });
  await page.unroute(sessions);

  // The provider and the two-step code: in, no master password typed.
  await ssoSignIn();
  await page.locator("#trusted-browser").waitFor();
  await screenshot(page, "trusted-browser-signin");
  await trustedSignIn(page);
  expectLogged("device.trusted");

  // Forgotten: the key goes, here and on the server.
  await page.getByRole("button", { name: "Forget this browser" }).click();
  await page.getByText("This browser is no longer trusted").waitFor();
  await page.getByRole("button", { name: "Trust this browser" }).waitFor();
  assert.deepEqual(problems, []);
});

// bob lost every trusted device: on a new browser, after the provider's
// sign-in, he asks the admins; alice approves with the fingerprint he reads
// out (CLI); the page opens the vault key only once the organization's
// statements match the signing fingerprint bob types — a server that
// offers its own organization key gets a refusal — and the browser is then
// a trusted one: the provider and the two-step code open the vault.
test("a browser approved by the admins after every trusted device was lost", async () => {
  const { page, problems } = await watchedPage(browser);
  await ssoSignInPage(page);
  await page.getByRole("button", { name: "Lost every trusted device? Ask your administrators to approve this browser" }).click();
  await page.getByRole("heading", { name: "Ask your administrators to approve this browser" }).waitFor({ timeout: 30_000 });
  const fp = await page.locator("#device-fingerprint").innerText();
  assert.match(fp, /^[0-9a-f]{8}( [0-9a-f]{8}){4}$/);
  await screenshot(page, "device-request-browser");
  await page.getByRole("button", { name: "Check the request" }).click();
  await page.getByText("Waiting for your administrators: 0 of 1").waitFor();

  const as = { KEYWARD_SESSION: alice };
  const listed = JSON.parse(server.cli("alice", ["--json", "recovery", "list", "--org", orgId,
    "--status", "pending"], "", as));
  const request = listed.requests.find((r: { kind: string }) => r.kind === "device");
  assert.ok(request, JSON.stringify(listed));
  server.cli("alice", ["--yes", "recovery", "approve", request.id, "--org", orgId,
    "--device-fingerprint", fp], "", as);
  const signing = JSON.parse(server.cli("alice", ["--json", "org", "policy", "show", "--org",
    orgId], "", as)).signing_fingerprint;

  await page.getByRole("button", { name: "Check the request" }).click();
  const typed = page.getByLabel("Organization signing key fingerprint");
  await typed.waitFor();
  const open = page.getByRole("button", { name: "Open my vault on this browser" });
  const error = page.locator("#form-error");
  // The server offers its own organization key: refused, nothing done.
  const opened = `${server.url}/v1/device-requests/open`;
  await page.route(opened, async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    if (json.grant) json.grant.org.recovery_public_key = c.base64url(c.generateBoxKeyPair().publicKey);
    await route.fulfill({ response, json });
  });
  await typed.fill(signing);
  await open.click();
  await error.filter({ hasText: "differs from the signed one" }).waitFor({ timeout: 30_000 });
  await page.unroute(opened);
  // A fingerprint bob was not given: refused too.
  await typed.fill("1".repeat(40));
  await open.click();
  await error.filter({ hasText: "not the one you typed" }).waitFor();
  await typed.fill(signing);
  await open.click();
  await page.getByText("This browser is now a trusted device of bob@example.com").waitFor({ timeout: 30_000 });

  // Then the provider and the two-step code open the vault here.
  await ssoSignInPage(page);
  await trustedSignIn(page);
  expectLogged("device_request.completed");
  await page.getByRole("button", { name: "Forget this browser" }).click();
  await page.getByText("This browser is no longer trusted").waitFor();
  assert.deepEqual(problems, []);
});

// A new phone approved by the trusted browser: the signed-in page shows a
// pairing code; the CLI on the phone signs in at the provider (its loopback
// callback) and types it; the page releases the vault key, sealed for the
// phone only (the CLI e2e test checks the pickup refused without a ticket).
test("a new device is approved by a signed-in browser after the provider's sign-in", async () => {
  const { page, problems } = await watchedPage(browser);
  await ssoSignInPage(page);
  await passwordAndCode(page);
  await page.getByRole("button", { name: "Pair a new device" }).click();
  const code = await page.locator("#pairing-code").innerText({ timeout: 30_000 });
  const child = spawn(process.env.KEYWARD_CLI!, ["--server", server.url, "--profile",
    join(server.dir, "profiles", "bob-phone"), "device", "pair", "--email", "bob@example.com",
    "--device-name", "bob-phone", "--sso", orgId, "--redirect-port", String(cliPort)],
  { stdio: ["pipe", "pipe", "pipe"], env: withoutKeywardVars() });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on("exit", (s) => resolve(s ?? -1)));
  const authUrl = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = err.match(/open in a browser:\n(\S+)\n/);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`device pair ended early:\n${out}\n${err}`)));
  });
  const back = provider.login(authUrl);
  assert.ok(back.startsWith(`http://127.0.0.1:${cliPort}/callback?`), back);
  assert.equal((await fetch(back)).status, 200);
  child.stdin.end(`${code}\n`);
  await page.getByText("A new device typed the code: “bob-phone” (cli)").waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Pair bob-phone" }).click();
  await page.getByText("bob-phone is paired").waitFor();
  assert.equal(await exited, 0, `${out}\n${err}`);
  assert.match(out, /export KEYWARD_SESSION="[A-Za-z0-9_-]+"/);
  assert.deepEqual(problems, []);
});

// bob forgets his master password: he asks in the page, alice approves
// (CLI), he redeems the link in the page; the next sign-in still goes
// through the provider and the two-step code. (Last: bob's password
// changes here.)
test("a recovery in the page is followed by a sign-in through the provider and the two-step code", async () => {
  const { page, problems } = await watchedPage(browser);
  await askRecoveryInPage(page, server, server.url, "bob@example.com");
  const link = approveWithCli(server, "alice", alice);
  await openRecoveryLink(page, server, link, "bob@example.com");
  const fresh = "a brand new master password 42";
  await setNewPassword(page, fresh);

  // The new password alone: refused, naming the organization.
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByLabel("Master password").fill(fresh);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#form-error").filter({ hasText: "requires single sign-on" })
    .waitFor({ timeout: 30_000 });
  // Through the provider: the two-step code is still asked.
  await ssoSignInPage(page);
  await passwordAndCode(page, fresh);
  assert.deepEqual(problems, []);
});
