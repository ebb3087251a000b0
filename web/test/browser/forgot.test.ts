// "Forgot master password?" in a real Chromium: the member asks, confirms
// with the emailed code, and the organization's recovery admin sees the
// pending request (through the real CLI); a wrong code is said in words.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

import { aliceAndBob, launch, screenshot, Server, tearDown, watchedPage } from "./harness.js";

const server = new Server();
let browser: Browser;
let alice = "";

before(async () => {
  await server.start();
  alice = (await aliceAndBob(server)).alice;
  browser = await launch();
});

after(() => tearDown(browser, server));

test("a member who forgot the password asks, and the admin sees the request", async () => {
  const { page, problems } = await watchedPage(browser);
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByRole("button", { name: "Forgot master password?" }).click();
  await page.getByRole("heading", { name: "Forgot master password?" }).waitFor();
  const seen = server.mailCount("bob@example.com");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByLabel("6-digit code from the email").waitFor();

  // Not six digits: said before anything is sent; a wrong code: the server's
  // refusal, in words.
  await page.getByLabel("6-digit code from the email").fill("12ab");
  await page.getByRole("button", { name: "Send request" }).click();
  await page.getByText("Enter the 6 digits of the code from the email.").waitFor();
  const code = await server.code("bob@example.com", seen);
  const wrong = code === "000000" ? "111111" : "000000";
  await page.getByLabel("6-digit code from the email").fill(wrong);
  await page.getByRole("button", { name: "Send request" }).click();
  await page.getByText("The code is wrong, expired or already used").waitFor();
  await screenshot(page, "forgot-wrong-code");

  await page.getByLabel("6-digit code from the email").fill(code);
  await page.getByRole("button", { name: "Send request" }).click();
  await page.getByRole("heading", { name: "Request sent — contact your administrator" }).waitFor();
  await screenshot(page, "forgot-sent");

  const listed = JSON.parse(server.cli("alice", ["--json", "recovery", "list", "--status",
    "pending"], "", { KEYWARD_SESSION: alice }));
  assert.equal(listed.requests.length, 1);
  assert.equal(listed.requests[0].email, "bob@example.com");
  assert.equal(listed.requests[0].device_name, "Web browser");
  assert.match(await page.locator("main").innerText(), new RegExp(listed.requests[0].id));
  assert.deepEqual(problems, []);
});
