#!/usr/bin/python3
"""Fault injection against a running `ferry serve` (driven by r_faults.sh / t_faults.sh).

  faults.py session-kill PROTO N      N uploads and N downloads, each cut by kill -9 of its
                                      session process at a random point, then resumed and
                                      compared byte for byte
  faults.py upload PROTO NAME SRC     a slow upload (killed from outside)
  faults.py resume PROTO NAME SRC     checks NAME is absent or complete, resumes, compares
  faults.py diskfull PROTO NAME SIZE  an upload that cannot fit: prints the client's error
                                      and exits 0 only when it is the clear one (FTP 452/552,
                                      SSH_FX_FAILURE with a message, HTTP 507)

Environment: FTP_PORT SFTP_PORT HTTPS_PORT FERRY_PID FERRY_ROOT FUSER FPASS FHOME (the
user's home on the host). Uploads are throttled (chunks with pauses) so that a kill lands
mid-transfer.
"""
import base64
import ftplib
import os
import random
import signal
import socket
import ssl
import sys
import time

import paramiko

E = os.environ
CHUNK = 32768
PAUSE = float(E.get("FAULT_PAUSE", "0.01"))


WHOLE_PARTIALS = 0


class Cut(Exception):
    pass


def sessions():
    """Pids of the server's session processes (children of the parent)."""
    out = []
    ppid = E["FERRY_PID"]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                if st[1] == ppid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def chunks(data, start=0):
    for i in range(start, len(data), CHUNK):
        yield data[i:i + CHUNK]
        time.sleep(PAUSE)


# ---------------------------------------------------------------- clients
class Ftp:
    def __init__(self):
        self.f = ftplib.FTP(timeout=30)
        self.f.connect("127.0.0.1", int(E["FTP_PORT"]))
        self.f.login(E["FUSER"], E["FPASS"])
        self.f.voidcmd("TYPE I")

    def put(self, name, data, offset=0):
        try:
            if offset:
                self.f.sendcmd("REST %d" % offset)
            c = self.f.transfercmd("STOR " + name)
            try:
                for b in chunks(data, offset):
                    c.sendall(b)
            except OSError as e:
                # The server closed the data connection: its reason is on the control one.
                try:
                    reply = self.f.getresp()
                except (OSError, EOFError, ftplib.Error) as e2:
                    reply = str(e2)
                raise Cut("%s; control: %s" % (e, reply)) from None
            c.close()
            self.f.voidresp()
        except (OSError, EOFError, ftplib.Error) as e:
            raise Cut(str(e))

    def size(self, name):
        try:
            return int(self.f.sendcmd("SIZE " + name).split()[1])
        except ftplib.error_perm:
            return None

    def get(self, name, offset=0, slow=False):
        buf = bytearray()
        try:
            c = self.f.transfercmd("RETR " + name, offset or None)
            while True:
                d = c.recv(CHUNK)
                if not d:
                    break
                buf += d
                if slow:
                    time.sleep(PAUSE)
            c.close()
            self.f.voidresp()
        except (OSError, EOFError, ftplib.Error) as e:
            if slow:  # a cut download: what arrived so far
                return bytes(buf)
            raise Cut(str(e)) from None
        return bytes(buf)


class Sftp:
    def __init__(self):
        self.t = paramiko.Transport(("127.0.0.1", int(E["SFTP_PORT"])))
        self.t.connect(username=E["FUSER"], password=E["FPASS"])
        self.s = paramiko.SFTPClient.from_transport(self.t)

    def put(self, name, data, offset=0):
        try:
            f = self.s.open(name, "r+" if offset else "w")
            f.seek(offset)
            for b in chunks(data, offset):
                f.write(b)
            f.close()
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise Cut(str(e))

    def size(self, name):
        try:
            return self.s.stat(name).st_size
        except IOError:
            return None

    def get(self, name, offset=0, slow=False):
        buf = bytearray()
        try:
            with self.s.open(name, "rb") as f:
                f.seek(offset)
                while True:
                    d = f.read(CHUNK)
                    if not d:
                        break
                    buf += d
                    if slow:
                        time.sleep(PAUSE)
        except (OSError, EOFError, paramiko.SSHException) as e:
            if slow:  # a cut download: what arrived so far
                return bytes(buf)
            raise Cut(str(e))
        return bytes(buf)


class Dav:
    def __init__(self):
        self.auth = base64.b64encode(("%s:%s" % (E["FUSER"], E["FPASS"])).encode())
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def conn(self):
        return self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(E["HTTPS_PORT"])),
                                                             timeout=30),
                                    server_hostname="localhost")

    def head(self, s, method, name, extra=""):
        s.sendall(("%s /%s HTTP/1.1\r\nHost: h\r\nAuthorization: Basic %s\r\n"
                   "Connection: close\r\n%s\r\n" % (method, name, self.auth.decode(), extra)).encode())

    @staticmethod
    def response(s, slow=False):
        out = b""
        try:
            while True:
                d = s.recv(CHUNK)
                if not d:
                    break
                out += d
                if slow:
                    time.sleep(PAUSE)
        except (OSError, ssl.SSLError):
            pass
        head, _, body = out.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise Cut("no response")
        return int(head.split()[1]), head, body

    def put(self, name, data, offset=0):
        s = self.conn()
        try:
            extra = "Content-Length: %d\r\n" % (len(data) - offset)
            if offset:
                extra += "Content-Range: bytes %d-%d/%d\r\n" % (offset, len(data) - 1, len(data))
            self.head(s, "PUT", name, extra)
            for b in chunks(data, offset):
                s.sendall(b)
            code, _, body = self.response(s)
        except (OSError, ssl.SSLError) as e:
            raise Cut(str(e))
        finally:
            s.close()
        if code >= 300:
            raise Cut("HTTP %d %s" % (code, body[:80]))
        return code

    def size(self, name):
        s = self.conn()
        self.head(s, "HEAD", name)
        code, head, _ = self.response(s)
        s.close()
        if code != 200:
            return None
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return int(line.split(b":")[1])
        return None

    def get(self, name, offset=0, slow=False):
        s = self.conn()
        try:
            self.head(s, "GET", name, "Range: bytes=%d-\r\n" % offset if offset else "")
            code, head, body = self.response(s, slow)
            if slow and code == 200 and b"chunked" not in head.lower():
                return body
        except (OSError, ssl.SSLError) as e:
            raise Cut(str(e))
        finally:
            s.close()
        if code not in (200, 206):
            raise Cut("HTTP %d" % code)
        return body


CLIENTS = {"ftp": Ftp, "sftp": Sftp, "webdav": Dav}


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check_final(name, data):
    """The file under its final name is absent or complete: never a prefix."""
    p = os.path.join(E["FHOME"], name)
    if os.path.exists(p):
        with open(p, "rb") as f:
            got = f.read()
        if got != data:
            fail("%s exists under its final name with %d of %d bytes" % (name, len(got), len(data)))
        return True
    return False


def resume(proto, name, data):
    """Resumes an upload the way a standard client does and compares the result."""
    complete = check_final(name, data)
    c = CLIENTS[proto]()
    n = c.size(name)
    if complete and n != len(data):
        fail("%s: complete file but size %r" % (name, n))
    if n is None or n > len(data):
        n = 0
    if not complete and n == len(data) and n > 0:
        # Every byte arrived but the upload never ended normally (killed between the last
        # byte and the end of the transfer): the partial is whole but uncommitted. Sending
        # the last byte again ends it properly (an empty REST+STOR cannot be said in HTTP).
        n -= 1
        global WHOLE_PARTIALS
        WHOLE_PARTIALS += 1
    if n < len(data):
        c.put(name, data, n)
    if not check_final(name, data):
        fail("%s missing after the resumed upload" % name)
    return n


def killer(delay):
    time.sleep(delay)
    for pid in sessions():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def session_kill(proto, n):
    import threading
    rnd = random.Random(int(E.get("FAULT_SEED", "0")) or None)
    resumed = full = 0
    for i in range(n):
        name = "up-%s-%d.bin" % (proto, i)
        data = os.urandom(rnd.randint(600_000, 2_000_000))
        # WebDAV spends longer before the first byte lands (TLS, Basic auth) and writes in
        # 256 KiB steps: later kills, so that most cut uploads leave a partial to resume.
        late = 0.4 if proto == "webdav" else 0
        t = threading.Thread(target=killer, args=(late + rnd.uniform(0.05, 0.6),))
        t.start()
        try:
            CLIENTS[proto]().put(name, data)
        except Exception:  # noqa: BLE001 - the kill may land during the login as well
            pass
        t.join()
        time.sleep(0.1)
        off = resume(proto, name, data)
        resumed += off > 0
        full += off == 0
        # A download cut at a random point resumes from where it stopped.
        t = threading.Thread(target=killer, args=(rnd.uniform(0.05, 0.4),))
        t.start()
        got = b""
        try:
            got = CLIENTS[proto]().get(name, slow=True)
        except Exception:  # noqa: BLE001 - as above
            pass
        t.join()
        if data[:len(got)] != got:
            fail("%s: a cut download returned wrong bytes" % name)
        # (a download that finished before the kill has nothing left: Range past the end
        # is a 416 in HTTP)
        rest = CLIENTS[proto]().get(name, offset=len(got)) if len(got) < len(data) else b""
        if got + rest != data:
            fail("%s: resumed download differs (%d + %d of %d)" % (name, len(got), len(rest), len(data)))
    print("%s: %d uploads killed mid-way: %d resumed from an offset (%d of them whole but "
          "uncommitted partials), %d restarted from 0 (killed before the first byte landed "
          "or after the end), %d downloads resumed: all identical"
          % (proto, n, resumed, WHOLE_PARTIALS, full, n))


def diskfull(proto, name, size):
    data = os.urandom(size)
    c = CLIENTS[proto]()
    try:
        c.put(name, data)
    except Cut as e:
        msg = str(e)
        print("%s disk full: %s" % (proto, msg))
        ok = {"ftp": ("452" in msg or "552" in msg),
              "sftp": ("Failure" in msg or "space" in msg.lower()) and len(msg) > 8,
              "webdav": "507" in msg}[proto]
        if not ok:
            fail("%s: unclear disk-full error: %s" % (proto, msg))
        if check_final(name, data):
            fail("%s: a file that cannot fit appeared" % name)
        return
    fail("%s: an upload larger than the disk succeeded" % proto)


def main():
    mode, proto = sys.argv[1], sys.argv[2]
    if mode == "session-kill":
        session_kill(proto, int(sys.argv[3]))
    elif mode == "upload":
        with open(sys.argv[4], "rb") as f:
            data = f.read()
        try:
            CLIENTS[proto]().put(sys.argv[3], data)
        except Exception:  # noqa: BLE001 - killed from outside: expected
            pass
    elif mode == "resume":
        with open(sys.argv[4], "rb") as f:
            data = f.read()
        off = resume(proto, sys.argv[3], data)
        print("%s: %s resumed from %d of %d: identical" % (proto, sys.argv[3], off, len(data)))
    elif mode == "diskfull":
        diskfull(proto, sys.argv[3], int(sys.argv[4]))


if __name__ == "__main__":
    main()
