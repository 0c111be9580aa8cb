"""A pyftpdlib FTP server for the tests: one user and/or anonymous, MLSD, UTF-8 names with
raw bytes passed through (surrogateescape), on a loopback port.

    /usr/bin/python3 tests/peers/pyftpd.py --dir DIR [--user NAME:PASS] [--anonymous]
        [--port N] [--port-file FILE] [--read-only] [--tls CERT.pem:KEY.pem]

--tls: explicit FTPS (AUTH TLS, RFC 4217) with that certificate; plain logins stay allowed
(a legacy server's usual setup), the data channel follows PROT. Note: with Debian 12's
PyOpenSSL the TLS data channel is reset by the server after EPSV/PASV (curl's own client
fails the same way), so tests needing FTPS data use vsftpd (peers.sh PEER_TLS).

--port 0 (the default) binds a free port; the port is printed on stdout as "port N" and,
with --port-file, written (atomically) to FILE once the server accepts connections. Runs in
the foreground until SIGTERM/SIGINT. Debian's python3-pyftpdlib: run with /usr/bin/python3.
"""
import argparse
import logging
import os
import signal
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user", action="append", default=[], help="NAME:PASS (repeatable)")
    ap.add_argument("--anonymous", action="store_true")
    ap.add_argument("--read-only", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--tls", help="CERT:KEY, PEM files: offer AUTH TLS")
    a = ap.parse_args()

    auth = DummyAuthorizer()
    perm = "elr" if a.read_only else "elradfmwMT"
    for u in a.user:
        name, _, password = u.partition(":")
        auth.add_user(name, password, a.dir, perm=perm)
    if a.anonymous or not a.user:
        auth.add_anonymous(a.dir)

    base = FTPHandler
    if a.tls:
        from pyftpdlib.handlers import TLS_FTPHandler
        base = TLS_FTPHandler
        base.certfile, _, base.keyfile = a.tls.partition(":")

    class Handler(base):
        # Raw name bytes (a Latin-1 0xE9) go out and come back unchanged instead of
        # becoming '?': what a legacy server on a non-UTF-8 file system does.
        unicode_errors = "surrogateescape"
        permit_foreign_addresses = False

    Handler.authorizer = auth
    Handler.banner = "pyftpdlib ready"
    Handler.timeout = 120
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.WARNING,
                        stream=sys.stderr)
    server = FTPServer(("127.0.0.1", a.port), Handler)
    server.max_cons = 64
    port = server.socket.getsockname()[1]

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("port %d" % port, flush=True)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    try:
        server.serve_forever(handle_exit=False)
    finally:
        server.close_all()


if __name__ == "__main__":
    main()
