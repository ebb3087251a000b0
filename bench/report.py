#!/usr/bin/python3
"""Writes bench/RESULTS.md (on stdout) from one bench/run: node_bench.sh's
key=value file, keyward_crypto_bench's JSON and, in full mode,
multinode_bench.sh's Markdown. Every throughput is shown as a ratio to the
ceiling measured in the same run; each target says met or missed. The
hand-written analysis of the misses (bench/ANALYSIS.md) is appended."""
import argparse
import json
import os
import pathlib
import platform
import statistics

ROOT = pathlib.Path(__file__).resolve().parent.parent


def read_kv(path):
    out = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def machine():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kib = int(line.split()[1])
    return cpu, os.cpu_count(), mem_kib / 1024 / 1024, platform.release()


def best_times(path):
    """Best (lowest) real time per benchmark over the repetitions, in ns."""
    data = json.loads(pathlib.Path(path).read_text())
    times = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        name = b["run_name"] if "run_name" in b else b["name"]
        times.setdefault(name, []).append(b["real_time"] * unit)
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}


def best_rates(path, counter="items_per_second"):
    """Best (highest) `counter` per benchmark over the repetitions."""
    data = json.loads(pathlib.Path(path).read_text())
    rates = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or counter not in b:
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        rates[name] = max(rates.get(name, 0.0), float(b[counter]))
    return rates


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--crypto", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--rotation", required=True)
    p.add_argument("--statements", required=True)
    p.add_argument("--multinode")
    p.add_argument("--started", required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--load-start", required=True)
    p.add_argument("--load-end", required=True)
    p.add_argument("--commit", required=True)
    a = p.parse_args()
    n = read_kv(a.node)
    c = best_times(a.crypto)
    cpu, cores, mem_gib, kernel = machine()

    def f(key):
        # A case with errors in every round has no figure: NaN fails every target.
        return float(n[key]) if n.get(key, "") != "" else float("nan")

    def has(key):
        return key in n and n[key] != ""

    out = []
    w = out.append
    w("# Benchmark results\n")
    w(f"Written by `bench/run{' --full' if a.mode == 'full' else ''}` from one run: do not edit "
      "by hand, run it again. Every throughput is a ratio to a ceiling measured in the same run, "
      "cases interleaved round by round, each figure the best of its rounds, so other load on "
      "the machine moves a figure and its ceiling together. Quick mode (`bench/run`) takes a "
      "few minutes; `bench/run --full` adds longer rounds and PostgreSQL.\n")
    w("| run | |\n| --- | --- |")
    w(f"| started | {a.started} ({a.mode} mode, {a.seconds} s, commit `{a.commit}`) |")
    w(f"| machine | {cpu}, {cores} cores, {mem_gib:.0f} GiB, Linux {kernel} |")
    w(f"| load average (1, 5, 15 min) | {a.load_start} at the start, {a.load_end} at the end |")
    w(f"| HTTP cases | wrk -t2 -c{n['connections']} -d{n['duration']} --latency, best of "
      f"{n['rounds']} rounds; wrk runs on the same cores as the server |")
    w("")

    healthz = f("healthz.rps")
    hz_cpu = f("healthz.cpu_us")
    targets = []

    def target(name, value, goal, ok):
        targets.append((name, value, goal, verdict(ok)))

    for key, label in (("items10", "GET /v1/items, 10 items"), ("items50", "GET /v1/items, 50 items"),
                       ("requests", "pending request list, first page")):
        r = f(f"{key}.rps") / healthz
        target(f"{label} / `/healthz`", f"{r:.2f}×", "≥ 0.5×", r >= 0.5)
    for key, label in (("items10", "items (10)"), ("items50", "items (50)"),
                       ("requests", "request list")):
        v = f(f"{key}.p99_ms")
        target(f"p99 at {n['connections']} connections, {label}", f"{v:.2f} ms", "< 10 ms", v < 10)
    r = f("login.cpu_us") / hz_cpu
    target("login server CPU / `/healthz` server CPU", f"{r:.1f}×", "≤ 5×", r <= 5)
    r = f("writes.rps") / f("sqlite16.commits")
    target(f"{n['connections']} item writers / SQLite 16-writer commit ceiling", f"{r:.2f}×",
           "≥ 0.7×", r >= 0.7)
    idle = f("rss_idle_kib") / 1024
    target("idle RSS (web assets embedded)", f"{idle:.1f} MiB", "≤ 16 MiB", idle <= 16)
    peak = f("rss_peak_kib") / 1024
    target("peak RSS under load", f"{peak:.1f} MiB", "≤ 48 MiB", peak <= 48)
    cold = f("cold_start_ms")
    target("cold start to the first `/healthz`, existing database", f"{cold:.1f} ms", "< 100 ms",
           cold < 100)
    statements = read_kv(a.statements)
    if statements:
        most = max(int(v) for v in statements.values())
        target("SQL statements per list page, whatever its size (largest of "
               f"{len(statements)} lists; constant: ListStatementsTest)", f"{most}", "≤ 6",
               most <= 6)
    cl = best_rates(a.client)
    listing = cl.get("BM_ListItems10k", float("nan")) / cl.get("BM_RawDecrypt10k", float("nan"))
    target("CLI: opening and listing 10,000 items / raw XChaCha20-Poly1305 over the same bytes",
           f"{listing:.2f}×", "≥ 0.5×", listing >= 0.5)
    rot = best_rates(a.rotation)
    threads = sorted({int(k.split("/")[1]) for k in rot if k.startswith("BM_RewrapShares/")})
    rotation = {t: rot.get(f"BM_RewrapShares/{t}/real_time", float("nan")) /
                rot.get(f"BM_RawOpenSealPairs/{t}/real_time", float("nan")) for t in threads}
    for t in threads:
        target(f"rotation (10,000 shares) on {t} thread{'s' if t > 1 else ''} / raw "
               "seal+open", f"{rotation[t]:.2f}×", "≥ 0.6×", rotation[t] >= 0.6)

    w("## Targets (issue 16)\n")
    w("| target | this run | goal | |\n| --- | --- | --- | --- |")
    for t in targets:
        w(f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} |")
    w("")
    w("Not yet measured by `bench/run` (issue 16 is open): the PostgreSQL targets in quick mode "
      "(one PostgreSQL node against SQLite, two nodes against one: "
      "`--full` runs the earlier multi-node bench), growth curves (1k → 1M members, 10k → 10M "
      "requests and events). "
      "Earlier separate measurements of those are in `bench/HISTORY.md`.\n")

    w("## keywardd on SQLite, beside its ceilings (`bench/node_bench.sh`)\n")
    w(f"One keywardd (defaults: one worker per core, SQLite in WAL mode with synchronous=FULL, "
      f"on disk) with {n['members']} organization members and {n['requests']} recovery requests "
      f"({n['pending']} pending). Ceilings: a bare Beast server in keywardd's style "
      f"(`bench/ping_server.cc`) and raw SQLite durable commits (`bench/sqlite_ceiling.cc`). "
      "Server CPU per request: the server process's user+system time over the case divided "
      "by the requests it answered.\n")
    w("| case | requests/s | ratio | p99 | server CPU / request | non-2xx |")
    w("| --- | --- | --- | --- | --- | --- |")
    ping = f("ping.rps")
    rows = [("ping", "bare Beast `GET /ping` (ceiling of any route)", ping, "1 (ceiling)"),
            ("healthz", "`GET /healthz`", ping, None),
            ("items10", "`GET /v1/items`, 10 items (~4 KiB)", healthz, None),
            ("items50", "`GET /v1/items`, 50 items (~21 KiB)", healthz, None),
            ("items50_304", "the same, `If-None-Match` of the current ETag (304)", healthz, None),
            ("requests", "`GET …/recovery/requests?status=pending`, first page of 50", healthz, None),
            ("login", "`POST /v1/sessions` (a new session: one commit)", healthz, None),
            ("writes", "`POST /v1/items`, one new 300-byte item (one commit)", None, None)]
    for key, label, base, fixed in rows:
        if f"{key}.non2xx" not in n:
            w(f"| {label} | not measured (no ETag sent) | | | | |")
            continue
        if not has(f"{key}.rps"):
            w(f"| {label} | no round without errors | | | | {n[f'{key}.non2xx']} |")
            continue
        v = f(f"{key}.rps")
        if fixed:
            ratio = fixed
        elif base is None:
            ratio = f"{v / f('sqlite16.commits'):.2f}× SQLite 16-writer commits"
        else:
            ratio = f"{v / base:.2f}× {'ping' if base == ping else '/healthz'}"
        w(f"| {label} | {v:,.0f} | {ratio} | {f(f'{key}.p99_ms'):.2f} ms | "
          f"{f(f'{key}.cpu_us'):.1f} µs | {n[f'{key}.non2xx']} |")
    w(f"| raw SQLite, 1 writer (commits/s) | {f('sqlite1.commits'):,.0f} | ceiling | | | |")
    w(f"| raw SQLite, 16 writers (commits/s) | {f('sqlite16.commits'):,.0f} | ceiling | | | |")
    w("")
    w("| memory and start | this run |\n| --- | --- |")
    w(f"| RSS at start | {f('rss_start_kib') / 1024:.1f} MiB |")
    w(f"| RSS idle, after seeding | {idle:.1f} MiB (Vaultwarden: ~10–16 MB) |")
    if has("rss_anon_idle_kib"):
        w(f"| … of which anonymous (heap, stacks) / file pages (binary, shared libraries) | "
          f"{f('rss_anon_idle_kib') / 1024:.1f} / {f('rss_file_idle_kib') / 1024:.1f} MiB |")
        w(f"| PSS idle (shared pages divided among the processes using them) | "
          f"{f('pss_idle_kib') / 1024:.1f} MiB |")
        w(f"| threads | {n['threads']} |")
    w(f"| RSS peak under load | {peak:.1f} MiB |")
    w(f"| cold start to the first answered `/healthz` (best of 3) | {cold:.1f} ms |")
    w("")

    w("## Crypto beside raw libsodium (`keyward_crypto_bench`)\n")
    w("Google Benchmark, repetitions randomly interleaved, best repetition. Ratio: the raw "
      "libsodium time over Keyward's (1.00× = no overhead).\n")
    w("| operation | Keyward | raw libsodium | ratio |\n| --- | --- | --- | --- |")
    pairs = [("XChaCha20-Poly1305 encrypt, 300 B", "BM_Encrypt/300", "BM_RawEncrypt/300"),
             ("XChaCha20-Poly1305 encrypt, 1 KiB", "BM_Encrypt/1024", "BM_RawEncrypt/1024"),
             ("XChaCha20-Poly1305 decrypt, 300 B", "BM_Decrypt/300", "BM_RawDecrypt/300"),
             ("XChaCha20-Poly1305 decrypt, 1 KiB", "BM_Decrypt/1024", "BM_RawDecrypt/1024"),
             ("sealed box seal, 64 B", "BM_Seal", "BM_RawSeal"),
             ("sealed box open, 64 B", "BM_Open", "BM_RawOpen"),
             ("secretstream push + pull, 1 MiB in 64 KiB", "BM_StreamPushPull",
              "BM_RawStreamPushPull"),
             ("Argon2id, ops 3, 64 MiB (server minimum)", "BM_Argon2id/default_ops3_64MiB",
              "BM_RawArgon2id/default_ops3_64MiB"),
             ("Argon2id, ops 2, 19 MiB (client floor)", "BM_Argon2id/client_floor_ops2_19MiB",
              "BM_RawArgon2id/client_floor_ops2_19MiB")]
    for label, ours, raw in pairs:
        if ours in c and raw in c:
            w(f"| {label} | {fmt_time(c[ours][0])} | {fmt_time(c[raw][0])} | "
              f"{c[raw][0] / c[ours][0]:.2f}× |")
    for label, key in (("Ed25519 sign", "BM_Sign"), ("Ed25519 verify", "BM_Verify"),
                       ("keyed BLAKE2b-256 (a login's verifier)", "BM_Hash")):
        if key in c:
            w(f"| {label} | {fmt_time(c[key][0])} | | |")
    w("")

    if statements:
        w("## SQL statements per list page (`list_statements_test`)\n")
        w("Each list route called over the whole API on a small and on a larger organization "
          "and vault (2 and 12 members, 2 and 42 items): the statements the store ran for it, "
          "each query and its transactions' BEGIN and COMMIT. The test fails unless both sizes "
          "run the same statements; it runs on SQLite here and on PostgreSQL as "
          "`pg/ListStatementsTest`, with the same counts.\n")
        w("| list | statements |\n| --- | --- |")
        for name in sorted(statements):
            w(f"| {name} | {statements[name]} |")
        w("")

    w("## The client beside raw libsodium (`keyward_client_bench`, `keyward_rotation_bench`)\n")
    w("Items (or shares) per second, best repetition of randomly interleaved ones. Listing: "
      "from the JSON text of a `GET /v1/items` answer to the opened items, as `keyward item "
      "list` does once the answer is in; its ceiling decrypts the same ciphertexts, already "
      "decoded, into one buffer. Rotation: `RewrapShares` (open each admin share under the old "
      "organization key, check its header, seal it to the new one) against bare "
      "open + seal of the same shares on the same threads.\n")
    w("| operation | Keyward (items/s) | ceiling (items/s) | ratio |\n| --- | --- | --- | --- |")
    w(f"| list 10,000 items (~250 B each) | {cl.get('BM_ListItems10k', 0):,.0f} | "
      f"{cl.get('BM_RawDecrypt10k', 0):,.0f} | {listing:.2f}× |")
    for t in threads:
        w(f"| rotate 10,000 admin shares, {t} thread{'s' if t > 1 else ''} | "
          f"{rot.get(f'BM_RewrapShares/{t}/real_time', 0):,.0f} | "
          f"{rot.get(f'BM_RawOpenSealPairs/{t}/real_time', 0):,.0f} | {rotation[t]:.2f}× |")
    w("")

    if a.multinode:
        w("## PostgreSQL, nginx and two nodes (`bench/multinode_bench.sh`)\n")
        text = pathlib.Path(a.multinode).read_text()
        w(text.replace("\n### ", "\n### ").strip() + "\n")

    analysis = ROOT / "bench" / "ANALYSIS.md"
    if analysis.exists():
        w(analysis.read_text().strip() + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
