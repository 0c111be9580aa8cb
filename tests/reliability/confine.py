#!/usr/bin/python3
"""Runs the confinement matrix (hostile_paths.tsv) against a running `ferry serve`.

Usage: confine.py TSV [--short] (settings come from the environment, see main()).

Each row is run through every front end it names: FTP (ftplib, plus curl for plain
reads), SFTP (paramiko, raw requests for hardlink@openssh.com) and WebDAV (raw TLS
sockets, so NUL and overlong bytes go out exactly as written, plus curl --path-as-is for
printable paths). A case passes when the server refuses it or confines it: nothing it
returns carries outside content (the OUTSIDE-SECRET marker, /etc/passwd's first line, an
outside name in a listing) and the watched outside trees are byte-for-byte unchanged
afterwards. Prints one line per failure and the counts per protocol; exits 1 on any
failure.
"""
import codecs
import ftplib
import hashlib
import io
import os
import socket
import ssl
import subprocess
import sys
import threading

import paramiko

MARKERS = (b"OUTSIDE-SECRET", b"root:x:0:0")
OUTSIDE_NAMES = {"OUTSIDE_SECRET.txt", "OUTSIDE_FILE.txt", "OUTSIDE_UP.txt", "passwd",
                 "shadow", "usr", "proc", "etc", "bin", "mallory"}
E = os.environ


class Refused(Exception):
    pass


def unesc(s, root, out):
    s = s.replace("@ROOT@", root).replace("@OUT@", out)
    return codecs.escape_decode(s.encode())[0]


def snapshot(watch):
    """(path -> kind+hash) of every entry under the watched trees, minus exclusions."""
    snap = {}
    for top, excl in watch:
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs if os.path.join(d, x) not in excl]
            for n in dirs + files:
                p = os.path.join(d, n)
                if p in excl:
                    continue
                if os.path.islink(p):
                    snap[p] = "l:" + os.readlink(p)
                elif os.path.isfile(p):
                    with open(p, "rb") as f:
                        snap[p] = "f:" + hashlib.sha256(f.read()).hexdigest()
                else:
                    snap[p] = "d"
    return snap


def leaked(data):
    return data is not None and any(m in data for m in MARKERS)


# ---------------------------------------------------------------- FTP (ftplib, curl)
class Ftp:
    name = "ftp"

    def __init__(self, user, pw):
        self.user, self.pw, self.port = user, pw, int(E["FTP_PORT"])

    def conn(self):
        f = ftplib.FTP(encoding="latin-1", timeout=20)
        f.connect("127.0.0.1", self.port)
        f.login(self.user, self.pw)
        return f

    def run(self, op, p, a):
        f = self.conn()
        try:
            s, t = p.decode("latin-1"), a.decode("latin-1")
            if op in ("read", "race-read", "expect-read"):
                buf = bytearray()
                f.retrbinary("RETR " + s, buf.extend)
                return bytes(buf)
            if op == "list":
                names = []
                f.retrlines("NLST " + s, names.append)
                return [n.rsplit("/", 1)[-1] for n in names]
            if op in ("write", "race-write"):
                f.storbinary("STOR " + s, io.BytesIO(b"PWNED"))
            elif op == "mkdir":
                f.sendcmd("MKD " + s)
            elif op == "delete":
                f.sendcmd("DELE " + s)
            elif op == "rename":
                f.sendcmd("RNFR " + s)
                f.sendcmd("RNTO " + t)
            return None
        except (ftplib.Error, EOFError, ConnectionError) as e:
            raise Refused(str(e)[:60])
        finally:
            try:
                f.close()
            except OSError:
                pass

    def curl_read(self, p):
        # curl sends the URL path as-is (no ".." squashing) in CWD/RETR commands.
        r = subprocess.run(["curl", "-s", "--path-as-is", "--max-time", "20",
                            "ftp://%s:%s@127.0.0.1:%d/%s" % (self.user, self.pw, self.port,
                                                             p.decode("latin-1"))],
                           capture_output=True)
        return r.stdout if r.returncode == 0 else None


# ---------------------------------------------------------------- SFTP (paramiko)
class Sftp:
    name = "sftp"

    def __init__(self, user, pw):
        self.user, self.pw = user, pw
        t = paramiko.Transport(("127.0.0.1", int(E["SFTP_PORT"])))
        t.connect(username=user, password=pw)
        self.t = t
        self.s = paramiko.SFTPClient.from_transport(t)

    def reopen(self):
        try:
            self.s.listdir(".")
        except Exception:  # noqa: BLE001 - the session ended: log in again
            self.t.close()
            self.__init__(self.user, self.pw)

    def run(self, op, p, a):
        s = self.s
        try:
            if op in ("read", "race-read", "expect-read"):
                with s.open(p, "rb") as f:
                    return f.read()
            if op == "list":
                return s.listdir(p)
            if op in ("write", "race-write"):
                with s.open(p, "wb") as f:
                    f.write(b"PWNED")
            elif op == "mkdir":
                s.mkdir(p)
            elif op == "delete":
                s.remove(p)
            elif op == "rename":
                s.rename(p, a)
            elif op == "symlink":
                # creates p pointing at a, then reads through it
                s.symlink(a, p)
                with s.open(p, "rb") as f:
                    return f.read()
            elif op == "hardlink":
                t, msg = s._request(paramiko.sftp.CMD_EXTENDED, "hardlink@openssh.com", p, a)
                if t == paramiko.sftp.CMD_STATUS:
                    s._convert_status(msg)  # raises on an error status
                with s.open(a, "rb") as f:
                    return f.read()
            elif op == "realpath":
                r = s.normalize(p)
                if r != "/":
                    return b"OUTSIDE-SECRET realpath " + r.encode()
            return None
        except (IOError, OSError, paramiko.SSHException, EOFError) as e:
            raise Refused(str(e)[:60])


# ---------------------------------------------------------------- WebDAV (raw TLS, curl)
class Dav:
    name = "webdav"

    def __init__(self, user, pw):
        import base64
        self.port = int(E["HTTPS_PORT"])
        self.userpw = "%s:%s" % (user, pw)
        self.auth = b"Basic " + base64.b64encode(self.userpw.encode())
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    @staticmethod
    def target(p):
        if not p.startswith(b"/"):
            p = b"/" + p
        # CR, LF and space would end the request line: percent-encode them; NUL and every
        # other byte goes out raw.
        return b"".join(b"%%%02X" % c if c in b"\r\n " else bytes([c]) for c in p)

    def request(self, method, p, extra=b"", body=b""):
        s = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port),
                                                          timeout=20),
                                 server_hostname="localhost")
        try:
            s.sendall(method + b" " + self.target(p) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                      b"Authorization: " + self.auth + b"\r\nConnection: close\r\n" + extra +
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except (OSError, ssl.SSLError):
            out = b""
        finally:
            s.close()
        head, _, data = out.partition(b"\r\n\r\n")
        try:
            code = int(head.split(b" ")[1])
        except (IndexError, ValueError):
            raise Refused("no response")
        if b"transfer-encoding: chunked" in head.lower():
            plain = b""
            while data:
                n, _, rest = data.partition(b"\r\n")
                n = int(n.split(b";")[0], 16)
                if n == 0:
                    break
                plain += rest[:n]
                data = rest[n + 2:]
            data = plain
        if code >= 300:
            raise Refused(str(code))
        return code, data

    def run(self, op, p, a):
        if op in ("read", "race-read", "expect-read"):
            return self.request(b"GET", p)[1]
        if op == "list":
            import re
            body = self.request(b"PROPFIND", p, b"Depth: 1\r\n")[1]
            return [h.rstrip(b"/").rsplit(b"/", 1)[-1].decode("latin-1")
                    for h in re.findall(rb"<D:href>([^<]*)</D:href>", body, re.I)]
        if op in ("write", "race-write"):
            self.request(b"PUT", p, body=b"PWNED")
        elif op == "mkdir":
            self.request(b"MKCOL", p)
        elif op == "delete":
            self.request(b"DELETE", p)
        elif op in ("rename", "copy"):
            dest = b"https://127.0.0.1:%d" % self.port + self.target(a)
            self.request(b"MOVE" if op == "rename" else b"COPY", p,
                         b"Destination: " + dest + b"\r\n")
            if op == "copy":
                try:
                    return self.request(b"GET", a)[1]
                except Refused:
                    return None
        return None

    def curl_read(self, p):
        r = subprocess.run(["curl", "-sk", "--path-as-is", "--max-time", "20", "-u",
                            self.userpw, "-o", "-", "-w", "\n%{http_code}",
                            "https://127.0.0.1:%d/%s" % (self.port, p.decode().lstrip("/"))],
                           capture_output=True)
        body, _, code = r.stdout.rpartition(b"\n")
        return body if code.startswith(b"2") else None


# ---------------------------------------------------------------- race set-up
class Flipper(threading.Thread):
    """Swaps HOME/racedir atomically between a link to racedir.real (inside) and a link
    to the outside directory, as fast as it can, while a case runs."""

    def __init__(self, home, out):
        super().__init__(daemon=True)
        self.home, self.out, self.stop = home, out, False

    def run(self):
        link, tmp, i = os.path.join(self.home, "racedir"), os.path.join(self.home, ".rtmp"), 0
        while not self.stop:
            i += 1
            try:
                os.symlink("racedir.real" if i % 2 else self.out, tmp)
                os.replace(tmp, link)
            except OSError:
                pass
        os.symlink("racedir.real", tmp)
        os.replace(tmp, link)


def check_result(op, res):
    if op == "list":
        bad = sorted(OUTSIDE_NAMES & set(res or []))
        return "listed outside names %s" % bad if bad else None
    if leaked(res if isinstance(res, bytes) else None):
        return "returned outside content %r" % res[:40]
    return None


def main():
    tsv = sys.argv[1]
    short = "--short" in sys.argv
    root, out, up = E["FERRY_ROOT"], E["OUT_DIR"], E.get("UP_DIR", "")
    home = os.path.join(root, "mallory")
    users = {"all": ("mallory", E["MALLORY_PASS"]), "mount": ("moe", E.get("MOE_PASS", ""))}
    watch_m = [(out, set()), (root, {home})] + ([(up, {up + "/sub"})] if up else [])
    watch_moe = [(out, set())] + ([(up, {up + "/sub"})] if up else [])
    only = set(E.get("PROTOS", "ftp,sftp,webdav").split(","))
    rows = []
    with open(tsv) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cid, protos, op, p, a, sh, what = line.rstrip("\n").split("\t")
            if short and sh != "1":
                continue
            if protos == "mount" and not up:
                continue
            rows.append((cid, protos, op, unesc(p, root, out), unesc(a, root, out), what))

    known = {}
    kfile = os.path.join(os.path.dirname(tsv), "known_escapes.txt")
    if os.path.exists(kfile):
        with open(kfile) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    cid, proto, why = line.rstrip("\n").split("\t", 2)
                    known[(cid, proto)] = why
    counts, failures, clients, controls = {}, [], {}, 0
    for cid, protos, op, p, a, what in rows:
        group = "mount" if protos == "mount" or cid.startswith("m_") else "all"
        plist = ["ftp", "sftp", "webdav"] if protos in ("all", "mount") else protos.split(",")
        user, pw = users[group]
        watch = watch_moe if group == "mount" else watch_m
        for proto in plist:
            if proto not in only:
                continue
            key = (proto, user)
            label = "mount/" + proto if group == "mount" else proto
            try:
                if key not in clients:
                    clients[key] = {"ftp": Ftp, "sftp": Sftp, "webdav": Dav}[proto](user, pw)
                c = clients[key]
            except Exception as e:  # noqa: BLE001 - a client that cannot log in fails the run
                failures.append("%s %s: cannot connect: %s" % (proto, cid, e))
                continue
            before = snapshot(watch)
            verdicts = []
            flip = None
            reps = 1
            if op.startswith("race-"):
                flip = Flipper(home, out)
                flip.start()
                reps = int(E.get("RACE_REPS", "40"))
            try:
                for _ in range(reps):
                    try:
                        res = c.run(op, p, a)
                        bad = check_result(op, res)
                        if op == "expect-read" and res != a:
                            bad = "control read returned %r, not %r" % (res[:40], a)
                        verdicts.append(bad or "confined")
                    except Refused as e:
                        # A control case shows the client reaches the file at all, so the
                        # refusals around it mean something.
                        verdicts.append("control read refused: %s" % e
                                        if op == "expect-read" else "refused")
                    if op == "read" and hasattr(c, "curl_read") and all(
                            0x21 <= b < 0x7f for b in p):
                        r = c.curl_read(p)
                        if leaked(r):
                            verdicts.append("curl read returned outside content")
            finally:
                if flip:
                    flip.stop = True
                    flip.join()
            if E.get("VERBOSE"):
                print("%-12s %-18s %s" % (label, cid, sorted(set(verdicts))))
            if proto == "sftp":
                c.reopen()
            after = snapshot(watch)
            if after != before:
                diff = sorted(set(after.items()) ^ set(before.items()))[:3]
                verdicts.append("outside tree changed: %s" % diff)
            bad = [v for v in verdicts if v not in ("refused", "confined")]
            st = counts.setdefault(label, {"cases": 0, "refused": 0, "confined": 0, "failed": 0,
                                           "known": 0})
            st["cases"] += 1
            if (cid, proto) in known:
                # A known, reported escape: printed on every run, fails only once fixed
                # (then the entry must go from known_escapes.txt).
                if bad:
                    st["known"] += 1
                    print("KNOWN ESCAPE (%s): %s %s: %s" % (known[(cid, proto)], label, cid, bad[0]))
                else:
                    failures.append("%s %s is fixed: remove it from known_escapes.txt" %
                                    (label, cid))
                    st["failed"] += 1
            elif bad:
                st["failed"] += 1
                failures.append("%s %s (%s): %s" % (label, cid, what, bad[0]))
            elif op == "expect-read":
                controls += 1
                st["cases"] -= 1
            elif "confined" in verdicts:
                st["confined"] += 1
            else:
                st["refused"] += 1
    for f in failures:
        print("FAIL:", f)
    total = 0
    for label in sorted(counts):
        st = counts[label]
        total += st["cases"]
        print("confinement %-12s %3d cases: %3d refused, %3d confined, %d failed%s" %
              (label, st["cases"], st["refused"], st["confined"], st["failed"],
               ", %d KNOWN ESCAPES" % st["known"] if st["known"] else ""))
    print("confinement total %d cases, %d failed (and %d control reads of inside files: "
          "all returned their content)" % (total, len(failures), controls))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
