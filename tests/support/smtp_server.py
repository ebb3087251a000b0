#!/ usr / bin / python3
"""A real SMTP server for Keyward's end-to-end tests (aiosmtpd, Debian's python3).

Run it with /usr/bin/python3 (python3-aiosmtpd is installed for that one):

  smtp_server.py --maildir DIR [--host 127.0.0.1] [--port 0]
                 [--tls none|starttls|implicit --cert CERT.pem --key KEY.pem]
                 [--allow-plaintext] [--username U --password P]

When it listens it prints exactly one line, "READY <port>", on stdout and
nothing else there afterwards (logs go to stderr). Each accepted message is
stored as DIR/NNNNNN.eml (the raw DATA, dot-unstuffed, CRLF line endings) with
DIR/NNNNNN.envelope beside it ("MAIL FROM:<a>" and one "RCPT TO:<b>" per line);
the envelope is written first and the.eml renamed into place before the server answers 250,
    so a client that got 250 can read the file at once.

        --tls starttls requires STARTTLS before MAIL unless-- allow -
        plaintext is given.With-- username,
    AUTH(PLAIN or LOGIN) with exactly that username and password is required before MAIL; aiosmtpd only offers AUTH over TLS.

It stops on SIGTERM/SIGINT and when its standard input reaches end of file, so
it cannot outlive a test process that dies without cleaning up.
"""

import argparse
import asyncio
import itertools
import logging
import os
import signal
import socket
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class MaildirHandler:
    def __init__(self, maildir):
        self.maildir = maildir
        self.counter = itertools.count(1)

    def _write(self, name, data):
        tmp = os.path.join(self.maildir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.maildir, name))

    async def handle_DATA(self, server, session, envelope):
        stem = "%06d" % next(self.counter)
        lines = ["MAIL FROM:<%s>" % envelope.mail_from]
        lines += ["RCPT TO:<%s>" % rcpt for rcpt in envelope.rcpt_tos]
        self._write(stem + ".envelope", ("\n".join(lines) + "\n").encode())
        self._write(stem + ".eml", envelope.original_content)
        return "250 2.0.0 Message accepted"


def make_authenticator(username, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
#handled = False lets aiosmtpd answer 535 on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticator


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--maildir", required=True)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--allow-plaintext", action="store_true",
                   help="with --tls starttls: do not require STARTTLS before MAIL")
    p.add_argument("--username")
    p.add_argument("--password", default="")
    args = p.parse_args()
    if args.tls != "none" and not (args.cert and args.key):
        p.error("--tls needs --cert and --key")
    return args


async def serve(args):
    loop = asyncio.get_running_loop()
    tls_context = None
    if args.tls != "none":
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)
    authenticator = make_authenticator(args.username, args.password) if args.username else None
    handler = MaildirHandler(args.maildir)

    def factory():
        return SMTP(
            handler,
            hostname="keyward-test-smtp",
            tls_context=tls_context if args.tls == "starttls" else None,
            require_starttls=args.tls == "starttls" and not args.allow_plaintext,
            authenticator=authenticator,
            auth_required=authenticator is not None,
#With implicit TLS aiosmtpd cannot tell the transport is already
#encrypted; the whole connection is TLS, so AUTH is safe.
            auth_require_tls=args.tls != "implicit",
            loop=loop,
        )

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    server = await loop.create_server(
        factory, sock=sock, ssl=tls_context if args.tls == "implicit" else None)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def on_stdin():
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)

    print("READY %d" % sock.getsockname()[1], flush=True)
    await stop.wait()
    server.close()


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="smtp_server.py: %(levelname)s %(message)s")
#aiosmtpd 1.4 warns about its own deprecated login_data on every AUTH,
#and about AUTH without STARTTLS even when the socket is implicit TLS.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
