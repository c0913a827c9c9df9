#!/usr/bin/env python3
# A real SMTP server for veil's e-mail report tests (tests/it/reports.rs): accepts
# every message on 127.0.0.1:PORT and writes each one to DIR as NNNN.eml (the
# bytes received) and NNNN.json (envelope, decoded headers and text/HTML parts,
# whether the session was encrypted and who authenticated), the .json last and
# each file by rename, so a reader never sees half a message.
#
# Usage: smtp-sink.py --port PORT --dir DIR [--cert CERT --key KEY] [--auth USER:PASSWORD]
#
#   --cert/--key   offer STARTTLS with this certificate and require it before MAIL
#   --auth         require AUTH (PLAIN or LOGIN) with these credentials; allowed
#                  without TLS only when no certificate is given
#
# Prints `ready` on stdout once it accepts connections, and stops on SIGTERM,
# SIGINT or when its standard input closes (the test that started it is gone).
# Needs the PyPI package aiosmtpd (scripts/lib.sh: ensure_aiosmtpd).

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import warnings
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        raw = envelope.original_content or envelope.content
        base = os.path.join(self.out, f"{n:04d}")
        write(base + ".eml", raw)
        msg = BytesParser(policy=policy.default).parsebytes(raw)

        def part(kind):
            body = msg.get_body(preferencelist=(kind,))
            return None if body is None else body.get_content()

        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "date": str(msg["Date"]),
            "message_id": str(msg["Message-ID"]),
            "auto_submitted": str(msg["Auto-Submitted"]),
            "content_type": msg.get_content_type(),
            "parts": [p.get_content_type() for p in msg.walk()],
            "text": part("plain"),
            "html": part("html"),
            "tls": session.ssl is not None,
            "auth": session.auth_data if session.authenticated else None,
        }
        write(base + ".json", json.dumps(info, ensure_ascii=False, indent=1).encode())
        return "250 OK"


def main():
    # AUTH without TLS is what the plain test asks for: no warning about it.
    warnings.simplefilter("ignore")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    kwargs = {"server_hostname": "sink.test", "decode_data": False, "enable_SMTPUTF8": True}
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            if (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            ):
                return AuthResult(success=True, auth_data=user)
            return AuthResult(success=False, handled=False)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=bool(args.cert),
        )

    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
