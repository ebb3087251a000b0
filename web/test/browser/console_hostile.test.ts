// The admin console against a server that lies: a proxy edits keywardd's
// answers. Statements of the server's own making show another fingerprint
// (the admin stops); a recovery key listed apart from the signed one, and a
// grant of a key the server chose, are refused in words; in every case no
// approval is sent.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";

import * as c from "../../src/crypto/primitives.js";
import { createGrant } from "../../src/protocol/grant.js";
import { encodeOrgStatement } from "../../src/protocol/statement.js";
import {
  aliceAndBob, askRecoveryInPage, EditingProxy, launch, Server, signInPage, startBehindProxy, tearDown,
  watchedPage, type Edit,
} from "./harness.js";

const server = new Server();
const proxy = new EditingProxy();
let browser: Browser;
let fingerprint = "";

before(async () => {
  await c.init();
  await startBehindProxy(server, proxy);
  await aliceAndBob(server);
  fingerprint = (await server.mail("bob@example.com", /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/))[1];
  browser = await launch();
});

after(() => tearDown(browser, server, proxy));

// alice signs in through the proxy and opens the console, with `edit`
// applied to every answer; her account's id and public key, from the
// sign-in answer.
async function aliceConsole(page: Page, edit?: Edit): Promise<{ id: string; publicKey: string }> {
  const me = { id: "", publicKey: "" };
  proxy.edit = (x, status, body) => {
    if (x.path === "/v1/sessions" && status === 201) {
      const account = JSON.parse(body).account;
      me.id = account.id;
      me.publicKey = account.public_key;
    }
    return edit ? edit(x, status, body) : body;
  };
  await signInPage(page, proxy.url, "alice@example.com");
  await page.getByRole("button", { name: "Admin console" }).click();
  await page.getByRole("heading", { name: "Check Acme's signing key" }).waitFor();
  return me;
}

const approvals = () => proxy.exchanges.filter((x) => x.method === "POST" && x.path.endsWith("/approve"));

test("a lying server gets no approval from the console", async () => {
  const bob = await watchedPage(browser);
  await askRecoveryInPage(bob.page, server, proxy.url, "bob@example.com");

  // 1. Statements signed by a key of the server's own: another fingerprint.
  const forger = c.signKeyPairFromSeed(c.randomBytes(32));
  const forge = (x: { path: string }, status: number, body: string) => {
    const m = x.path.match(/^\/v1\/orgs\/([A-Za-z0-9_-]+)\/statements/);
    if (!m || status !== 200) return body;
    const statement = encodeOrgStatement({ orgId: m[1], version: 1,
      signingPublicKey: forger.publicKey, orgPublicKey: c.generateBoxKeyPair().publicKey,
      policyJson: "{}", notBefore: Math.floor(Date.now() / 1000) - 60 });
    return JSON.stringify({ statements: [{ version: 1, statement: c.base64url(statement),
      signature: c.base64url(c.sign(forger.secretKey, statement)) }] });
  };
  const first = await watchedPage(browser);
  await aliceConsole(first.page, forge);
  const shown = await first.page.locator("#signing-fingerprint").innerText();
  assert.notEqual(shown, fingerprint);
  assert.equal(shown, c.fingerprint(forger.publicKey));
  await first.page.getByRole("button", { name: "They differ — stop" }).click();
  await first.page.getByRole("heading", { name: "Stopped" }).waitFor();

  // 2. The honest statements, but another recovery key listed for the org.
  const second = await watchedPage(browser);
  const page = second.page;
  await aliceConsole(page, (x, status, body) => {
    if (!/^\/v1\/orgs\/[A-Za-z0-9_-]+$/.test(x.path) || status !== 200) return body;
    const j = JSON.parse(body);
    j.recovery_public_key = c.base64url(c.generateBoxKeyPair().publicKey);
    return JSON.stringify(j);
  });
  assert.equal(await page.locator("#signing-fingerprint").innerText(), fingerprint);
  await page.getByRole("button", { name: "The fingerprints match" }).click();
  await page.getByText("The organization key the server lists differs from the signed one").waitFor();

  // 3. A grant of a key the server chose, sealed to alice's public key.
  const again = await watchedPage(browser);
  let me = { id: "", publicKey: "" };
  me = await aliceConsole(again.page, (x, status, body) => {
    const m = x.path.match(/^\/v1\/orgs\/([A-Za-z0-9_-]+)\/grant/);
    if (!m || status !== 200) return body;
    const j = JSON.parse(body);
    j.recovery_grant = c.base64url(createGrant(c.fromBase64url(me.publicKey),
      c.generateBoxKeyPair(), m[1], me.id, j.key_version));
    return JSON.stringify(j);
  });
  await again.page.getByRole("button", { name: "The fingerprints match" }).click();
  await again.page.getByRole("heading", { name: "Acme: recovery requests" }).waitFor();
  await again.page.getByRole("button", { name: "Open the request of bob@example.com" }).click();
  await again.page.getByRole("button", { name: "Approve" }).click();
  await again.page.getByText("The organization key the server gave you does not match").waitFor();
  proxy.edit = undefined;

  assert.equal(approvals().length, 0);
  for (const w of [first, second, again, bob]) assert.deepEqual(w.problems, []);
});
