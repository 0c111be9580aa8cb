"""A client for Ferry's test front end (gateway/testfe.c), used by integration tests."""
import socket


class TFE:
    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=20)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        return self.f.readline().decode("utf-8", "replace").rstrip("\n")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.line()

    def get(self, path, offset=0):
        rep = self.cmd("GET %s %d" % (path, offset))
        if not rep.startswith("OK "):
            return rep, None
        n = int(rep.split()[1])
        data = self.f.read(n)
        return rep, data

    def put(self, path, data, mode="new", offset=0, send=None):
        """Uploads data; with send < len(data), sends only that much and closes."""
        self.sock.sendall(("PUT %s %s %d %d\n" % (mode, path, offset, len(data))).encode())
        if send is not None and send < len(data):
            self.sock.sendall(data[:send])
            self.close()
            return None
        self.sock.sendall(data)
        return self.line()

    def listing(self, path):
        rep = self.cmd("LIST " + path)
        if not rep.startswith("OK "):
            return rep, []
        return rep, [self.line() for _ in range(int(rep.split()[1]))]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
