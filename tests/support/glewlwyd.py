#!/usr/bin/python3
"""A real OpenID Connect provider (Debian's glewlwyd 2.7) for Keyward's SSO tests.

Run it with /usr/bin/python3 (stdlib only; needs /usr/bin/glewlwyd, the
Debian SQLite schema and /usr/bin/openssl):

  glewlwyd.py start --dir DIR [--user NAME:PASSWORD:EMAIL ...]
                    [--redirect URI ...] [--client-id keyward]
                    [--client-secret S] [--pkce required|allowed]
                    [--email-unverified NAME ...] [--glewlwyd-log file|stderr]
                    [--keep]
  glewlwyd.py login --user NAME --password PW --auth-url URL [--base URL]
  glewlwyd.py add-redirect --base URL --redirect URI [...] [--client-id keyward]
  glewlwyd.py selftest

start: creates DIR (fresh SQLite DB from the Debian schema, glewlwyd.conf, an
RSA-2048 signing key made with openssl), runs glewlwyd on a free 127.0.0.1
port and configures it through its admin REST API (as the schema's default
admin, admin/password): the database user and client backends (already in the
schema; updated for fast test hashing and an email_verified property), scopes
"email" and "profile", an OIDC plugin "oidc" (RS256, issuer
http://127.0.0.1:PORT/api/oidc, code flow, PKCE S256 required by default,
replayed codes revoke their tokens), a confidential client with a secret and
the given redirect URIs, and the given users (scopes openid, email, profile).
Password login is built into glewlwyd's core (POST /api/auth, and scopes with
password_required); the "password" scheme module Debian ships is the
"retype-password" second factor, which is not needed and not configured.
When ready it prints exactly one line on stdout,
  {"issuer": ..., "discovery": ..., "client_id": ..., "client_secret": ..., "port": N}
and nothing else there afterwards; progress goes to stderr and glewlwyd's own
log to DIR/glewlwyd.log (or stderr with --glewlwyd-log stderr). It stops
glewlwyd on SIGTERM/SIGINT, when its standard input reaches end of file, or if
glewlwyd dies (exit status 1 then); glewlwyd also gets SIGKILL if this process
is killed (PR_SET_PDEATHSIG). On stop DIR is removed (only the files this
script made, if DIR already existed) unless --keep.

glewlwyd 2.7.5 refuses an authorization request with scope openid but no
nonce (redirect with error=invalid_request&error_description=nonce+required),
even in the code flow. The id_token's auth_time is 0 in the code flow (it is
computed from the session cookie of the token request, which has none).

glewlwyd matches redirect_uri EXACTLY (no wildcard, no RFC 8252 loopback port
relaxation), so register every callback URI with --redirect, or later with
add-redirect (which logs in as admin and replaces the client's list).

login: headless user side of the authorization code flow. GETs the
authorization URL (glewlwyd answers 302 to its login page with a callback_url),
logs the user in (POST /api/auth, cookie session), grants the requested scopes
to the client (PUT /api/auth/grant/CLIENT) when they are not granted yet, then
GETs callback_url&g_continue and prints the Location glewlwyd redirects the
browser to (redirect_uri?code=...&state=...), without fetching it. An
authorization error (redirect_uri?error=...) is printed the same way; other
failures exit 1 with a message on stderr.

selftest: start, discovery, login, token exchange (client_secret_basic +
code_verifier), id_token checks, userinfo, JWKS, wrong code_verifier, code
replay, stop, and a check that no glewlwyd process is left.

As a module:

  with Glewlwyd("/tmp/dir", users=[("alice", "pw", "alice@example.com")],
                redirect_uris=["http://127.0.0.1:5555/cb"]) as idp:
      idp.info          # the dict printed by `start`
      idp.base          # http://127.0.0.1:PORT
      location = login(idp.base, "alice", "pw", auth_url)
"""

import argparse
import base64
import ctypes
import hashlib
import http.client
import json
import os
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

GLEWLWYD = "/usr/bin/glewlwyd"
OPENSSL = "/usr/bin/openssl"
SCHEMA = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3"
LIBDIR = "/usr/lib/glewlwyd"
ADMIN_USER = "admin"          # inserted by the Debian schema
ADMIN_PASSWORD = "password"   # the schema's hash is of "password" (docs/INSTALL.md)
PLUGIN = "oidc"
USER_SCOPES = ["openid", "email", "profile"]
# Test-only: the database backends default to 150000 PBKDF2 rounds per hash.
PBKDF2_ITERATIONS = 1000


def log(*args):
    print("glewlwyd.py:", *args, file=sys.stderr, flush=True)


class GlewlwydError(Exception):
    pass


# --------------------------------------------------------------------------
# Minimal HTTP client: one cookie jar per session, never follows redirects.

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.body = body

    @property
    def location(self):
        return self.headers.get("Location")

    def json(self):
        return json.loads(self.body.decode() or "null")

    def text(self):
        return self.body.decode(errors="replace")


class Session:
    def __init__(self, timeout=15):
        self.cookies = {}
        self.timeout = timeout

    def request(self, method, url, json_body=None, form=None, headers=None,
                basic_auth=None):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise GlewlwydError("only http:// URLs are supported: %s" % url)
        hdrs = dict(headers or {})
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if basic_auth is not None:
            # RFC 6749 2.3.1: form-urlencode both parts before base64.
            user, pw = (urllib.parse.quote(x, safe="") for x in basic_auth)
            hdrs["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (user, pw)).encode()).decode()
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for sc in resp.msg.get_all("Set-Cookie") or []:
            first, _, attrs = sc.partition(";")
            name, _, value = first.strip().partition("=")
            attrs_l = attrs.lower()
            if not value or "max-age=0" in attrs_l.replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Response(resp.status, resp.msg, data)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)

    def put(self, url, **kw):
        return self.request("PUT", url, **kw)


def _expect(resp, what, statuses=(200,)):
    if resp.status not in statuses:
        raise GlewlwydError("%s: HTTP %d %s" % (what, resp.status, resp.text()[:2000]))
    return resp


def admin_session(base):
    s = Session()
    _expect(s.post(base + "/api/auth/", json_body={"username": ADMIN_USER,
                                                    "password": ADMIN_PASSWORD}),
            "admin login")
    return s


# --------------------------------------------------------------------------
# The server.

def _pdeathsig():
    # Runs in the child between fork and exec: SIGKILL glewlwyd if the Python
    # process (the forking thread, strictly) dies without cleaning up.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_user(spec):
    """NAME:PASSWORD:EMAIL; NAME and EMAIL cannot contain ':', PASSWORD can."""
    name, sep1, rest = spec.partition(":")
    password, sep2, email = rest.rpartition(":")
    if not (sep1 and sep2 and name):
        raise ValueError("--user wants NAME:PASSWORD:EMAIL, got %r" % spec)
    return name, password, email


class Glewlwyd:
    def __init__(self, directory, users=(), redirect_uris=(), client_id="keyward",
                 client_secret=None, pkce="required", unverified=(),
                 glewlwyd_log="file", keep=False):
        self.dir = os.path.abspath(directory)
        self.users = [parse_user(u) if isinstance(u, str) else tuple(u) for u in users]
        self.redirect_uris = list(redirect_uris)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.pkce = pkce
        self.unverified = set(unverified)
        self.glewlwyd_log = glewlwyd_log
        self.keep = keep
        self.proc = None
        self._keygen = None
        self.port = None
        self.info = None
        self._created_dir = False
        self._made = []
        self._log_fh = None

    # paths
    def _p(self, name):
        return os.path.join(self.dir, name)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def issuer(self):
        return "%s/api/%s" % (self.base, PLUGIN)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- start
    def start(self):
        t0 = time.monotonic()
        try:
            self._start()
        except BaseException as e:
            log("start failed (%s); glewlwyd log tail:\n%s" % (e, self.log_tail()))
            self.stop()
            raise
        log("ready in %.2fs on %s" % (time.monotonic() - t0, self.base))
        return self.info

    def _start(self):
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir)
            self._created_dir = True
        self._made = ["glewlwyd.db", "glewlwyd.conf", "glewlwyd.log",
                      "signing-key.pem", "signing-pub.pem"]
        for f in self._made:
            if os.path.exists(self._p(f)):
                os.unlink(self._p(f))

        # RSA key generation runs while the DB is built and glewlwyd starts.
        keygen = self._keygen = subprocess.Popen(
            [OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", self._p("signing-key.pem")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        with open(SCHEMA) as f:
            schema = f.read()
        db = sqlite3.connect(self._p("glewlwyd.db"))
        try:
            # One transaction: statement by statement (autocommit, one fsync
            # each) the 64 tables take ~2 s here instead of ~25 ms. WAL (a
            # persistent setting) also makes glewlwyd's own writes cheaper.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript("BEGIN;\n" + schema + "\nCOMMIT;")
        finally:
            db.close()

        for attempt in range(5):
            self.port = _free_port()
            if self._spawn():
                break
            log("glewlwyd did not come up on port %d (attempt %d)" % (self.port, attempt + 1))
        else:
            raise GlewlwydError("glewlwyd failed to start:\n" + self.log_tail())

        s = admin_session(self.base)
        self._configure_core(s)   # while openssl is still looking for primes

        _, err = keygen.communicate()
        if keygen.returncode != 0:
            raise GlewlwydError("openssl genpkey failed: %s" % err.decode(errors="replace"))
        pub = subprocess.run([OPENSSL, "pkey", "-in", self._p("signing-key.pem"), "-pubout",
                              "-out", self._p("signing-pub.pem")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        if pub.returncode != 0:
            raise GlewlwydError("openssl pkey failed: %s" % pub.stderr.decode(errors="replace"))

        self._configure_plugin(s)
        self.info = {
            "issuer": self.issuer,
            "discovery": self.issuer + "/.well-known/openid-configuration",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "port": self.port,
        }

    def _write_config(self):
        # Notes:
        # - no use_secure_connection line at all: glewlwyd 2.7.5 exits with
        #   "secure connection is active but certificate is not valid" when it
        #   is present (even =false) without secure_connection_*_file entries;
        # - external_url must not end with '/' (glewlwyd appends "/api/...");
        # - user_middleware_module_path omitted (Debian ships none; only a warning).
        log_mode = "console" if self.glewlwyd_log == "stderr" else "file"
        conf = """\
port=%(port)d
bind_address="127.0.0.1"
external_url="http://127.0.0.1:%(port)d"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="%(log_mode)s"
log_level="INFO"
log_file="%(log)s"
cookie_secure=0
cookie_same_site="empty"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
plugin_api_run_enabled=""
add_x_frame_option_header_deny=true
max_post_size=16778240
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="%(lib)s/user"
client_module_path="%(lib)s/client"
user_auth_scheme_module_path="%(lib)s/scheme"
plugin_module_path="%(lib)s/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = "%(db)s"; };
""" % {"port": self.port, "log_mode": log_mode, "log": self._p("glewlwyd.log"),
       "lib": LIBDIR, "db": self._p("glewlwyd.db")}
        with open(self._p("glewlwyd.conf"), "w") as f:
            f.write(conf)

    def _spawn(self):
        """Start glewlwyd on self.port; True once it answers HTTP."""
        self._write_config()
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None
        if self.glewlwyd_log == "stderr":
            out = sys.stderr
        else:
            # glewlwyd prints startup errors (config parsing) on stdout/stderr
            # before its logger exists: keep them in the log file too.
            self._log_fh = open(self._p("glewlwyd.log"), "ab")
            out = self._log_fh
        self.proc = subprocess.Popen([GLEWLWYD, "-c", self._p("glewlwyd.conf")],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     preexec_fn=_pdeathsig, close_fds=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                r = Session(timeout=2).get(self.base + "/config")
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        self._kill()
        return False

    def _configure_core(self, s):
        api = self.base + "/api"
        # User backend: the schema's "database" instance, plus an
        # email_verified property and cheap password hashing.
        mod = _expect(s.get(api + "/mod/user/database"), "get user backend").json()
        params = mod["parameters"]
        params["pbkdf2-iterations"] = PBKDF2_ITERATIONS
        params.setdefault("data-format", {})["email_verified"] = {
            "multiple": False, "read": True, "write": True,
            "profile-read": True, "profile-write": False}
        _expect(s.put(api + "/mod/user/database", json_body={
            "module": "database", "name": "database", "display_name": mod["display_name"],
            "order_rank": 0, "readonly": False, "parameters": params}),
            "update user backend")
        # PUT only stores the parameters; "reset" reloads the instance.
        _expect(s.put(api + "/mod/user/database/reset"), "reload user backend")
        # Client backend: the schema's "database" instance, cheap hashing.
        mod = _expect(s.get(api + "/mod/client/database"), "get client backend").json()
        params = mod["parameters"]
        params["pbkdf2-iterations"] = PBKDF2_ITERATIONS
        _expect(s.put(api + "/mod/client/database", json_body={
            "module": "database", "name": "database", "display_name": mod["display_name"],
            "order_rank": 0, "readonly": False, "parameters": params}),
            "update client backend")
        _expect(s.put(api + "/mod/client/database/reset"), "reload client backend")

        # Scopes: "openid" comes with the schema (no password needed); the
        # claim scopes require the user's password, which /api/auth gives.
        for name, desc in (("email", "E-mail address"), ("profile", "Name")):
            _expect(s.post(api + "/scope/", json_body={
                "name": name, "display_name": desc, "description": desc,
                "password_required": True, "password_max_age": 0, "scheme": {}}),
                "add scope %s" % name)

        _expect(s.post(api + "/client/", json_body={
            "client_id": self.client_id, "name": "Keyward", "description": "Keyward tests",
            "enabled": True, "confidential": True, "password": self.client_secret,
            "redirect_uri": self.redirect_uris,
            "authorization_type": ["code", "refresh_token"],
            "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"],
            "scope": []}), "add client")

        for name, password, email in self.users:
            _expect(s.post(api + "/user/", json_body={
                "username": name, "password": password, "name": name, "email": email,
                "email_verified": "false" if name in self.unverified else "true",
                "enabled": True, "scope": USER_SCOPES}), "add user %s" % name)

    def _configure_plugin(self, s):
        api = self.base + "/api"
        with open(self._p("signing-key.pem")) as f:
            key_pem = f.read()
        with open(self._p("signing-pub.pem")) as f:
            pub_pem = f.read()
        plugin = {
            "module": "oidc", "name": PLUGIN, "display_name": "OpenID Connect",
            "enabled": True,
            "parameters": {
                "iss": self.issuer,
                "jwt-type": "rsa", "jwt-key-size": "256",
                "key": key_pem, "cert": pub_pem,
                "access-token-duration": 3600,
                "refresh-token-duration": 1209600,
                "code-duration": 600,
                "refresh-token-rolling": True,
                "refresh-token-one-use": "never",
                "allow-non-oidc": False,
                "auth-type-code-enabled": True,
                "auth-type-code-revoke-replayed": True,
                "auth-type-token-enabled": False,
                "auth-type-id-token-enabled": True,
                "auth-type-none-enabled": False,
                "auth-type-password-enabled": False,
                "auth-type-client-enabled": False,
                "auth-type-device-enabled": False,
                "auth-type-refresh-enabled": True,
                "subject-type": "public",
                "scope": [],
                "allowed-scope": ["openid", "email", "profile"],
                "name-claim": "on-demand", "name-claim-scope": ["profile"],
                "email-claim": "on-demand", "email-claim-scope": ["email"],
                "scope-claim": "no",
                "claims": [{
                    "name": "email_verified", "user-property": "email_verified",
                    "type": "boolean", "boolean-value-true": "true",
                    "boolean-value-false": "false", "mandatory": False,
                    "on-demand": True, "scope": ["email"]}],
                "address-claim": {"type": "no"},
                "pkce-allowed": True,
                "pkce-method-plain-allowed": False,
                "pkce-required": self.pkce == "required",
                "pkce-required-public-client": True,
                "jwks-show": True,
                "request-parameter-allow": True,
                "session-management-allowed": False,
                "introspection-revocation-allowed": False,
                "register-client-allowed": False,
                "service-documentation": "https://github.com/babelouest/glewlwyd/tree/master/docs",
            },
        }
        _expect(s.post(api + "/mod/plugin/", json_body=plugin), "add oidc plugin")

    def set_redirect_uris(self, uris):
        set_redirect_uris(self.base, uris, self.client_id)
        self.redirect_uris = list(uris)

    def log_tail(self, n=40):
        try:
            with open(self._p("glewlwyd.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    # ---- stop
    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log("glewlwyd ignored SIGTERM, killing it")
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self, keep=None):
        self._kill()
        if self._keygen is not None and self._keygen.poll() is None:
            self._keygen.kill()
            self._keygen.wait()
        self._keygen = None
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None
        keep = self.keep if keep is None else keep
        if keep:
            return
        if self._created_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            for f in self._made:
                for suffix in ("", "-journal", "-wal", "-shm"):
                    try:
                        os.unlink(self._p(f + suffix))
                    except OSError:
                        pass
        self._made = []

    def wait_stop_signal(self):
        """CLI mode: block until stdin EOF, SIGTERM/SIGINT, or glewlwyd exiting.
        Returns glewlwyd's exit status if it died on its own, else None."""
        rfd, wfd = os.pipe()
        os.set_blocking(wfd, False)
        os.set_blocking(rfd, False)
        signal.set_wakeup_fd(wfd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *a: None)
        fds = [rfd]
        stdin = sys.stdin.fileno()
        try:
            os.fstat(stdin)
            fds.append(stdin)
        except OSError:
            pass
        while True:
            ready, _, _ = select.select(fds, [], [], 0.25)
            if rfd in ready:
                log("signal received, stopping")
                return None
            if stdin in ready:
                try:
                    data = os.read(stdin, 4096)
                except OSError:
                    data = b""
                if not data:
                    log("end of standard input, stopping")
                    return None
            if self.proc is not None and self.proc.poll() is not None:
                return self.proc.returncode


def set_redirect_uris(base, uris, client_id="keyward"):
    """Replace the client's redirect_uri list (glewlwyd matches exactly)."""
    s = admin_session(base)
    url = "%s/api/client/%s" % (base, urllib.parse.quote(client_id, safe=""))
    client = _expect(s.get(url), "get client").json()
    body = {k: v for k, v in client.items() if k not in ("source",)}
    body["redirect_uri"] = list(uris)
    _expect(s.put(url, json_body=body), "update client")


# --------------------------------------------------------------------------
# Headless user-agent side of the authorization code flow.

def login(base, username, password, auth_url):
    """Return the Location glewlwyd sends the browser to (redirect_uri?code=&state=,
    or redirect_uri?error=...), without fetching it."""
    if not base:
        u = urllib.parse.urlsplit(auth_url)
        base = "%s://%s" % (u.scheme, u.netloc)
    base = base.rstrip("/")
    s = Session()
    r = s.get(auth_url)
    if r.status != 302 or not r.location:
        raise GlewlwydError("authorization request: expected 302, got HTTP %d %s"
                            % (r.status, r.text()[:500]))
    login_page = urllib.parse.urlsplit(r.location)
    q = urllib.parse.parse_qs(login_page.query)
    if "callback_url" not in q:
        # Not the login page: an immediate error (or code) for the client.
        return r.location
    callback_url = q["callback_url"][0]
    client_id = q.get("client_id", [None])[0]
    scope = q.get("scope", [""])[0]

    _expect(s.post(base + "/api/auth/", json_body={"username": username,
                                                    "password": password}),
            "user login")

    if client_id and scope:
        grant_url = "%s/api/auth/grant/%s" % (base, urllib.parse.quote(client_id, safe=""))
        r = _expect(s.get(grant_url + "/" + urllib.parse.quote(scope, safe="")),
                    "get grants")
        available = r.json().get("scope", [])
        wanted = [sc["name"] for sc in available]
        if any(not sc.get("granted") for sc in available) and wanted:
            _expect(s.put(grant_url, json_body={"scope": " ".join(wanted)}), "grant scopes")

    sep = "&" if "?" in callback_url else "?"
    r = s.get(callback_url + sep + "g_continue")
    if r.status != 302 or not r.location:
        raise GlewlwydError("authorization after login: expected 302, got HTTP %d %s"
                            % (r.status, r.text()[:500]))
    if urllib.parse.urlsplit(r.location).path.endswith("/login.html"):
        raise GlewlwydError("glewlwyd still wants an interactive login: %s" % r.location)
    return r.location


# --------------------------------------------------------------------------
# Self-test.

def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _token(session, endpoint, client_id, secret, code, redirect_uri, verifier):
    r = session.post(endpoint, basic_auth=(client_id, secret), form={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier})
    try:
        body = r.json()
    except ValueError:
        body = r.text()
    return r.status, body


def _authorize(disc, info, redirect_uri, user, password, scope="openid email"):
    verifier = _b64url(secrets.token_bytes(48))
    challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    nonce = secrets.token_urlsafe(16)
    auth_url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": info["client_id"],
        "redirect_uri": redirect_uri, "scope": scope, "state": state,
        "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    location = login(None, user, password, auth_url)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    return location, q, state, nonce, verifier


def selftest():
    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    def trim(tok):
        return tok if len(tok) < 80 else "%s...%s (%d chars)" % (tok[:40], tok[-20:], len(tok))

    failures = []
    tmp = tempfile.mkdtemp(prefix="glewlwyd-selftest-")
    workdir = os.path.join(tmp, "idp")
    redirect_uri = "http://127.0.0.1:%d/callback" % _free_port()
    user, password, email = "alice", "correct horse:battery", "alice@example.com"
    idp = Glewlwyd(workdir, users=[(user, password, email)], redirect_uris=[redirect_uri])
    t0 = time.monotonic()
    try:
        info = idp.start()
        print("start took %.2fs" % (time.monotonic() - t0))
        print("start JSON:", json.dumps(info))
        pid = idp.proc.pid
        s = Session()

        r = s.get(info["discovery"])
        check(r.status == 200, "discovery GET -> %d" % r.status)
        disc = r.json()
        check(disc.get("issuer") == info["issuer"], "discovery issuer %r" % disc.get("issuer"))
        for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
            print("  %s: %s" % (k, disc.get(k)))
        for k in ("id_token_signing_alg_values_supported", "code_challenge_methods_supported",
                  "token_endpoint_auth_methods_supported", "scopes_supported",
                  "claims_supported", "response_types_supported", "subject_types_supported"):
            print("  %s: %s" % (k, disc.get(k)))

        location, q, state, nonce, verifier = _authorize(disc, info, redirect_uri, user, password)
        print("login redirect:", location)
        check(location.startswith(redirect_uri + "?"), "redirect goes to the registered redirect_uri")
        check(q.get("state") == [state], "state echoed")
        check("code" in q, "code present")
        print("  redirect parameters:", sorted(q))
        code = q["code"][0]

        status, tok = _token(s, disc["token_endpoint"], info["client_id"],
                             info["client_secret"], code, redirect_uri, verifier)
        check(status == 200, "token exchange (client_secret_basic + code_verifier) -> %d" % status)
        print("  token response keys:", sorted(tok) if isinstance(tok, dict) else tok)
        id_token = tok["id_token"]
        print("id_token:", trim(id_token))
        header = _b64url_json(id_token.split(".")[0])
        payload = _b64url_json(id_token.split(".")[1])
        print("  id_token header:", json.dumps(header))
        print("  id_token payload:", json.dumps(payload))
        check(payload.get("iss") == info["issuer"], "id_token iss == issuer")
        check(payload.get("aud") == info["client_id"], "id_token aud == %s" % info["client_id"])
        check(payload.get("nonce") == nonce, "id_token nonce echoed")
        check(bool(payload.get("sub")), "id_token sub present (%r)" % payload.get("sub"))
        check(payload.get("email") == email, "id_token email == %s" % email)
        check(payload.get("email_verified") is True, "id_token email_verified == true")
        check(header.get("alg") == "RS256", "id_token alg RS256")

        r = s.get(disc["userinfo_endpoint"],
                  headers={"Authorization": "Bearer " + tok["access_token"]})
        print("  userinfo -> %d %s" % (r.status, r.text()))

        r = s.get(disc["jwks_uri"])
        check(r.status == 200, "JWKS GET -> %d" % r.status)
        jwks = r.json()
        print("JWKS key ids:", [k.get("kid") for k in jwks.get("keys", [])],
              "kty/alg/use:", [(k.get("kty"), k.get("alg"), k.get("use")) for k in jwks["keys"]])
        check(header.get("kid") in [k.get("kid") for k in jwks["keys"]],
              "id_token kid %r is in the JWKS" % header.get("kid"))

        # Replay the same code.
        status, body = _token(s, disc["token_endpoint"], info["client_id"],
                              info["client_secret"], code, redirect_uri, verifier)
        print("replayed code -> HTTP %d %s" % (status, json.dumps(body)))
        check(status != 200, "replayed code refused")
        r = s.get(disc["userinfo_endpoint"],
                  headers={"Authorization": "Bearer " + tok["access_token"]})
        print("  userinfo with the first access token after the replay -> %d %s"
              % (r.status, r.text()[:200]))

        # Wrong code_verifier on a fresh code, then the right one.
        _, q2, _, _, verifier2 = _authorize(disc, info, redirect_uri, user, password)
        code2 = q2["code"][0]
        wrong = _b64url(secrets.token_bytes(48))
        status, body = _token(s, disc["token_endpoint"], info["client_id"],
                              info["client_secret"], code2, redirect_uri, wrong)
        print("wrong code_verifier -> HTTP %d %s" % (status, json.dumps(body)))
        check(status != 200, "wrong code_verifier refused")
        status, body = _token(s, disc["token_endpoint"], info["client_id"],
                              info["client_secret"], code2, redirect_uri, verifier2)
        print("same code, right verifier after a wrong one -> HTTP %d %s"
              % (status, json.dumps(body) if status != 200 else "(tokens)"))

        # No PKCE at all (pkce-required).
        auth_url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": info["client_id"],
            "redirect_uri": redirect_uri, "scope": "openid", "state": "s1", "nonce": "n1"})
        print("authorization without code_challenge ->", login(None, user, password, auth_url))
        # No nonce (glewlwyd requires one whenever scope has openid).
        verifier4 = _b64url(secrets.token_bytes(48))
        auth_url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": info["client_id"],
            "redirect_uri": redirect_uri, "scope": "openid", "state": "s3",
            "code_challenge": _b64url(hashlib.sha256(verifier4.encode()).digest()),
            "code_challenge_method": "S256"})
        print("authorization without nonce ->", login(None, user, password, auth_url))
        # Unregistered redirect URI (other port).
        auth_url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": info["client_id"],
            "redirect_uri": "http://127.0.0.1:1/callback", "scope": "openid",
            "state": "s2", "code_challenge": _b64url(hashlib.sha256(b"x" * 43).digest()),
            "code_challenge_method": "S256"})
        r = Session().get(auth_url)
        print("authorization with an unregistered redirect_uri -> HTTP %d Location %s"
              % (r.status, r.location))
        # Wrong client secret.
        _, q3, _, _, verifier3 = _authorize(disc, info, redirect_uri, user, password)
        status, body = _token(s, disc["token_endpoint"], info["client_id"], "nope",
                              q3["code"][0], redirect_uri, verifier3)
        print("wrong client_secret -> HTTP %d %s" % (status, json.dumps(body)))
        check(status in (400, 401, 403), "wrong client secret refused")
        # Wrong user password.
        try:
            _authorize(disc, info, redirect_uri, user, "wrong")
            check(False, "wrong user password refused")
        except GlewlwydError as e:
            print("wrong user password ->", e)
    finally:
        t1 = time.monotonic()
        idp.stop()
        print("stop took %.2fs" % (time.monotonic() - t1))
    alive = os.path.exists("/proc/%d" % pid) and not _is_zombie(pid)
    check(not alive, "glewlwyd pid %d is gone" % pid)
    left = _glewlwyd_processes_using(workdir)
    check(not left, "no glewlwyd process uses %s %s" % (workdir, left or ""))
    check(not os.path.exists(workdir), "work dir removed")
    shutil.rmtree(tmp, ignore_errors=True)
    print("SELFTEST %s" % ("PASSED" if not failures else "FAILED: %s" % failures))
    return 0 if not failures else 1


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _glewlwyd_processes_using(path):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0] == GLEWLWYD.encode() and any(path.encode() in a for a in argv):
            found.append(int(d))
    return found


# --------------------------------------------------------------------------
# CLI.

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="run a configured glewlwyd until stdin EOF/SIGTERM")
    st.add_argument("--dir", required=True)
    st.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD:EMAIL")
    st.add_argument("--email-unverified", action="append", default=[], metavar="NAME",
                    help="give this user email_verified=false")
    st.add_argument("--redirect", action="append", default=[], metavar="URI",
                    help="exact redirect URI to register (repeatable)")
    st.add_argument("--client-id", default="keyward")
    st.add_argument("--client-secret")
    st.add_argument("--pkce", choices=["required", "allowed"], default="required")
    st.add_argument("--glewlwyd-log", choices=["file", "stderr"], default="file")
    st.add_argument("--keep", action="store_true", help="keep DIR after stopping")
    lg = sub.add_parser("login", help="headless user login + consent; print the redirect")
    lg.add_argument("--base", help="http://127.0.0.1:PORT (default: from --auth-url)")
    lg.add_argument("--user", required=True)
    lg.add_argument("--password", required=True)
    lg.add_argument("--auth-url", required=True)
    ar = sub.add_parser("add-redirect", help="replace the client's redirect URIs")
    ar.add_argument("--base", required=True)
    ar.add_argument("--client-id", default="keyward")
    ar.add_argument("--redirect", action="append", required=True)
    sub.add_parser("selftest")
    args = p.parse_args()

    if args.cmd == "start":
        try:
            users = [parse_user(u) for u in args.user]
        except ValueError as e:
            p.error(str(e))
        idp = Glewlwyd(args.dir, users=users, redirect_uris=args.redirect,
                       client_id=args.client_id, client_secret=args.client_secret,
                       pkce=args.pkce, unverified=args.email_unverified,
                       glewlwyd_log=args.glewlwyd_log, keep=args.keep)
        try:
            info = idp.start()
        except (GlewlwydError, OSError):
            return 1   # already reported on stderr by start()
        try:
            print(json.dumps(info), flush=True)
            status = idp.wait_stop_signal()
            if status is not None:
                log("glewlwyd exited on its own with status %s:\n%s" % (status, idp.log_tail()))
                return 1
            return 0
        finally:
            idp.stop()
    if args.cmd == "login":
        try:
            print(login(args.base, args.user, args.password, args.auth_url))
        except (GlewlwydError, OSError) as e:
            log("login failed: %s" % e)
            return 1
        return 0
    if args.cmd == "add-redirect":
        try:
            set_redirect_uris(args.base.rstrip("/"), args.redirect, args.client_id)
        except (GlewlwydError, OSError) as e:
            log("add-redirect failed: %s" % e)
            return 1
        return 0
    return selftest()


if __name__ == "__main__":
    sys.exit(main())
