// Debian's glewlwyd as the browser tests' OpenID Connect provider
// (tests/support/glewlwyd.py): started on a free loopback port with bob as
// a user and keywardd's web callback as the client's redirect.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import type { Page } from "playwright-core";

const GLEWLWYD = new URL("../../../../tests/support/glewlwyd.py", import.meta.url).pathname;
export const IDP_PASSWORD = "bob's password at the provider";

// glewlwyd.py start: a provider on a free loopback port with bob as a user
// and keywardd's callback as the client's redirect; stopped by closing its
// standard input.
export class Provider {
  info: { issuer: string; client_id: string; client_secret: string; port: number } | undefined;
  private process?: ChildProcess;

  // `redirects`: every callback the client may use (glewlwyd matches them
  // exactly, a CLI's loopback port included).
  async start(dir: string, ...redirects: string[]): Promise<void> {
    this.process = spawn("/usr/bin/python3", [GLEWLWYD, "start", "--dir", dir,
      "--user", `bob:${IDP_PASSWORD}:bob@example.com`,
      ...redirects.flatMap((r) => ["--redirect", r])],
      { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    this.process.stderr!.on("data", (d) => (err += d));
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      this.process!.stdout!.on("data", (d) => {
        out += d;
        const end = out.indexOf("\n");
        if (end >= 0) resolve(out.slice(0, end));
      });
      this.process!.once("exit", (code) => reject(new Error(`glewlwyd.py exited (${code}):\n${err}`)));
    });
    this.info = JSON.parse(line);
  }

  // The headless user side (glewlwyd.py login): bob signs in at the
  // provider for the authorization request `authUrl`; where glewlwyd sends
  // the browser next (the callback with code and state).
  login(authUrl: string): string {
    const r = spawnSync("/usr/bin/python3", [GLEWLWYD, "login", "--user", "bob", "--password",
      IDP_PASSWORD, "--auth-url", authUrl], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  async stop(): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.stdin!.end();
    await exited;
  }
}

// Clicks `go` on `page` (which sends the browser to `provider`), waits until
// the browser really went there (glewlwyd answers with its login page,
// which glewlwyd.py does not serve), lets bob sign in headless for the very
// authorization request the browser made, and returns that request's
// address and where the provider sends the browser back (the callback with
// code and state), for the caller to follow.
export async function throughProvider(page: Page, provider: Provider, serverUrl: string,
  go: () => Promise<void>): Promise<{ authUrl: string; back: string }> {
  const issuer = provider.info!.issuer;
  const authRequest = page.waitForRequest((r) => r.url().startsWith(`${issuer}/auth`) &&
    r.isNavigationRequest(), { timeout: 30_000 });
  const loginPage = page.waitForRequest((r) => r.isNavigationRequest() &&
    new URL(r.url()).port === String(provider.info!.port) && r.url().includes("/login.html"),
  { timeout: 30_000 });
  const left = page.waitForEvent("framenavigated", { predicate: (f) =>
    f === page.mainFrame() && !f.url().startsWith(serverUrl), timeout: 30_000 });
  await go();
  const authUrl = (await authRequest).url();
  await loginPage;
  await left;
  return { authUrl, back: provider.login(authUrl) };
}

// On the page "Sign in with single sign-on": types `orgId`, goes through
// the provider (throughProvider) and follows its answer back, as far as
// "Finish signing in to Keyward".
export async function finishAtProvider(page: Page, provider: Provider, serverUrl: string,
  orgId: string): Promise<void> {
  await page.getByLabel("Organization id").fill(orgId);
  const { back } = await throughProvider(page, provider, serverUrl, () =>
    page.getByRole("button", { name: "Continue to your organization's sign-in" }).click());
  await page.goto(back);
  await page.getByRole("heading", { name: "Finish signing in to Keyward" })
    .waitFor({ timeout: 30_000 });
}
