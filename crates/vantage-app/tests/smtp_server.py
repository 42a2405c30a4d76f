"""A real SMTP server for the e-mail connector's test: aiosmtpd with STARTTLS required before
anything else and AUTH (PLAIN/LOGIN) required, only over TLS. Each accepted message is written to
DIR/<n>.eml with its envelope in DIR/<n>.json. Prints `ready PORT` when it listens.

usage: smtp_server.py CERT KEY DIR USER PASSWORD
"""
import json
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, out, user, password = sys.argv[1:6]


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        with open(f"{out}/{self.n}.eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(f"{out}/{self.n}.json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "tls": session.ssl is not None, "auth": session.authenticated}, f)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
        and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                        require_starttls=True, authenticator=authenticator,
                        auth_required=True, auth_require_tls=True)
controller.start()
print(f"ready {controller.port}", flush=True)
while True:
    time.sleep(3600)
