#!/usr/bin/python3
"""Drives Ferry's FTP front end with Python's ftplib (and raw sockets for hostile input).

Usage: ftp_client.py SCENARIO HOST PORT USER PASS [ARGS...]

Scenarios (each exits 0 when every check passed, 1 with a message otherwise):
  commands [tls]         every command of issue 3 through ftplib (FTP or FTP_TLS)
  noreuse                FTP_TLS without TLS session reuse: data refused with 522
  anonymous              anonymous login is read-only (550 on STOR/DELE/MKD/RNFR...)
  hostile                escaping paths, CRLF/NUL injection, PORT bounce, long lines,
                         commands before login, binary garbage
  big NAME SIZE          a (sparse) file above 4 GiB: LIST/MLSD/SIZE show SIZE, REST
                         above 4 GiB resumes the download at the right bytes
  resume-stor NAME FILE  finishes an interrupted upload with SIZE + REST + STOR
  abort NAME             ABOR during a RETR: 426 then 226, session still usable
  encoding CHARSET       names converted for a legacy client (no OPTS UTF8 ON)
  plaintext-refused      USER on a clear-text control connection gets 530
  rein [tls]             REIN before and after a login; TLS stays after REIN
  hash-range NAME        RANG + HASH over byte ranges (draft-bryan-ftpext-hash)
  extras                 the X* directory aliases, SMNT, CLNT, EPSV ALL, XSHA512
  encoding-user CHARSET NAMES...  a user with a per-user ftp_client_encoding sees NAMES
                         (UTF-8 on the command line) in CHARSET, others escaped
  pasv-guard LO HI       PASV/EPSV ports within LO-HI; a data connection from another
                         address (127.0.0.2) is refused, the client's own one served
  timeouts               login, idle and data timeouts (server started with 2 s each),
                         max failed logins (3), a silent client does not block others
"""
import hashlib
import io
import os
import socket
import ssl
import sys
import time
import ftplib

HOST, PORT, USER, PASS = None, None, None, None


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok   " + msg)


def expect_error(code, fn, *args, **kw):
    """Runs fn and requires an ftplib error whose reply starts with code."""
    try:
        r = fn(*args, **kw)
    except ftplib.all_errors as e:
        text = str(e)
        if not text.startswith(code):
            fail("%s%r: wanted %s, got %s" % (fn.__name__, args, code, text))
        print("ok   %s %r -> %s" % (getattr(fn, "__name__", "?"), args[:1], text[:60]))
        return text
    fail("%s%r: wanted error %s, got success %r" % (fn.__name__, args, code, r))


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on data connections,
    as FileZilla, lftp and curl do (stock ftplib does not)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def connect(tls=False, reuse=True, user=None, password=None):
    if tls:
        cls = ReuseFTP_TLS if reuse else ftplib.FTP_TLS
        f = cls(context=tls_context(), timeout=30)
    else:
        f = ftplib.FTP(timeout=30)
    f.connect(HOST, PORT)
    if tls:
        f.auth()
    f.login(user or USER, password if password is not None else PASS)
    if tls:
        f.prot_p()
    return f


def retr_bytes(f, cmd, rest=None):
    out = io.BytesIO()
    f.retrbinary(cmd, out.write, rest=rest)
    return out.getvalue()


def raw_transfer(f, cmd, data=None):
    """A transfer in the current TYPE (ftplib's helpers force TYPE I)."""
    conn = f.transfercmd(cmd)
    got = b""
    if data is not None:
        conn.sendall(data)
    else:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            got += b
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    conn.close()
    f.voidresp()
    return got


def scenario_commands(args):
    tls = bool(args) and args[0] == "tls"
    f = connect(tls)
    check(f.sendcmd("SYST") == "215 UNIX Type: L8", "SYST")
    feat = f.sendcmd("FEAT")
    for item in ("EPSV", "EPRT", "MDTM", "MFMT", "SIZE", "REST STREAM", "UTF8", "MLST type*",
                 "HASH SHA-256*;SHA-512;SHA-1;MD5", "AUTH TLS", "PBSZ", "PROT"):
        check(item in feat, "FEAT lists " + item)
    check(f.sendcmd("OPTS UTF8 ON").startswith("200"), "OPTS UTF8 ON")
    check(f.sendcmd("NOOP").startswith("200"), "NOOP")
    check(f.sendcmd("ACCT x").startswith("202"), "ACCT")
    check(f.sendcmd("ALLO 1000").startswith("202"), "ALLO")
    check(f.sendcmd("MODE S").startswith("200"), "MODE S")
    expect_error("504", f.sendcmd, "MODE B")
    check(f.sendcmd("STRU F").startswith("200"), "STRU F")
    expect_error("504", f.sendcmd, "STRU R")
    check(f.sendcmd("TYPE I").startswith("200"), "TYPE I")
    expect_error("504", f.sendcmd, "TYPE E")
    help_ = f.sendcmd("HELP")
    check(help_.startswith("214") and "MLSD" in help_, "HELP lists commands")
    check(f.sendcmd("SITE HELP").startswith("214"), "SITE HELP")
    stat = f.sendcmd("STAT")
    check(stat.startswith("211") and "Logged in as " + USER in stat, "STAT (server)")

    # Directories.
    base = "/ftplib-%d" % os.getpid()
    check(f.mkd(base) == base, "MKD returns the path")
    f.cwd(base)
    check(f.pwd() == base, "CWD + PWD")
    check(f.sendcmd("XPWD").startswith('257 "%s"' % base), "XPWD")
    f.mkd("sub dir")
    f.cwd("sub dir")
    check(f.pwd() == base + "/sub dir", "CWD into a name with a space")
    check(f.sendcmd("CDUP").startswith("250"), "CDUP")
    check(f.pwd() == base, "CDUP went up")
    expect_error("550", f.cwd, "no-such-dir")

    # Upload, list, download.
    payload = os.urandom(300000)
    f.storbinary("STOR data.bin", io.BytesIO(payload))
    check(retr_bytes(f, "RETR data.bin") == payload, "STOR then RETR round trip")
    check(f.size("data.bin") == len(payload), "SIZE")
    lines = []
    f.retrlines("LIST", lines.append)
    check(any(l.endswith(" data.bin") and str(len(payload)) in l for l in lines),
          "LIST shows data.bin with its size")
    check(any(l.startswith("d") and l.endswith(" sub dir") for l in lines),
          "LIST shows the directory")
    lines = []
    f.retrlines("LIST -la", lines.append)
    check(any(l.endswith(" data.bin") for l in lines), "LIST -la accepted")
    names = f.nlst()
    check(sorted(names) == ["data.bin", "sub dir"], "NLST plain names: %r" % names)
    check(f.nlst("sub dir") == [], "NLST of an empty directory")
    check(f.nlst("*.bin") == ["data.bin"], "NLST with a glob")
    check(f.nlst(base + "/*.bin") == [base + "/data.bin"], "NLST dir/glob keeps the directory")
    lines = []
    f.retrlines("LIST *.bin", lines.append)
    check(len(lines) == 1 and lines[0].endswith(" data.bin"), "LIST with a glob")
    facts = dict(f.mlsd())
    check(facts["data.bin"]["type"] == "file" and int(facts["data.bin"]["size"]) == len(payload),
          "MLSD facts type and size")
    check(facts["sub dir"]["type"] == "dir", "MLSD directory type")
    for fact in ("modify", "perm", "unique", "unix.mode"):
        check(fact in facts["data.bin"], "MLSD fact " + fact)
    mlst = f.sendcmd("MLST data.bin")
    check(mlst.startswith("250-") and "size=%d;" % len(payload) in mlst and
          (base + "/data.bin") in mlst, "MLST")
    check(f.sendcmd("OPTS MLST type;size;") == "200 MLST OPTS type;size;", "OPTS MLST")
    mlst = f.sendcmd("MLST data.bin")
    check("modify=" not in mlst and "type=file;size=" in mlst, "OPTS MLST selects facts")
    f.sendcmd("OPTS MLST type;size;modify;perm;unique;UNIX.mode;")
    st = f.sendcmd("STAT data.bin")
    check(st.startswith("213-") and "data.bin" in st, "STAT with a path")

    # REST + RETR, REST + STOR, APPE.
    check(retr_bytes(f, "RETR data.bin", rest=123456) == payload[123456:], "REST + RETR")
    f.storbinary("STOR part.bin", io.BytesIO(payload[:1000]))
    f.storbinary("STOR part.bin", io.BytesIO(payload[1000:5000]), rest=1000)
    check(retr_bytes(f, "RETR part.bin") == payload[:5000], "REST + STOR resumes")
    f.storbinary("APPE part.bin", io.BytesIO(payload[5000:9000]))
    check(retr_bytes(f, "RETR part.bin") == payload[:9000], "APPE appends")
    expect_error("554", retr_bytes, f, "RETR part.bin", rest=10**6)
    expect_error("501", f.sendcmd, "REST -1")

    # STOU.
    conn = f.transfercmd("STOU")
    conn.sendall(b"unique")
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    conn.close()
    resp = f.voidresp()
    check(resp.startswith("226"), "STOU completes")
    unique = [n for n in f.nlst() if n.startswith("ftp.")]
    check(len(unique) == 1 and retr_bytes(f, "RETR " + unique[0]) == b"unique",
          "STOU stored under a unique name")

    # ASCII mode converts line endings both ways.
    f.voidcmd("TYPE A")
    raw_transfer(f, "STOR ascii.txt", b"line1\r\nline2\r\n")
    got = raw_transfer(f, "RETR ascii.txt")
    check(got == b"line1\r\nline2\r\n", "TYPE A RETR sends CRLF")
    f.voidcmd("TYPE I")
    check(retr_bytes(f, "RETR ascii.txt") == b"line1\nline2\n", "TYPE A STOR stored LF")

    # Times.
    check(f.sendcmd("MFMT 20200102030405 data.bin") == "213 Modify=20200102030405; data.bin",
          "MFMT")
    check(f.sendcmd("MDTM data.bin") == "213 20200102030405", "MDTM after MFMT")
    expect_error("501", f.sendcmd, "MFMT 20201302030405 data.bin")

    # Hashes.
    sha = hashlib.sha256(payload).hexdigest()
    r = f.sendcmd("HASH data.bin")
    check(r == "213 SHA-256 0-%d %s data.bin" % (len(payload), sha), "HASH SHA-256")
    check(f.sendcmd("OPTS HASH") == "200 SHA-256", "OPTS HASH shows the algorithm")
    check(f.sendcmd("OPTS HASH MD5") == "200 MD5", "OPTS HASH MD5")
    r = f.sendcmd("HASH data.bin")
    check(hashlib.md5(payload).hexdigest() in r and r.startswith("213 MD5"), "HASH MD5")
    f.sendcmd("OPTS HASH SHA-512")
    check(hashlib.sha512(payload).hexdigest() in f.sendcmd("HASH data.bin"), "HASH SHA-512")
    f.sendcmd("OPTS HASH SHA-1")
    check(hashlib.sha1(payload).hexdigest() in f.sendcmd("HASH data.bin"), "HASH SHA-1")
    expect_error("501", f.sendcmd, "OPTS HASH CRC32")
    check(f.sendcmd("XSHA256 data.bin") == "250 " + sha, "XSHA256")
    check(f.sendcmd("XSHA1 data.bin") == "250 " + hashlib.sha1(payload).hexdigest(), "XSHA1")
    check(f.sendcmd("XMD5 data.bin") == "250 " + hashlib.md5(payload).hexdigest(), "XMD5")
    expect_error("550", f.sendcmd, "HASH nothing-here")

    # SITE CHMOD.
    check(f.sendcmd("SITE CHMOD 600 data.bin").startswith("200"), "SITE CHMOD")
    check(dict(f.mlsd())["data.bin"]["unix.mode"] == "0600", "SITE CHMOD changed the mode")
    expect_error("501", f.sendcmd, "SITE CHMOD 999 data.bin")

    # Rename, delete, remove.
    f.rename("data.bin", "renamed.bin")
    check("renamed.bin" in f.nlst() and "data.bin" not in f.nlst(), "RNFR + RNTO")
    expect_error("503", f.sendcmd, "RNTO x")
    expect_error("550", f.sendcmd, "RNFR no-such-file")
    f.delete("renamed.bin")
    expect_error("550", f.delete, "renamed.bin")
    expect_error("550", f.rmd, "sub dir/..")  # the cwd itself is not empty
    f.rmd("sub dir")
    check("sub dir" not in f.nlst(), "RMD")

    # Active mode: PORT and EPRT (IPv4 control connection).
    f.set_pasv(False)
    check(retr_bytes(f, "RETR part.bin") == payload[:9000], "PORT (active) RETR")
    f.af = socket.AF_INET6 if f.sock.family == socket.AF_INET6 else socket.AF_INET
    lines = []
    f.sendport = f.sendeprt  # force EPRT
    f.retrlines("LIST", lines.append)
    check(any(l.endswith(" part.bin") for l in lines), "EPRT (active) LIST")
    f.set_pasv(True)
    check(f.sendcmd("EPSV").startswith("229"), "EPSV")
    f.sendcmd("ABOR")  # drops the prepared channel
    check(f.sendcmd("PASV").startswith("227"), "PASV")
    check(f.sendcmd("ABOR").startswith("225"), "ABOR with no transfer")

    # Clean up and QUIT.
    for n in f.nlst():
        f.delete(n)
    f.cwd("/")
    f.rmd(base)
    if tls:
        expect_error("534", f.sendcmd, "CCC")
        check(f.sendcmd("NOOP").startswith("200"), "control connection still encrypted")
    check(f.quit().startswith("221"), "QUIT")


def scenario_noreuse(args):
    f = connect(True, reuse=False)
    try:
        f.nlst()
    except ftplib.error_perm as e:
        check(str(e).startswith("522"), "data connection without TLS session reuse refused")
        f.quit()
        return
    except (ssl.SSLError, OSError, EOFError) as e:
        fail("unexpected error without reuse: %r" % e)
    fail("a data connection that did not resume the TLS session was accepted")


def scenario_anonymous(args):
    f = ftplib.FTP(timeout=30)
    f.connect(HOST, PORT)
    check(f.login("anonymous", "guest@example.org").startswith("230"), "anonymous login")
    names = f.nlst()
    check("readme.txt" in names, "anonymous sees the anonymous root: %r" % names)
    check(retr_bytes(f, "RETR readme.txt") == b"public\n", "anonymous RETR")
    expect_error("550", f.storbinary, "STOR x.txt", io.BytesIO(b"x"))
    expect_error("550", f.storbinary, "APPE readme.txt", io.BytesIO(b"x"))
    expect_error("550", f.sendcmd, "STOU")
    expect_error("550", f.delete, "readme.txt")
    expect_error("550", f.mkd, "newdir")
    expect_error("550", f.rmd, "sub")
    expect_error("550", f.sendcmd, "RNFR readme.txt")
    expect_error("550", f.sendcmd, "SITE CHMOD 777 readme.txt")
    expect_error("550", f.sendcmd, "MFMT 20200101000000 readme.txt")
    check(dict(f.mlsd())["readme.txt"]["perm"] == "r", "MLSD perm of a read-only file is r")
    f.cwd("..")
    check(f.pwd() == "/", "anonymous cannot go above its root")
    f.quit()


def raw_session(login=True):
    s = socket.create_connection((HOST, PORT), timeout=30)
    r = s.makefile("rb")

    def reply():
        line = r.readline()
        if not line:
            return None
        text = line.decode("utf-8", "replace")
        if len(text) > 3 and text[3] == "-":
            code = text[:3]
            while True:
                line = r.readline()
                if not line:
                    return None
                more = line.decode("utf-8", "replace")
                text += more
                if more.startswith(code + " "):
                    break
        return text

    def cmd(raw):
        s.sendall(raw)
        return reply()

    greeting = reply()
    if not greeting or not greeting.startswith("220"):
        fail("no greeting: %r" % greeting)
    if login:
        cmd(b"USER " + USER.encode() + b"\r\n")
        resp = cmd(b"PASS " + PASS.encode() + b"\r\n")
        if not resp.startswith("230"):
            fail("raw login: %r" % resp)
    return s, cmd, reply


def scenario_hostile(args):
    # Commands before login.
    s, cmd, reply = raw_session(login=False)
    for c in (b"RETR /etc/passwd", b"LIST", b"STOR x", b"CWD /", b"PASV", b"PORT 127,0,0,1,4,1",
              b"DELE x", b"MKD x", b"SIZE x", b"MLSD", b"HASH x"):
        resp = cmd(c + b"\r\n")
        check(resp.startswith("530"), "%s before login -> 530" % c.decode())
    resp = cmd(b"PASS nouser\r\n")
    check(resp.startswith("503"), "PASS before USER -> 503")
    check(cmd(b"NOOP\r\n").startswith("200"), "NOOP works before login")
    s.close()

    s, cmd, reply = raw_session()
    # Paths escaping the root stay inside it.
    for p in (b"../../../../etc", b"/../..", b"..", b"/./../../etc/.."):
        resp = cmd(b"CWD " + p + b"\r\n")
        pwd = cmd(b"PWD\r\n")
        check(resp.startswith("250") or resp.startswith("550"), "CWD %s handled" % p.decode())
        check(pwd.startswith('257 "/'), "PWD stays inside the root after CWD %s" % p.decode())
        cmd(b"CWD /\r\n")
    resp = cmd(b"SIZE ../../../../etc/passwd\r\n")
    check(resp.startswith("550"), "SIZE of ../../etc/passwd refused: " + resp.strip())
    resp = cmd(b"MLST /../../../etc/passwd\r\n")
    check(resp.startswith("550"), "MLST of /../../etc/passwd refused")
    resp = cmd(b"RNFR .ferry~x\r\n")
    check(resp.startswith("553") or resp.startswith("550"), "partial names unreachable")

    # CRLF and NUL injection.
    resp = cmd(b"MKD a\x00b\r\n")
    check(resp.startswith("500"), "NUL inside an argument -> 500")
    resp = cmd(b"MKD a\rDELE b\r\n")
    check(resp.startswith("500"), "CR inside an argument -> 500")
    resp = cmd(b"MKD inj\nDELE inj2\r\n")
    check(resp.startswith("257") or resp.startswith("550"), "LF ends the first command")
    resp = reply()
    check(resp.startswith("550"), "the injected second line is its own command: " + resp.strip())
    cmd(b"RMD inj\r\n")
    resp = cmd(b"MKD x\x01y\r\n")
    check(resp.startswith("553"), "control characters in names -> 553")

    # FTP bounce: PORT/EPRT to another host or a privileged port.
    for c in (b"PORT 10,1,2,3,4,1", b"PORT 127,0,0,1,0,21", b"EPRT |1|10.9.8.7|2000|",
              b"EPRT |1|127.0.0.1|80|", b"PORT 127,0,0,2,19,137", b"EPRT |2|::1|5000|"):
        resp = cmd(c + b"\r\n")
        check(resp.startswith("501"), "%s refused: %s" % (c.decode(), resp.strip()))
    resp = cmd(b"EPRT |9|1.2.3.4|5000|\r\n")
    check(resp.startswith("522"), "EPRT with an unknown protocol -> 522")
    resp = cmd(b"PORT 1,2,3\r\n")
    check(resp.startswith("501"), "malformed PORT -> 501")

    # A 10,000-byte command line.
    resp = cmd(b"STOR " + b"x" * 10000 + b"\r\n")
    check(resp.startswith("500"), "10,000-byte line -> 500")
    check(cmd(b"NOOP\r\n").startswith("200"), "session survives the long line")
    resp = cmd(b"CWD " + b"y" * 4000 + b"\r\n")
    check(resp[:3] in ("550", "553"), "4000-byte name refused cleanly")

    # Binary garbage: every line gets a reply, the session survives or closes cleanly.
    garbage = bytes(range(256)) * 4
    s.sendall(garbage.replace(b"\n", b"") + b"\r\n")
    resp = reply()
    check(resp is not None and resp[:3] in ("500", "501", "502"), "garbage line -> 5xx")
    check(cmd(b"NOOP\r\n").startswith("200"), "session survives garbage")
    alive = False
    last = ""
    s.settimeout(10)
    try:
        s.sendall(os.urandom(20000) + b"\r\nNOOP\r\n")
        while True:
            r = reply()
            if r is None:
                break
            if r.startswith("200"):
                alive = True
                break
            if not r[:1] in ("4", "5"):
                fail("unexpected reply to garbage: %r" % r)
            last = r
    except (socket.timeout, ConnectionError) as e:
        fail("random garbage: the session neither survived nor closed cleanly: %r" % e)
    check(alive or last.startswith("421"),
          "random garbage: session %s" % ("survived" if alive else "closed with 421"))
    s.close()

    # Unknown commands and missing arguments.
    s, cmd, reply = raw_session()
    check(cmd(b"FOO bar\r\n").startswith("500"), "unknown command -> 500")
    check(cmd(b"RETR\r\n").startswith("501"), "RETR without argument -> 501")
    check(cmd(b"RETR nosuchfile\r\n").startswith("550"), "RETR missing file -> 550")
    check(cmd(b"REIN\r\n").startswith("220"), "REIN -> 220")
    check(cmd(b"RETR nosuchfile\r\n").startswith("530"), "REIN ended the login -> 530")
    check(cmd(b"QUIT\r\n").startswith("221"), "QUIT")
    s.close()

    # The server is still healthy.
    f = connect()
    f.nlst()
    f.quit()
    check(True, "server healthy after hostile input")


def scenario_big(args):
    name, size = args[0], int(args[1])
    f = connect()
    check(f.size(name) == size, "SIZE of the big file is %d" % size)
    lines = []
    f.retrlines("LIST", lines.append)
    check(any(str(size) in l and l.endswith(" " + name) for l in lines), "LIST shows %d" % size)
    facts = dict(f.mlsd())
    check(int(facts[name]["size"]) == size, "MLSD size=%d" % size)
    off = size - 1000
    conn = f.transfercmd("RETR " + name, rest=off)
    got = b""
    while True:
        b = conn.recv(65536)
        if not b:
            break
        got += b
    conn.close()
    f.voidresp()
    check(len(got) == 1000 and got[-7:] == b"THE-END", "REST %d + RETR gives the last bytes" % off)
    # Resume an upload above 4 GiB: REST + STOR at the end continues the file in place.
    f.storbinary("STOR " + name, io.BytesIO(b"APPENDED"), rest=size)
    check(f.size(name) == size + 8, "REST %d + STOR extends the file" % size)
    check(retr_bytes(f, "RETR " + name, rest=size - 7) == b"THE-ENDAPPENDED",
          "bytes written above 4 GiB read back")
    f.storbinary("APPE " + name, io.BytesIO(b"!"))
    check(f.size(name) == size + 9, "APPE above 4 GiB")
    f.quit()


def scenario_resume_stor(args):
    name, local = args[0], args[1]
    data = open(local, "rb").read()
    f = connect()
    have = f.size(name)
    check(0 < have < len(data), "SIZE reports the partial upload (%d of %d)" % (have, len(data)))
    f.storbinary("STOR " + name, io.BytesIO(data[have:]), rest=have)
    check(f.size(name) == len(data), "REST + STOR completed the upload")
    f.quit()


def scenario_abort(args):
    name = args[0]
    f = connect()
    conn = f.transfercmd("RETR " + name)
    conn.recv(1000)
    # Do not read the rest: the server is blocked writing when ABOR arrives.
    f.sock.sendall(b"ABOR\r\n", socket.MSG_OOB)
    r1 = f.getline()
    r2 = f.getline()
    conn.close()
    check(r1.startswith("426"), "transfer reply after ABOR is 426: " + r1)
    check(r2.startswith("226"), "ABOR reply is 226: " + r2)
    check(f.sendcmd("NOOP").startswith("200"), "session usable after ABOR")
    f.quit()


def scenario_encoding(args):
    charset = args[0]
    f = ftplib.FTP(timeout=30, encoding=charset)
    f.connect(HOST, PORT)
    f.login(USER, PASS)
    names = f.nlst()
    check("中文.txt" in names, "GBK client sees the Chinese name: %r" % names)
    check(retr_bytes(f, "RETR 中文.txt") == b"zh\n", "GBK client RETRs by the converted name")
    f.storbinary("STOR 上传.txt", io.BytesIO(b"up\n"))
    check("上传.txt" in f.nlst(), "GBK client uploads a Chinese name")
    esc = [n for n in names if "%" in n]
    check(esc == ["emoji-%F0%9F%98%80.txt"], "unrepresentable name escaped: %r" % esc)
    check(retr_bytes(f, "RETR " + esc[0]) == b"smile\n", "escaped name still reachable")
    check("cyr-Привет.txt" in names, "Cyrillic (in GBK) converted")
    f.quit()
    # A client that says OPTS UTF8 ON gets UTF-8 names.
    f = ftplib.FTP(timeout=30, encoding="utf-8")
    f.connect(HOST, PORT)
    f.login(USER, PASS)
    f.sendcmd("OPTS UTF8 ON")
    names = f.nlst()
    check("中文.txt" in names and "上传.txt" in names and "emoji-😀.txt" in names,
          "UTF-8 client sees UTF-8 names")
    f.quit()


def scenario_rein(args):
    tls = args[:1] == ["tls"]
    # Before any login REIN only resets: a login afterwards works.
    f = ReuseFTP_TLS(context=tls_context(), timeout=30) if tls else ftplib.FTP(timeout=30)
    f.connect(HOST, PORT)
    if tls:
        f.auth()
    f.sendcmd("TYPE A")
    check(f.sendcmd("REIN").startswith("220"), "REIN before login -> 220")
    check(f.login(USER, PASS).startswith("230"), "login after a REIN before login")
    if tls:
        f.prot_p()
    f.sendcmd("OPTS UTF8 ON")
    f.sendcmd("OPTS HASH MD5")
    f.sendcmd("REST 100")
    check(len(f.nlst()) >= 0, "listing before REIN")
    # After a login: the login ends, the connection (and its TLS) stays.
    check(f.sendcmd("REIN").startswith("220"), "REIN after login -> 220")
    st = "\n".join(stat_lines(f))  # before nlst: ftplib sends TYPE A for it
    check("TYPE: BINARY" in st and "(not logged in)" in st,
          "STAT after REIN: defaults, logged out: %r" % st)
    expect_error("530", f.sendcmd, "PWD")
    expect_error("530", f.nlst)
    check(f.sendcmd("OPTS HASH") == "200 SHA-256", "REIN reset OPTS HASH")
    if tls:
        check(isinstance(f.sock, ssl.SSLSocket), "control connection still TLS after REIN")
        check("Control connection: TLS" in "\n".join(stat_lines(f)), "STAT: control still TLS")
    check(f.sendcmd("NOOP").startswith("200"), "connection usable after REIN")
    # A new login needs a new connection (one login per session process).
    expect_error("421", f.sendcmd, "USER " + USER)
    f.close()
    g = connect(tls)
    check(g.pwd() == "/", "a new connection logs in again")
    g.quit()


def stat_lines(f):
    f.putcmd("STAT")
    return f.getmultiline().splitlines()


def scenario_hash_range(args):
    name = args[0]
    f = connect()
    data = retr_bytes(f, "RETR " + name)
    n = len(data)
    sha = hashlib.sha256
    check(f.sendcmd("RANG 0 49") == "350 Restarting at 0. Ending at 49.", "RANG 0 49")
    r = f.sendcmd("HASH " + name)
    check(r == "213 SHA-256 0-49 %s %s" % (sha(data[:50]).hexdigest(), name),
          "HASH of bytes 0-49 (end inclusive): " + r)
    # The range is used once: the next HASH covers the whole file.
    r = f.sendcmd("HASH " + name)
    check(r == "213 SHA-256 0-%d %s %s" % (n, sha(data).hexdigest(), name), "HASH whole file again")
    f.sendcmd("OPTS HASH MD5")
    f.sendcmd("RANG %d %d" % (n - 10, n + 1000))
    r = f.sendcmd("HASH " + name)
    check(r == "213 MD5 %d-%d %s %s" % (n - 10, n - 1, hashlib.md5(data[-10:]).hexdigest(), name),
          "RANG past the end is clipped: " + r)
    f.sendcmd("OPTS HASH SHA-256")
    f.sendcmd("RANG 5 5")
    check(sha(data[5:6]).hexdigest() in f.sendcmd("HASH " + name), "RANG of one byte")
    check(f.sendcmd("RANG 1 0").startswith("350"), "RANG 1 0 resets")
    check(sha(data).hexdigest() in f.sendcmd("HASH " + name), "after the reset: whole file")
    expect_error("501", f.sendcmd, "RANG 9 3")
    expect_error("501", f.sendcmd, "RANG x y")
    f.sendcmd("RANG %d %d" % (n + 5, n + 9))
    expect_error("556", f.sendcmd, "HASH " + name)
    # A transfer after RANG is refused, not silently sent whole.
    f.sendcmd("RANG 0 9")
    expect_error("504", retr_bytes, f, "RETR " + name)
    check(retr_bytes(f, "RETR " + name) == data, "RETR works again after the refused one")
    feat = f.sendcmd("FEAT")
    check("RANG STREAM" in feat, "FEAT lists RANG STREAM")
    f.quit()


def scenario_extras(args):
    f = connect()
    check(f.sendcmd("XMKD xdir").startswith("257"), "XMKD")
    check(f.sendcmd("XCWD xdir").startswith("250"), "XCWD")
    check(f.sendcmd("XPWD").startswith('257 "/xdir"'), "XPWD")
    check(f.sendcmd("XCUP").startswith("250") and f.pwd() == "/", "XCUP")
    check(f.sendcmd("XRMD xdir").startswith("250"), "XRMD")
    check("xdir" not in f.nlst(), "XRMD removed it")
    f.storbinary("STOR x.bin", io.BytesIO(b"x" * 1000))
    check(f.sendcmd("XSHA512 x.bin") == "250 " + hashlib.sha512(b"x" * 1000).hexdigest(), "XSHA512")
    check(f.sendcmd("SMNT /elsewhere").startswith("202"), "SMNT is superfluous (202)")
    check(f.sendcmd("CLNT test-client 1.0").startswith("200"), "CLNT")
    check(f.sendcmd("EPSV ALL").startswith("200"), "EPSV ALL")
    expect_error("503", f.sendcmd, "PASV")
    expect_error("503", f.sendcmd, "PORT 127,0,0,1,200,10")
    f.af = socket.AF_INET6  # ftplib sends EPSV instead of PASV
    check(retr_bytes(f, "RETR x.bin") == b"x" * 1000, "EPSV still works after EPSV ALL")
    f.delete("x.bin")
    f.quit()


def scenario_encoding_user(args):
    charset, names = args[0], args[1:]
    f = ftplib.FTP(timeout=30, encoding=charset)
    f.connect(HOST, PORT)
    f.login(USER, PASS)
    listed = f.nlst()
    for n in names:
        check(n in listed, "%s client sees %r: %r" % (charset, n, listed))
    esc = [n for n in listed if "%" in n]
    check(len(esc) > 0, "unrepresentable names escaped: %r" % esc)
    for n in esc:
        check(len(retr_bytes(f, "RETR " + n)) > 0, "escaped name %r still reachable" % n)
    up = names[0].replace(".", "-up.", 1)
    f.storbinary("STOR " + up, io.BytesIO(b"up\n"))
    check(up in f.nlst(), "%s client uploads %r" % (charset, up))
    f.quit()


def scenario_plaintext_refused(args):
    f = ftplib.FTP(timeout=30)
    f.connect(HOST, PORT)
    expect_error("530", f.login, USER, PASS)
    f.close()
    f = ReuseFTP_TLS(context=tls_context(), timeout=30)
    f.connect(HOST, PORT)
    f.auth()
    check(f.login(USER, PASS).startswith("230"), "the same login works after AUTH TLS")
    f.prot_p()
    f.nlst()
    f.quit()


def scenario_pasv_guard(args):
    lo, hi = int(args[0]), int(args[1])
    f = connect()
    f.storbinary("STOR guard.txt", io.BytesIO(b"guarded\n"))
    for _ in range(5):
        resp = f.sendcmd("PASV")
        nums = resp[resp.index("(") + 1:resp.index(")")].split(",")
        port = int(nums[4]) * 256 + int(nums[5])
        check(lo <= port <= hi, "PASV port %d within %d-%d" % (port, lo, hi))
        resp = f.sendcmd("EPSV")
        port = int(resp.split("|")[3])
        check(lo <= port <= hi, "EPSV port %d within %d-%d" % (port, lo, hi))
    # An intruder from another address connects to the passive port first.
    resp = f.sendcmd("EPSV")
    port = int(resp.split("|")[3])
    intruder = socket.socket()
    intruder.bind(("127.0.0.2", 0))
    intruder.settimeout(10)
    intruder.connect(("127.0.0.1", port))
    f.sock.sendall(b"RETR guard.txt\r\n")
    time.sleep(0.3)
    try:
        got = intruder.recv(100)
    except ConnectionError:
        got = b""
    check(got == b"", "connection from another address gets no data")
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    check(f.getresp().startswith("150"), "the client's own data connection is served")
    data = b""
    while True:
        b = conn.recv(100)
        if not b:
            break
        data += b
    conn.close()
    check(f.voidresp().startswith("226") and data == b"guarded\n", "transfer after the intruder")
    intruder.close()
    f.delete("guard.txt")
    f.quit()


def scenario_timeouts(args):
    # Login timeout: connect and say nothing.
    s = socket.create_connection((HOST, PORT), timeout=20)
    r = s.makefile("rb")
    check(r.readline().startswith(b"220"), "greeting")
    t0 = time.time()
    line = r.readline()
    check(line.startswith(b"421") and 1 <= time.time() - t0 < 10, "login timeout -> 421")
    check(r.readline() == b"", "connection closed after the login timeout")
    s.close()
    # A client that never logs in does not stop others: one is silent, others work.
    silent = socket.create_connection((HOST, PORT), timeout=20)
    f = connect()
    f.nlst()
    check(True, "another client served while one is silent")
    # Idle timeout after login.
    t0 = time.time()
    try:
        time.sleep(3.5)
        f.sendcmd("NOOP")
        fail("idle session not closed")
    except (ftplib.error_temp, EOFError, ConnectionError) as e:
        check(str(e).startswith("421") or isinstance(e, (EOFError, ConnectionError)),
              "idle timeout closes the session: %s" % e)
    silent.close()
    # Data timeout: PASV, then RETR without connecting.
    f = connect()
    f.storbinary("STOR t.txt", io.BytesIO(b"t"))
    f.sendcmd("PASV")
    t0 = time.time()
    f.putcmd("RETR t.txt")
    resp = f.getline()
    check(resp.startswith("425") and time.time() - t0 < 10, "data timeout -> 425: " + resp)
    check(f.sendcmd("NOOP").startswith("200"), "session survives the data timeout")
    f.delete("t.txt")
    f.quit()
    # Max failed logins: the third wrong password ends the session.
    f = ftplib.FTP(timeout=30)
    f.connect(HOST, PORT)
    codes = []
    for _ in range(3):
        try:
            f.login(USER, "wrong-password")
        except ftplib.all_errors as e:
            codes.append(str(e)[:3])
    check(codes == ["530", "530", "421"], "failed logins: %r" % codes)
    try:
        f.sendcmd("NOOP")
        fail("session open after max failed logins")
    except ftplib.all_errors + (EOFError, ConnectionError):
        check(True, "connection closed after max failed logins")


def main():
    global HOST, PORT, USER, PASS
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    scenario = sys.argv[1]
    HOST, PORT, USER, PASS = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    fn = globals().get("scenario_" + scenario.replace("-", "_"))
    if not fn:
        print("unknown scenario " + scenario, file=sys.stderr)
        sys.exit(2)
    fn(sys.argv[6:])
    print("PASS: " + scenario)


if __name__ == "__main__":
    main()
