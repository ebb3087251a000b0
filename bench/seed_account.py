#!/usr/bin/python3
"""Creates one verified account with N items on a running keywardd, through
the raw /v1 API, and prints its session token. The key material is random:
the server cannot tell, and benchmarks measure the server, not the client.
Usage: seed_account.py URL DATA_DIR ITEMS EMAIL [--auth-key]
(--auth-key: print "TOKEN AUTH_KEY", for a benchmark that logs in)."""
import base64, glob, json, os, re, sys, time, urllib.request


# A typical login item (name, username, password, URL, a short note) as
# JSON is ~250 bytes; with the AEAD framing its ciphertext is ~300.
ITEM_BYTES = 300


def b64(n):
    return base64.urlsafe_b64encode(os.urandom(n)).rstrip(b"=").decode()


def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=10) as r:
        data = r.read()
        return json.loads(data) if data else None


def main():
    url, data_dir, items, email = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    kdf = call(url, "GET", "/v1/server")["kdf_minimum"]
    seen = set(glob.glob(os.path.join(data_dir, "outbox", "*.eml")))
    auth_key, account = b64(32), b64(16)
    call(url, "POST", "/v1/accounts", {
        "id": account, "email": email, "kdf": kdf, "salt": b64(16), "auth_key": auth_key,
        "wrapped_vault_key": b64(73), "public_key": b64(32), "wrapped_private_key": b64(73)})
    code = None
    for _ in range(50):
        for path in sorted(set(glob.glob(os.path.join(data_dir, "outbox", "*.eml"))) - seen):
            m = re.search(r"^\s*(\d{6})\s*$", open(path, encoding="utf-8").read(), re.M)
            if m:
                code = m.group(1)
        if code:
            break
        time.sleep(0.1)
    call(url, "POST", "/v1/accounts/verify", {"email": email, "code": code})
    session = call(url, "POST", "/v1/sessions", {
        "email": email, "auth_key": auth_key,
        "device": {"id": b64(16), "name": "bench", "type": "cli"}})
    token = session["token"]
    for _ in range(items):
        call(url, "POST", "/v1/items", {"id": b64(16), "data": b64(ITEM_BYTES)}, token)
    print(token, auth_key) if sys.argv[5:] == ["--auth-key"] else print(token)


if __name__ == "__main__":
    main()
