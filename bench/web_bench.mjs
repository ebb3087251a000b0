// The web pages' figures of bench/RESULTS.md "Web pages" (issue 13), each
// against a baseline measured in the same run, interleaved, in Debian's
// headless chromium driven by playwright-core (web/node_modules):
//
//   1. time to an interactive sign-in page (the email field ready), a fresh
//      browser context (cold cache) each round, against a blank document
//      from the same keywardd (GET /healthz);
//   2. Argon2id at keywardd's default parameters (3 passes, 64 MiB) in the
//      page at sign-in (the page's own performance.measure) against the
//      native client's (keyward_crypto_bench, the same parameters);
//   3. the console's request list with 100,000 requests stored
//      (keyward_bench_seed: 10,000 members, 2,000 pending): the first page
//      with the counts, and the next page, against a fetch of /healthz from
//      the same page.
//
//   node bench/web_bench.mjs [build-dir] [rounds]     (default build, 5)
//
// Prints a Markdown table on stdout. Not part of ctest: no timed assertion.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir, cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(new URL("..", import.meta.url).pathname);
const build = resolve(process.argv[2] ?? join(root, "build"));
const rounds = Number(process.argv[3] ?? 5);
const { chromium } = createRequire(join(root, "web", "package.json"))("playwright-core");
const bin = (name) => join(build, "bin", name);
for (const b of ["keywardd", "keyward", "keyward_bench_seed", "keyward_crypto_bench"]) {
  if (!existsSync(bin(b))) {
    console.error(`web_bench: ${bin(b)} is missing (build it first)`);
    process.exit(1);
  }
}

const PASSWORD = "correct horse battery staple";
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEYWARD_")));
const dir = mkdtempSync(join(tmpdir(), "keyward-web-bench-"));

async function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
}

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = spawn(bin("keywardd"), ["--listen", `127.0.0.1:${port}`, "--data", join(dir, "data"),
  "--public-url", url], { stdio: "ignore", env });
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${url}/healthz`)).ok) break;
  } catch {
    // not yet
  }
  await new Promise((r) => setTimeout(r, 100));
}

function cli(args, input = "") {
  const r = spawnSync(bin("keyward"), ["--server", url, "--profile", join(dir, "profile"), ...args],
    { input, encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`keyward ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function code(email) {
  const outbox = join(dir, "data", "outbox");
  for (let i = 0; i < 200; i++) {
    const texts = existsSync(outbox) ? readdirSync(outbox).filter((n) => n.endsWith(".eml")).sort()
      .map((n) => readFileSync(join(outbox, n), "utf8")).filter((t) => t.includes(email)) : [];
    const m = texts.at(-1)?.match(/\r?\n([0-9]{6})\r?\n/);
    if (m) return m[1];
    spawnSync("sleep", ["0.05"]);
  }
  throw new Error("no code");
}

// The owner: a real account at the server's default KDF, then 100,000
// requests in an organization of its own.
cli(["account", "register", "--email", "owner@example.com"], `${PASSWORD}\n${PASSWORD}\n`);
cli(["account", "verify", "--email", "owner@example.com"], `${code("owner@example.com")}\n`);
const seeded = spawnSync(bin("keyward_bench_seed"), [`sqlite:${join(dir, "data", "keyward.db")}`,
  "owner@example.com", "acme"], { encoding: "utf8", env });
if (seeded.status !== 0) throw new Error(`seed: ${seeded.stderr}`);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true, args: ["--no-sandbox"] });

async function timed(f) {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const results = { blank: [], signin: [], browserArgon: [], nativeArgon: [], healthzFetch: [], firstPage: [], nextPage: [] };
for (let r = 0; r < rounds; r++) {
  // 1. Blank document, then the sign-in page, each in a fresh context.
  for (const [key, path, ready] of [["blank", "/healthz", "body"], ["signin", "/", "#email"]]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    results[key].push(await timed(async () => {
      await page.goto(`${url}${path}`, { waitUntil: "commit" });
      await page.locator(ready).waitFor();
      if (key === "signin") await page.locator("#email").click();
    }));
    await context.close();
  }
  // 2. Argon2id in the page (sign-in), then natively.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/`);
  await page.locator("#email").fill("owner@example.com");
  await page.locator("#password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Your vault" }).waitFor({ timeout: 60_000 });
  results.browserArgon.push(await page.evaluate(() =>
    performance.getEntriesByName("keyward:argon2id").at(-1).duration));
  const native = spawnSync(bin("keyward_crypto_bench"), ["--benchmark_filter=BM_Argon2id/default_ops3_64MiB",
    "--benchmark_format=json", "--benchmark_min_time=0.01"], { encoding: "utf8", env });
  results.nativeArgon.push(JSON.parse(native.stdout).benchmarks[0].real_time);
  // 3. The console over 100,000 requests.
  results.healthzFetch.push(await page.evaluate(async () => {
    const t = performance.now();
    await (await fetch("/healthz")).text();
    return performance.now() - t;
  }));
  await page.getByRole("button", { name: "Admin console" }).click();
  await page.getByRole("button", { name: "The fingerprints match" }).waitFor();
  results.firstPage.push(await timed(async () => {
    await page.getByRole("button", { name: "The fingerprints match" }).click();
    await page.locator("table.requests tbody tr").first().waitFor({ timeout: 60_000 });
  }));
  results.nextPage.push(await timed(async () => {
    const caption = await page.locator("table.requests tbody tr").first().innerText();
    await page.getByRole("button", { name: "Next page" }).click();
    await page.waitForFunction((before) =>
      document.querySelector("table.requests tbody tr")?.textContent !== before, caption);
  }));
  await context.close();
}
await browser.close();
server.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });

const best = (a) => Math.min(...a);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ms = (v) => `${v.toFixed(1)} ms`;
const row = (what, key, base, baseName) => {
  const b = best(results[key]);
  const ratio = base ? ` | ${(best(results[base]) / b).toFixed(2)}× ${baseName}` : " | —";
  return `| ${what} | ${ms(b)} | ${ms(median(results[key]))}${ratio} |`;
};
console.log(`${cpus().length} × ${cpus()[0].model}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}, ${rounds} rounds interleaved, chromium headless\n`);
console.log("| figure | best | median | ratio (baseline ÷ figure, best) |");
console.log("| --- | --- | --- | --- |");
console.log(row("blank document (`GET /healthz`), fresh context", "blank"));
console.log(row("sign-in page interactive, fresh context", "signin", "blank", "the blank document"));
console.log(row("Argon2id 3 passes / 64 MiB, native (`keyward_crypto_bench`)", "nativeArgon"));
console.log(row("Argon2id 3 passes / 64 MiB, in the page (WebAssembly)", "browserArgon", "nativeArgon", "native"));
console.log(row("`fetch('/healthz')` from the page", "healthzFetch"));
console.log(row("console: first page of requests + counts, 100,000 stored", "firstPage", "healthzFetch", "the fetch"));
console.log(row("console: next page, 100,000 stored", "nextPage", "healthzFetch", "the fetch"));
