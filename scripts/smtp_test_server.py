"""A loopback SMTP server for tulga's mail tests (aiosmtpd 1.4.6).

Each accepted message is written whole (temporary name, then rename) to FOLDER as
<time>-<n>.eml, preceded by X-Test-* headers naming the envelope, the TLS state and the login.
"""
import argparse
import asyncio
import os
import signal
import ssl
import subprocess
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# Started by a parent (a test's Foundation Process) that may have blocked these: unblock them,
# and leave at once from the handler, whatever the event loop is doing.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, lambda *_: os._exit(0))


class Handler:
    def __init__(self, folder, refuse):
        self.folder, self.refuse, self.count = folder, refuse, 0

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.refuse == "550":
            return "550 5.7.1 Refused for the test"
        if self.refuse == "451":
            return "451 4.3.0 Try again later (test)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%d-%04d.eml" % (time.time_ns(), self.count)
        tls = "yes" if session.ssl is not None else "no"
        data = session.auth_data
        login = data.login.decode() if session.authenticated and isinstance(data, LoginPassword) else ""
        head = "X-Test-Mail-From: %s\r\nX-Test-Rcpt-To: %s\r\nX-Test-TLS: %s\r\nX-Test-Login: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos), tls, login)
        temporary = os.path.join(self.folder, "." + name + ".tmp")
        with open(temporary, "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(temporary, os.path.join(self.folder, name))
        return "250 2.0.0 Accepted"


def make_certificate(cert, key):
    if os.path.exists(cert) and os.path.exists(key):
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--folder", required=True, help="where received messages are written")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--tls-cert", help="offer STARTTLS with this certificate (made with openssl if absent)")
    p.add_argument("--tls-key", help="its key")
    p.add_argument("--auth", help="user:password; AUTH is then required, and only after STARTTLS")
    p.add_argument("--refuse", choices=["550", "451"], help="refuse every MAIL FROM with this code")
    args = p.parse_args()
    os.makedirs(args.folder, exist_ok=True)

    context = None
    if args.tls_cert:
        make_certificate(args.tls_cert, args.tls_key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    kwargs = {"hostname": "tulga-test-smtp", "tls_context": context, "require_starttls": context is not None}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)

    handler = Handler(args.folder, args.refuse)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler, **kwargs), args.host, args.port)
        print("ready %d" % server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
