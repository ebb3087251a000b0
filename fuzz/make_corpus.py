#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from tests/vectors/*.json and
the routes of src/http/api (docs/fuzzing.md). Run by hand after a format or
a harness changes; the output is committed. Each seed is laid out as
libFuzzer's FuzzedDataProvider reads it (fuzz/fuzz_support.h): strings from
the front, each ended by a backslash and one other byte, integers from the
back, the remaining bytes in between."""

import hashlib
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"


class Seed:
    def __init__(self):
        self.front = b""
        self.back = b""
        self.middle = b""

    def str(self, s, max_len):
        s = s.encode() if isinstance(s, str) else bytes(s)
        assert len(s) < max_len, (len(s), max_len)
        self.front += s.replace(b"\\", b"\\\\") + b"\\;"
        return self

    def int(self, value, lo, hi, size=8):
        """ConsumeIntegralInRange<T>(lo, hi) with sizeof(T) == size."""
        span = hi - lo
        raw = value - lo
        n = 0
        while n < size and (span >> (8 * n)) > 0:
            n += 1
        self.back += raw.to_bytes(n, "big") if n else b""
        return self

    def u64(self, value):
        return self.int(value, 0, 2**64 - 1)

    def i64(self, value):
        return self.int(value, -(2**63), 2**63 - 1)

    def bool(self, value):
        return self.int(1 if value else 0, 0, 255, 1)

    def rest(self, data):
        self.middle = data.encode() if isinstance(data, str) else bytes(data)
        return self

    def bytes(self):
        return self.front + self.middle + self.back[::-1]


def load(name):
    return json.loads((VECTORS / name).read_text())


def h(text):
    return bytes.fromhex(text)


def protocol_seeds():
    seeds = []

    def seed(pick):
        return Seed().int(pick, 0, 24, 1)

    for v in load("protocol_escrow.json")["vectors"]:
        b = (v["org"], v["user"], v["epoch"])

        def binding(pick):
            return seed(pick).str(b[0], 80).str(b[1], 80).u64(b[2])

        seeds.append(binding(0).rest(h(v["admin_share"])))
        seeds.append(binding(1).rest(h(v["server_share"])))
        seeds.append(binding(2).rest(h(v["header_a"]) + h(v["admin_part"])))
        seeds.append(binding(3).rest(h(v["header_u"]) + h(v["server_part"])))
        seeds.append(binding(4).rest(h(v["wrapped_vault_key"])))
        seeds.append(binding(5).rest(h(v["vault_key"])))
    g = load("protocol_grant.json")
    for v in g["vectors"]:
        bind = lambda pick: seed(pick).str(v["org"], 80).str(v["admin_user"], 80).u64(v["key_version"])
        seeds.append(bind(6).rest(h(v["grant"])))
        seeds.append(bind(8).rest(h(v["header"]) + h(v["org_secret_key"])))
    for v in g["signing_grants"]:
        bind = lambda pick: seed(pick).str(v["org"], 80).str(v["admin_user"], 80).u64(v["key_version"])
        seeds.append(bind(7).rest(h(v["signing_grant"])))
        seeds.append(bind(9).rest(h(v["header"]) + bytes(64)))
    links = load("protocol_link.json")
    for v in links["vectors"]:
        seeds.append(seed(10).str(v["request"], 80).str(v["user"], 80).u64(v["epoch"])
                     .rest(h(v["linked_admin_share"])))
        seeds.append(seed(12).rest(v["link"]))
    for v in links["anchored"]:
        seeds.append(seed(11).str(v["request"], 80).str(v["user"], 80).u64(v["epoch"])
                     .rest(h(v["plaintext"])))
    for v in links["invalid_links"][:8]:
        seeds.append(seed(12).rest(v["link"]))
    st = load("protocol_statement.json")
    for v in st["chain"]:
        seeds.append(seed(13).rest(h(v["statement"])))
    first = st["chain"][0]
    seeds.append(seed(14).str(first["org"], 80).int(0, 0, 4).i64(st["now"]).int(1, 1, 3)
                 .rest(h(first["statement"])))
    pol = load("protocol_policy.json")
    for v in pol["canonical"] + pol["accepted"] + pol["refused"][:10]:
        seeds.append(seed(15).rest(v["json"]))
    for v in pol["durations"]:
        seeds.append(seed(16).rest(v["text"]))
    for word in ("opt-in", "mandatory", "admin-reset", "dual-control"):
        seeds.append(seed(16).rest(word))
    audit = load("audit_chain.json")
    lines = "".join(json.dumps(r["line"], separators=(",", ":")) + "\n" for r in audit["chain"][:4])
    org = audit["chain"][0]["line"]["org_id"]
    seeds.append(seed(17).str(org, 80).rest(lines))
    for r in audit["invalid_lines"][:6]:
        seeds.append(seed(17).str(org, 80).rest(r["line"]))
    for v in load("protocol_device_share.json")["vectors"]:
        bind = lambda pick: (seed(pick).str(v["org"], 80).str(v["user"], 80).u64(v["epoch"])
                             .str(v["request"], 80))
        seeds.append(bind(18).rest(h(v["device_admin_share"])))
        seeds.append(bind(19).rest(h(v["device_server_share"])))
        seeds.append(bind(20).rest(h(v["admin_header"]) + h(v["admin_part"])))
        seeds.append(bind(21).rest(h(v["admin_header"]).replace(b"device-a", b"device-u")
                                   + h(v["server_part"])))
    for v in load("protocol_trusted_device.json")["vectors"]:
        for sealed in (False, True):
            s = seed(22).bool(sealed).str(h(v["secret"]), 40).str(v["account"], 80)
            s.str(v["device"], 80)
            seeds.append(s.rest(h(v["vault_key"]) if sealed else h(v["wrapped_vault_key"])))
    esc = load("protocol_escrow.json")["vectors"][0]
    for sealed in (False, True):
        seeds.append(seed(23).bool(sealed).str("org-1", 80).str(h(esc["header_a"]), 200)
                     .int(32, 0, 128).u64(7)
                     .rest(h(esc["admin_part"]) if sealed else h(esc["admin_share"])))
    backup = load("backup.json")
    seeds.append(seed(24).bool(True).rest(h(backup["file"])))
    for v in backup["refused"][:4]:
        seeds.append(seed(24).bool(True).rest(h(v["file"])))
    w = seed(24).bool(False).bool(False).int(2, 1, 4).i64(backup["created_at"])
    w.str(backup["account_id"], 80).int(1, 0, 4).str('{"id":"item-1"}', 4096)
    seeds.append(w.rest('{"end":true}'))
    return seeds


def pairing_seeds():
    def seed(pick):
        return Seed().int(pick, 0, 4, 1)

    def ids(s):
        return (s.str("acct_1", 80).str(b"Z" * 16, 32).str("dev_laptop", 80).str("dev_new", 80))

    def device(s):
        return s.str("Ann's phone", 100).str("cli", 20)

    cpace = load("cpace.json")
    seeds = [seed(0).rest("123 456"), seed(0).rest("12-34-56"), seed(0).rest("12345x")]
    seeds.append(device(ids(seed(1))).rest(b"\x01" * 32))
    s = device(ids(seed(2))).str(b"\x02" * 32, 64)
    seeds.append(s.rest(b"\x03" * 64))
    seeds.append(device(ids(seed(3))).bool(False))
    seeds.append(device(ids(seed(3))).bool(True).str(b"\x04" * 64, 80).rest(b"\x05" * 80))
    text = json.dumps(cpace)
    points = re.findall(r'"([0-9a-f]{64})"', text)[:4]
    for p in points or ["00" * 32]:
        seeds.append(seed(4).str("password", 64).str("channel", 300).str(b"\x07" * 16, 64)
                     .str(b"\x09" * 32, 40).rest(h(p)))
    return seeds


def config_seeds():
    seeds = []
    tomls = [
        'listen = "127.0.0.1:1001"\ndata = "/from-file"\nsmtp_host = "mail.file"\n'
        'smtp_port = 2525\nworkers = 3\nallow_insecure_http = false\nsession_ttl = "1h"\n',
        'body_limit = "2MiB"\nread_timeout = "500ms"\nlog_format = "json"\n'
        'org_creation = "operator"\norg_creators = "ann@example.com, bob@example.com"\n',
        '[sso.acme]\nissuer = "https://id.example.com"\nclient_id = "keyward"\n'
        'client_secret = "s3cret"\nmax_session_age = "8h"\n',
        'public_url = "https://vault.example.com"\ntrusted_proxies = "10.0.0.1, ::1"\n'
        'min_kdf_ops = 3\nmin_kdf_mem = "64MiB"\n',
        "listen = [1, 2]\n",
        'smtp_port = -1\n',
    ]
    values = [("30s", "1d"), ("127.0.0.1:8080", "[::1]:443"), ("64MiB", "1k"),
              ("https://vault.example.com/", "http://x"), ("true", "nope")]
    for i, text in enumerate(tomls):
        a, b = values[i % len(values)]
        seeds.append(Seed().int(i * 7, 0, 255, 1).str(a, 200).str(b, 200).rest(text))
    return seeds


JSON_BODIES = [
    {"auth_key": "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE"},
    {"device": {"id": "laptop", "name": "Ann's laptop", "type": "cli"}},
    {"key_version": 1, "recovery_grant": "A" * 96, "signing_grant": "B" * 128},
    {"statement": "a2V5d2FyZA", "signature": "A" * 86},
    {"escrow": {"epoch": 1, "key_version": 1, "wrapped_vault_key": "A" * 98,
                "admin_share": "B" * 107, "server_share": "C" * 107}},
    {"escrows": [{"org_id": "acme", "epoch": 1, "key_version": 1, "wrapped_vault_key": "A" * 98,
                  "admin_share": "B" * 107, "server_share": "C" * 107}]},
    {"items": [{"id": "item-1", "data": "ZGF0YQ"}, {"id": "item-2", "data": "eHl6"}]},
    {"kdf": {"ops": 3, "mem": 67108864}, "count": 5},
    {"id": None, "name": ["x"], "type": 1.5},
]


def json_seeds():
    seeds = []
    for i, body in enumerate(JSON_BODIES):
        seeds.append(Seed().int(i % 2, 0, 3).str("limit=%d" % (i * 60), 200).rest(json.dumps(body)))
    for raw in ['{"a":1,"a":2}', '{"auth_key":"\\ud800"}', "[]", "", "\xff{}", "1e999999"]:
        seeds.append(Seed().int(0, 0, 3).str("limit=1&limit=2", 200).rest(raw))
    return seeds


def client_seeds():
    """client_json_fuzzer: a listing in keywardd's form and off it, and item
    plaintexts as clients write them and otherwise (the bool: plaintext)."""
    item = ('{"id":"abc","revision":7,"data":"AXh5eg","created_at":"2026-12-08T01:02:03Z",'
            '"updated_at":"2026-12-08T01:02:03Z"}')
    listings = ['{"items":[]}', '{"items":[' + item + ']}', '{"items":[' + item + ',' + item + ']}',
                '{"items": [' + item + ']}', '{"items":[{"id":"a\\u0062","revision":1,"data":""}]}']
    plaintexts = ['{"name":"mail","notes":"n","password":"pw","url":"u","username":"ann"}',
                  '{"name":"a","name":"b"}', '{"notes":"line\\nnext \\u00e9"}',
                  '{"name":{"password":"x"}}', '[]', '{}']
    return ([Seed().bool(False).rest(t) for t in listings] +
            [Seed().bool(True).rest(t) for t in plaintexts])


def routes():
    found = []
    for path in sorted((ROOT / "src" / "http" / "api").glob("*.cc")) + [ROOT / "src/server/app.cc"]:
        if path.name.endswith("_test.cc"):
            continue
        for m in re.finditer(r'"(GET|POST|PUT|DELETE|PATCH)",\s*"(/[^"]*)"', path.read_text()):
            if (m.group(1), m.group(2)) not in found:
                found.append((m.group(1), m.group(2)))
    return found


AUTH_KEY = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE"  # base64url of 32 'a'
B64 = lambda n: "A" * ((4 * n + 2) // 3)
HTTP_BODIES = {
    ("POST", "/v1/accounts"): {
        "id": "AAAAAAAAAAAAAAAAAAAAAA", "email": "new@example.com",
        "kdf": {"ops": 1, "mem": 8192}, "salt": B64(16), "auth_key": AUTH_KEY,
        "wrapped_vault_key": B64(73), "public_key": B64(32), "wrapped_private_key": B64(73)},
    ("POST", "/v1/accounts/prelogin"): {"email": "fuzz1@example.com"},
    ("POST", "/v1/accounts/verify"): {"email": "fuzz1@example.com", "code": "123456"},
    ("POST", "/v1/sessions"): {"email": "fuzz1@example.com", "auth_key": AUTH_KEY,
                               "device": {"id": "phone", "name": "phone", "type": "cli"}},
    ("POST", "/v1/items"): {"id": "item-1", "data": "ZGF0YQ"},
    ("POST", "/v1/orgs"): {"name": "Acme"},
    ("POST", "/v1/device-requests"): {
        "sso_ticket": B64(32), "device": {"id": "phone", "name": "phone", "type": "cli"},
        "device_public_key": B64(32), "claim": B64(32)},
    ("POST", "/v1/device-requests/open"): {"request_id": "req-1", "claim": B64(32)},
    ("POST", "/v1/device-requests/complete"): {
        "request_id": "req-1", "claim": B64(32), "device_type": "cli",
        "sign_public_key": B64(32), "wrapped_vault_key": B64(73)},
    ("POST", "/v1/recovery/requests"): {"email": "fuzz1@example.com", "device_name": "phone"},
    ("POST", "/v1/pairings"): {"message": B64(32)},
    ("DELETE", "/v1/account"): {"auth_key": AUTH_KEY},
    ("POST", "/v1/account/2fa/totp"): {"auth_key": AUTH_KEY},
}


def http_request(s, method, pattern, body, auth=1, params=("x",)):
    s.str(method + " " + pattern, 100)
    s.int(1, 0, 15, 1)  # the route's own method
    for i in range(pattern.count("{")):
        s.str(params[i % len(params)], 80)
    s.str("", 200)  # query
    s.bool(True)  # remote address
    s.int(auth, 0, 2, 1)
    s.int(0, 0, 3)  # application/json
    s.str("", 30).str("", 100)  # no extra header
    return s


def http_seeds():
    seeds = []
    for method, pattern in routes():
        body = HTTP_BODIES.get((method, pattern), {})
        s = Seed().int(1, 1, 4, 4)
        seeds.append(http_request(s, method, pattern, body).rest(json.dumps(body)))
    # A device request from submit to complete, in one input.
    s = Seed().int(3, 1, 4, 4)
    for key in [("POST", "/v1/device-requests"), ("POST", "/v1/device-requests/open")]:
        http_request(s, *key, HTTP_BODIES[key], auth=0).str(json.dumps(HTTP_BODIES[key]), 8192)
    key = ("POST", "/v1/device-requests/complete")
    seeds.append(http_request(s, *key, HTTP_BODIES[key], auth=0).rest(json.dumps(HTTP_BODIES[key])))
    return seeds


def write(target, seeds):
    out = CORPUS / target
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for s in seeds:
        data = s.bytes()
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{target}: {len(seeds)} seeds")


def main():
    write("protocol_fuzzer", protocol_seeds())
    write("pairing_fuzzer", pairing_seeds())
    write("config_fuzzer", config_seeds())
    write("json_fuzzer", json_seeds())
    write("http_fuzzer", http_seeds())
    write("client_json_fuzzer", client_seeds())


if __name__ == "__main__":
    main()
