"""A pyftpdlib server for the mirror tests: user 'u'/'p' and anonymous on the same tree,
optionally throttled so a transfer can be interrupted mid-file.
usage: pyftpd_mirror.py PORT DIR [BYTES_PER_SECOND]"""
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
from pyftpdlib.servers import FTPServer

port, root = int(sys.argv[1]), sys.argv[2]
auth = DummyAuthorizer()
auth.add_user("u", "p", root, perm="elradfmwMT")
auth.add_anonymous(root)
handler = FTPHandler
handler.authorizer = auth
handler.passive_ports = range(port + 1, port + 40)
if len(sys.argv) > 3:
    dtp = ThrottledDTPHandler
    dtp.read_limit = dtp.write_limit = int(sys.argv[3])
    handler.dtp_handler = dtp
server = FTPServer(("127.0.0.1", port), handler)
server.serve_forever()
