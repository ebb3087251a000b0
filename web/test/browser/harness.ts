// What the browser tests share: a live keywardd (its outbox for mail), the
// real `keyward` CLI to set up accounts, and Debian's chromium driven by
// playwright-core, with every console error and Content-Security-Policy
// violation collected (a test fails on any). Paths come from ctest:
// KEYWARDD, KEYWARD_CLI, KEYWARD_WEB_ARTIFACTS (screenshots), CHROMIUM.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest, createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const PASSWORD = "correct horse battery staple";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
}

function withoutKeywardVars(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEYWARD_")));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// A real SMTP server (tests/support/smtp_server.py, Debian's
// python3-aiosmtpd) writing each message it accepts to `maildir`.
class SmtpServer {
  port = 0;
  private process?: ChildProcess;

  constructor(readonly maildir: string) {}

  async start(): Promise<void> {
    mkdirSync(this.maildir, { recursive: true });
    const script = new URL("../../../../tests/support/smtp_server.py", import.meta.url).pathname;
    this.process = spawn("/usr/bin/python3", [script, "--maildir", this.maildir],
      { stdio: ["pipe", "pipe", "inherit"] });
    this.port = await new Promise<number>((resolve, reject) => {
      let out = "";
      this.process!.stdout!.on("data", (d) => {
        out += d;
        const m = out.match(/READY ([0-9]+)/);
        if (m) resolve(Number(m[1]));
      });
      this.process!.once("exit", (code) => reject(new Error(`smtp_server.py exited (${code})`)));
    });
  }

  stop(): void {
    this.process?.kill("SIGTERM");
  }
}

export class Server {
  readonly dir = mkdtempSync(join(tmpdir(), "keyward-web-"));
  url = "";
  private process?: ChildProcess;
  private smtp?: SmtpServer;
  // The first start's arguments, for restart().
  private baseArgs: string[] = [];

  // `publicUrl`: the address the pages and links name (a proxy's, for the
  // hostile-server tests); the server's own by default. `smtp`: mail goes
  // to a real SMTP server instead of the outbox.
  async start(publicUrl?: string, extraArgs: string[] = [], smtp = false): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const mailArgs: string[] = [];
    if (smtp) {
      this.smtp = new SmtpServer(join(this.dir, "maildir"));
      await this.smtp.start();
      mailArgs.push("--smtp-host", "127.0.0.1", "--smtp-port", String(this.smtp.port),
        "--smtp-security", "none");
    }
    this.baseArgs = ["--listen", `127.0.0.1:${port}`, "--data",
      join(this.dir, "data"), "--public-url", publicUrl ?? this.url, "--min-kdf-ops", "2",
      "--min-kdf-mem", "20971520", ...mailArgs];
    await this.launch(extraArgs);
  }

  // Stops keywardd and starts it again on the same address with the same
  // data directory (and mail), with `extraArgs` instead of the first ones
  // (a `--config` file with [sso.ORG] tables, say).
  async restart(extraArgs: string[] = []): Promise<void> {
    const running = this.process;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGTERM");
      await exited;
    }
    await this.launch(extraArgs);
  }

  private async launch(extraArgs: string[]): Promise<void> {
    this.process = spawn(env("KEYWARDD"), [...this.baseArgs, ...extraArgs],
      // keywardd refuses KEYWARD_* variables it does not know (the test's own).
      { stdio: ["ignore", "ignore", "pipe"], env: withoutKeywardVars() });
    let log = "";
    this.process.stderr!.on("data", (d) => (log += d));
    for (let i = 0; i < 100; i++) {
      if (this.process.exitCode !== null) break;
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`keywardd did not start:\n${log}`);
  }

  stop(): void {
    this.process?.kill("SIGTERM");
    this.smtp?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private get mailDir(): string {
    return this.smtp ? this.smtp.maildir : join(this.dir, "data", "outbox");
  }

  // The last match of `pattern` in the mail to `to` (the outbox's .eml
  // files, or the SMTP server's), skipping the first `after` messages: a
  // caller expecting a new message counts the old ones first (mailCount),
  // or an older match (bob's first invitation) answers at once. Mail goes
  // out in the background, so it is waited for, up to 30 s, and the wait
  // yields: an EditingProxy in this process must go on forwarding the
  // page's request that sends the mail. (It blocked the thread before, and
  // a code asked through the proxy then never came.)
  async mail(to: string, pattern: RegExp, after = 0): Promise<RegExpMatchArray> {
    const outbox = this.mailDir;
    for (let tries = 0; tries < 600; tries++) {
      let found: RegExpMatchArray | null = null;
      this.mailTo(to, outbox).slice(after).forEach((text) => {
        found = text.match(pattern) ?? found;
      });
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`nothing like ${pattern} mailed to ${to}`);
  }

  // How many messages went to `to` so far.
  mailCount(to: string): number {
    return this.mailTo(to, this.mailDir).length;
  }

  private mailTo(to: string, outbox: string): string[] {
    if (!existsSync(outbox)) return [];
    return readdirSync(outbox).filter((name) => name.endsWith(".eml")).sort()
      .map((name) => readFileSync(join(outbox, name), "utf8").replace(/\r\n/g, "\n"))
      .filter((text) => text.includes(`To: ${to}\n`) || text.includes(`<${to}>`));
  }

  // The newest 6-digit code mailed to `to`.
  async code(to: string, after = 0): Promise<string> {
    return (await this.mail(to, /\n([0-9]{6})\n/, after))[1];
  }

  // The CLI with a profile of its own per person.
  cli(person: string, args: string[], input = "", extraEnv: Record<string, string> = {}): string {
    const r = spawnSync(env("KEYWARD_CLI"),
      ["--server", this.url, "--profile", join(this.dir, "profiles", person), ...args],
      { input, encoding: "utf8", env: { ...withoutKeywardVars(), ...extraEnv } });
    if (r.status !== 0) {
      throw new Error(`keyward ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
  }

  // The CLI run in the background, typing what `input` gives once it comes;
  // its exit status and output (stdout and stderr), once it ends.
  cliAsync(person: string, args: string[],
    input: () => Promise<string>): Promise<{ status: number; out: string }> {
    const child = spawn(env("KEYWARD_CLI"),
      ["--server", this.url, "--profile", join(this.dir, "profiles", person), ...args],
      { stdio: ["pipe", "pipe", "pipe"], env: withoutKeywardVars() });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number>((resolve) => child.on("exit", (status) => resolve(status ?? -1)));
    const typed = input().then((text) => {
      child.stdin.end(text);
    }, (e) => {
      child.kill();
      throw e;
    });
    return Promise.all([exited, typed]).then(([status]) => ({ status, out }));
  }

  // A verified account with a session; returns its KEYWARD_SESSION.
  async newAccount(person: string, email: string): Promise<string> {
    this.cli(person, ["account", "register", "--email", email], `${PASSWORD}\n${PASSWORD}\n`);
    this.cli(person, ["account", "verify", "--email", email], `${await this.code(email)}\n`);
    const out = this.cli(person, ["login", "--email", email], `${PASSWORD}\n`);
    const m = out.match(/export KEYWARD_SESSION="([A-Za-z0-9_-]+)"/);
    if (!m) throw new Error(`no session in:\n${out}`);
    return m[1];
  }
}

// `owner` creates an organization (opt-in enrollment) and `member` joins
// with the fingerprint from the invitation and enrolls; returns nothing.
export async function organization(server: Server, owner: string, ownerSession: string,
  member: string, memberEmail: string, memberSession: string): Promise<void> {
  const as = (session: string) => ({ KEYWARD_SESSION: session });
  server.cli(owner, ["org", "create", "Acme"], "", as(ownerSession));
  server.cli(owner, ["org", "policy", "set", "--enrollment", "opt-in"], "", as(ownerSession));
  server.cli(owner, ["org", "invite", memberEmail, "--role", "user"], "", as(ownerSession));
  const token = (await server.mail(memberEmail, /keyward org join ([A-Za-z0-9_-]+)/))[1];
  const fingerprint = (await server.mail(memberEmail, /([0-9a-f]{8}(?: [0-9a-f]{8}){4})/))[1];
  server.cli(member, ["--yes", "org", "join", token, "--fingerprint", fingerprint], "",
    as(memberSession));
  server.cli(member, ["--yes", "recovery", "enroll"], `${PASSWORD}\n`, as(memberSession));
}

// A proxy between the page and keywardd that can edit keywardd's JSON
// answers (the hostile-server tests) and records what the page sent.
export interface Exchange {
  method: string;
  path: string;
  requestBody: string;
}
export type Edit = (x: Exchange, status: number, body: string) => string;

export class EditingProxy {
  url = "";
  upstream = "";
  edit?: Edit;
  // The status the page gets instead of keywardd's (with `edit`'s body).
  status?: (x: Exchange, status: number) => number;
  readonly exchanges: Exchange[] = [];
  private server?: HttpServer;

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (d) => chunks.push(d));
      req.on("end", () => {
        const x: Exchange = { method: req.method ?? "", path: req.url ?? "",
          requestBody: Buffer.concat(chunks).toString("utf8") };
        this.exchanges.push(x);
        const up = new URL(this.upstream);
        const headers = { ...req.headers, host: up.host };
        const forward = httpRequest({ host: up.hostname, port: up.port, method: req.method,
          path: req.url, headers }, (answer) => {
          const body: Buffer[] = [];
          answer.on("data", (d) => body.push(d));
          answer.on("end", () => {
            let out: Buffer = Buffer.concat(body);
            const type = String(answer.headers["content-type"] ?? "");
            if (this.edit && type.startsWith("application/json")) {
              out = Buffer.from(this.edit(x, answer.statusCode ?? 0, out.toString("utf8")));
            }
            const h = { ...answer.headers, "content-length": String(out.length) };
            const status = answer.statusCode ?? 502;
            res.writeHead(this.status ? this.status(x, status) : status, h);
            res.end(out);
          });
        });
        forward.on("error", () => {
          res.writeHead(502);
          res.end();
        });
        forward.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
  }

  stop(): void {
    this.server?.close();
  }
}

// Starts `proxy`, then `server` with the proxy's address as its public one,
// and points the proxy at the server.
export async function startBehindProxy(server: Server, proxy: EditingProxy): Promise<void> {
  await proxy.start();
  await server.start(proxy.url);
  proxy.upstream = server.url;
}

// Closes the browser, then stops the proxy (if any) and the server.
export async function tearDown(browser: Browser | undefined, server: Server,
  proxy?: EditingProxy): Promise<void> {
  await browser?.close();
  proxy?.stop();
  server.stop();
}

// Signs in on the page at `base` with the email and master password, as far
// as the page headed `heading`.
export async function signInPage(page: Page, base: string, email: string, password = PASSWORD,
  heading = "Your vault"): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Master password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: heading }).waitFor({ timeout: 30_000 });
}

// From the vault, opens Acme's admin console and confirms its signing key
// (first checking it shows `fingerprint` if given, then the screenshot
// `shot` if named), as far as the recovery requests.
export async function openConsole(page: Page, fingerprint?: string, shot = ""): Promise<void> {
  await page.getByRole("button", { name: "Admin console" }).click();
  await page.getByRole("heading", { name: "Check Acme's signing key" }).waitFor();
  if (fingerprint !== undefined) {
    assert.equal(await page.locator("#signing-fingerprint").innerText(), fingerprint);
  }
  if (shot) await screenshot(page, shot);
  await page.getByRole("button", { name: "The fingerprints match" }).click();
  await page.getByRole("heading", { name: "Acme: recovery requests" }).waitFor();
}

// The member asks for recovery in the page at `base` ("Forgot master
// password?", with the newest cloud backup too if `withBackup`, the emailed
// code), as far as "Request sent".
export async function askRecoveryInPage(page: Page, server: Server, base: string,
  email: string, withBackup = false): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Forgot master password?" }).click();
  if (withBackup) await page.getByLabel("Also put back my newest cloud backup").check();
  const seen = server.mailCount(email);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByLabel("6-digit code from the email").fill(await server.code(email, seen));
  await page.getByRole("button", { name: "Send request" }).click();
  await page.getByRole("heading", { name: "Request sent — contact your administrator" }).waitFor();
}

// The member opens the recovery `link` in the page and checks the code
// emailed to `email` for it.
export async function openRecoveryLink(page: Page, server: Server, link: string,
  email: string): Promise<void> {
  await page.goto(link);
  await page.getByRole("heading", { name: "Recover your account" }).waitFor();
  const seen = server.mailCount(email);
  await page.getByRole("button", { name: "Email me a code" }).click();
  await page.getByLabel("6-digit code from the email").fill(await server.code(email, seen));
  await page.getByRole("button", { name: "Check the code" }).click();
}

// On the recovery link's page, sets `password` as the new master password,
// as far as "Done".
export async function setNewPassword(page: Page, password: string): Promise<void> {
  await page.getByLabel("New master password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new master password").fill(password);
  await page.getByRole("button", { name: "Set the new master password" }).click();
  await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 30_000 });
}

// The owner approves the one pending request with the CLI; the link it printed.
export function approveWithCli(server: Server, owner: string, session: string): string {
  const listed = JSON.parse(server.cli(owner, ["--json", "recovery", "list", "--status",
    "pending"], "", { KEYWARD_SESSION: session }));
  const approved = server.cli(owner, ["--yes", "recovery", "approve", listed.requests[0].id], "",
    { KEYWARD_SESSION: session });
  const link = approved.match(/(https?:\/\/[^\s/]+\/recover\/[A-Za-z0-9_-]+#[A-Za-z0-9_-]+)/);
  if (!link) throw new Error(`no link in:\n${approved}`);
  return link[1];
}

// ann, with one item ("Bank", user "ann") stored by the CLI.
export async function annWithAnItem(server: Server): Promise<void> {
  const session = await server.newAccount("ann", "ann@example.com");
  server.cli("ann", ["item", "add", "--name", "Bank", "--username", "ann"], "bank-secret\n",
    { KEYWARD_SESSION: session });
}

// The usual cast: alice owns Acme, bob is an enrolled member (sessions).
export async function aliceAndBob(server: Server): Promise<{ alice: string; bob: string }> {
  const alice = await server.newAccount("alice", "alice@example.com");
  const bob = await server.newAccount("bob", "bob@example.com");
  await organization(server, "alice", alice, "bob", "bob@example.com", bob);
  return { alice, bob };
}

export interface Watched {
  page: Page;
  problems: string[];
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
}

// A page whose console errors, uncaught exceptions and CSP violations are
// collected into `problems`.
export async function watchedPage(browser: Browser): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    // Chromium logs every 4xx answer to fetch (a wrong password is a 401):
    // the page shows those in words; anything else is a problem.
    if (m.type() !== "error" || /status of 4\d\d /.test(m.text())) return;
    problems.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 500) problems.push(`server: ${r.status()} ${r.url()}`);
  });
  page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
  await page.exposeFunction("__kwCspViolation", (text: string) => problems.push(`csp: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as any).__kwCspViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.KEYWARD_WEB_ARTIFACTS ?? join(tmpdir(), "keyward-web-artifacts");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
