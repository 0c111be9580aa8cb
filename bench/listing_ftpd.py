#!/usr/bin/python3
"""A pyftpdlib server for bench/listing.sh: anonymous, read-only, on a loopback port, that
answers LIST in any directory with the bytes of one prepared listing file (so curl's own
listing parser and Ferry's see exactly the same input), and otherwise behaves as pyftpdlib.
Usage: listing_ftpd.py PORT LISTING_FILE ROOT_DIR"""
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FileProducer, FTPHandler
from pyftpdlib.servers import FTPServer

port, listing, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class ListingHandler(FTPHandler):
    def ftp_LIST(self, path):
        f = open(listing, 'rb')
        self.push_dtp_data(FileProducer(f, 'i'), isproducer=True, file=f, cmd="LIST")
        return path


auth = DummyAuthorizer()
auth.add_anonymous(root)
ListingHandler.authorizer = auth
server = FTPServer(('127.0.0.1', port), ListingHandler)
server.serve_forever()
