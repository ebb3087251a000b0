// A member of two organizations that both require single sign-on signs in
// in the browser (docs/web.md "Single sign-on in the browser"): bob is in
// Acme and Beta, each with its provider (the same glewlwyd, two [sso.ORG]
// tables). The page goes to Acme's provider, the server's refusal then
// names Beta, and the link carries Acme's ticket to Beta's provider and
// back; both tickets go with the master password, and nothing is left in
// the tab's storage.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";

import * as c from "../../src/crypto/primitives.js";
import {
  aliceAndBob, launch, PASSWORD, screenshot, Server, watchedPage,
} from "./harness.js";
import { finishAtProvider, Provider } from "./glewlwyd.js";

const server = new Server();
const provider = new Provider();
let browser: Browser;
const ids: Record<string, string> = {};

before(async () => {
  await c.init();
  await server.start();
  const { alice, bob } = await aliceAndBob(server);  // Acme
  const as = (session: string) => ({ KEYWARD_SESSION: session });
  server.cli("alice", ["org", "create", "Beta"], "", as(alice));
  const seen = server.mailCount("bob@example.com"); // bob's Acme invitation is among them
  server.cli("alice", ["org", "invite", "bob@example.com", "--role", "user", "--org", "Beta"], "",
    as(alice));
  const token = (await server.mail("bob@example.com", /keyward org join ([A-Za-z0-9_-]+)/, seen))[1];
  const fingerprint = (await server.mail("bob@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/, seen))[1];
  server.cli("bob", ["--yes", "org", "join", token, "--fingerprint", fingerprint], "", as(bob));
  const listed = JSON.parse(server.cli("alice", ["--json", "org", "list"], "", as(alice)));
  for (const o of listed.orgs) ids[o.name] = o.id;
  assert.ok(ids.Acme && ids.Beta, JSON.stringify(listed));

  await provider.start(join(server.dir, "idp"), `${server.url}/sso/callback`);
  const config = join(server.dir, "keywardd.toml");
  const table = (id: string) => `[sso.${id}]\nissuer = "${provider.info!.issuer}"\n` +
    `client_id = "keyward"\nclient_secret = "${provider.info!.client_secret}"\n`;
  writeFileSync(config, table(ids.Acme) + table(ids.Beta), { mode: 0o600 });
  await server.restart(["--config", config]);
  for (const id of [ids.Acme, ids.Beta]) {
    server.cli("alice", ["org", "policy", "set", "--org", id, "--sso", "required"], "", as(alice));
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await provider.stop();
  server.stop();
});

test("a member of two organizations that require it signs in at both providers in turn", async () => {
  const { page, problems } = await watchedPage(browser);
  const tickets: number[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/sessions") {
      tickets.push((r.postDataJSON()?.sso_tickets ?? []).length);
    }
  });
  const signIn = async () => {
    await page.getByLabel("Email").fill("bob@example.com");
    await page.getByLabel("Master password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  };
  const atProvider = (orgId: string) => finishAtProvider(page, provider, server.url, orgId);

  // The password alone: refused, naming an organization.
  await page.goto(`${server.url}/`);
  await signIn();
  const refused = page.locator("#form-error").filter({ hasText: "requires single sign-on" });
  await refused.waitFor({ timeout: 30_000 });
  const first = (await refused.innerText()).includes(ids.Acme) ? ids.Acme : ids.Beta;
  const second = first === ids.Acme ? ids.Beta : ids.Acme;
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await atProvider(first);
  await page.locator("#sso-done").filter({ hasText: first }).waitFor();

  // One ticket: the server names the other organization, and the link
  // carries the first ticket to its provider.
  await signIn();
  const next = page.locator("#form-error").filter({ hasText: second });
  await next.waitFor({ timeout: 30_000 });
  assert.match(await next.innerText(), /requires single sign-on/);
  await page.getByRole("link", { name: "Also sign in at the next organization's single sign-on" })
    .click();
  await page.getByText(`organization ${first} is kept for this sign-in`).waitFor();
  await screenshot(page, "sso-second-organization");
  await atProvider(second);
  const done = await page.locator("#sso-done").innerText();
  assert.ok(done.includes(first) && done.includes(second), done);
  await screenshot(page, "sso-two-organizations");

  // Both tickets with the password: in.
  await signIn();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 30_000 });
  assert.deepEqual(tickets, [0, 1, 2]);
  assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
  assert.deepEqual(problems, []);
});
