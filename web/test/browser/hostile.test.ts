// The redeem page against a server that lies (docs/recovery.md "What a
// malicious server can do"): a proxy edits keywardd's answers. A swapped
// link share does not open and nothing is sent; an organization the server
// invents in the redeem answer gets no escrow (only the organization the
// approving admin anchored in the link does), and the member is told.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import * as c from "../../src/crypto/primitives.js";
import { encodeOrgStatement } from "../../src/protocol/statement.js";
import {
  aliceAndBob, approveWithCli, askRecoveryInPage, EditingProxy, launch, openRecoveryLink, Server,
  setNewPassword, startBehindProxy, tearDown, watchedPage,
} from "./harness.js";

const server = new Server();
const proxy = new EditingProxy();
let browser: Browser;
let alice = "";
const NEW_PASSWORD = "a brand new master password 42";

before(async () => {
  await c.init();
  await startBehindProxy(server, proxy);
  alice = (await aliceAndBob(server)).alice;
  browser = await launch();
});

after(() => tearDown(browser, server, proxy));

// An organization of the server's own making, with a self-signed statement.
function forgedOrg(): Record<string, unknown> {
  const signer = c.signKeyPairFromSeed(c.randomBytes(32));
  const key = c.generateBoxKeyPair();
  const statement = encodeOrgStatement({ orgId: "evil", version: 1,
    signingPublicKey: signer.publicKey, orgPublicKey: key.publicKey, policyJson: "{}",
    notBefore: Math.floor(Date.now() / 1000) - 60 });
  return { org_id: "evil", name: "Evil Corp", last_epoch: 0, key_version: 1,
    recovery_public_key: c.base64url(key.publicKey),
    statements: [{ version: 1, statement: c.base64url(statement),
      signature: c.base64url(c.sign(signer.secretKey, statement)) }] };
}

test("a lying server gets no escrow and no secret from the redeem page", async () => {
  const { page, problems } = await watchedPage(browser);
  await askRecoveryInPage(page, server, proxy.url, "bob@example.com");
  const link = approveWithCli(server, "alice", alice);

  // 1. The link share swapped for another: it does not open; nothing is sent.
  proxy.edit = (x, status, body) => {
    if (!x.path.startsWith("/v1/recovery/redeem/verify") || status !== 200) return body;
    const j = JSON.parse(body);
    j.link_share = c.base64url(c.encrypt(c.randomBytes(32), c.randomBytes(32), c.randomBytes(4)));
    return JSON.stringify(j);
  };
  await openRecoveryLink(page, server, link, "bob@example.com");
  await page.getByText("Your vault key did not open").waitFor();
  assert.equal(proxy.exchanges.filter((x) => x.path.startsWith("/v1/recovery/redeem/complete")).length, 0);

  // 2. An invented organization in the answer: no escrow for it.
  let accountOrgs: string[] = [];
  proxy.edit = (x, status, body) => {
    if (!x.path.startsWith("/v1/recovery/redeem/verify") || status !== 200) return body;
    const j = JSON.parse(body);
    accountOrgs = j.orgs.map((o: { org_id: string }) => o.org_id);
    j.orgs.push(forgedOrg());
    return JSON.stringify(j);
  };
  await page.goto("about:blank"); // a new document: the same path with a fragment would not load
  await openRecoveryLink(page, server, link, "bob@example.com");
  await setNewPassword(page, NEW_PASSWORD);
  proxy.edit = undefined;
  assert.match(await page.locator("main").innerText(), /Not renewed .*Evil Corp/);
  const complete = proxy.exchanges.filter((x) => x.path.startsWith("/v1/recovery/redeem/complete"));
  assert.equal(complete.length, 1);
  const sent = JSON.parse(complete[0].requestBody);
  assert.deepEqual(sent.escrows.map((e: { org_id: string }) => e.org_id), accountOrgs);
  assert.ok(!complete[0].requestBody.includes("evil"));
  assert.deepEqual(problems, []);
});
