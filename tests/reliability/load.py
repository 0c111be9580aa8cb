#!/usr/bin/python3
"""Load against a running `ferry serve` (driven by r_load.sh).

  load.py IDLE TRANSFERS PER_ADDR FILE

Opens IDLE logged-in idle sessions spread over FTP, SFTP and WebDAV, from several
loopback source addresses (127.0.0.2, ...), no more than PER_ADDR - 10 from any one; while
they are held, checks that a new login completes within 1 s, that the per-address limit
refuses the connection beyond PER_ADDR, and runs TRANSFERS simultaneous downloads of FILE
(a third per protocol), each compared by hash. Prints RSS (sum and per session, plus PSS,
which counts pages shared after fork once) and CPU of the parent and the sessions.
During the login storm of the transfers it reports each storm login's latency (median,
95th percentile, max) and times two probe logins from another address: one with a cached
credential and one first login of another user (a full password hash, queued round-robin
per address in the parent's worker pool); both must complete within 1 s.
Environment: FTP_PORT SFTP_PORT HTTPS_PORT FERRY_PID LUSER LPASS PUSER PPASS.
"""
import base64
import hashlib
import os
import socket
import ssl
import sys
import threading
import time

import paramiko

E = os.environ
HZ = os.sysconf("SC_CLK_TCK")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
AUTH = base64.b64encode(("%s:%s" % (E["LUSER"], E["LPASS"])).encode()).decode()


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def tcp(port, src, timeout=60):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def line(f):
    while True:
        ln = f.readline()
        if not ln:
            raise EOFError("closed")
        if ln[3:4] != b"-":
            return ln


def ftp_login(src, user=None, password=None):
    s = tcp(int(E["FTP_PORT"]), src)
    f = s.makefile("rb")
    if not line(f).startswith(b"220"):
        raise OSError("no 220")
    s.sendall(b"USER %s\r\n" % (user or E["LUSER"]).encode())
    line(f)
    s.sendall(b"PASS %s\r\n" % (password or E["LPASS"]).encode())
    r = line(f)
    if not r.startswith(b"230"):
        raise OSError(r)
    return (s, f)


def sftp_login(src):
    sock = tcp(int(E["SFTP_PORT"]), src)
    t = paramiko.Transport(sock)
    t.connect(username=E["LUSER"], password=E["LPASS"])
    c = paramiko.SFTPClient.from_transport(t)
    c.stat(".")
    return (t, c)


def dav_get(s, path, keep=True):
    s.sendall(("GET /%s HTTP/1.1\r\nHost: h\r\nAuthorization: Basic %s\r\n%s\r\n" %
               (path, AUTH, "" if keep else "Connection: close\r\n")).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            raise EOFError("closed")
        head += d
    h, _, body = head.partition(b"\r\n\r\n")
    n = 0
    for ln in h.split(b"\r\n"):
        if ln.lower().startswith(b"content-length:"):
            n = int(ln.split(b":")[1])
    sha = hashlib.sha256(body)
    got = len(body)
    while got < n:
        d = s.recv(min(262144, n - got))
        if not d:
            raise EOFError("short body")
        sha.update(d)
        got += len(d)
    return int(h.split()[1]), sha.hexdigest()


def dav_login(src):
    s = ctx.wrap_socket(tcp(int(E["HTTPS_PORT"]), src), server_hostname="localhost")
    code, _ = dav_get(s, "small.txt")
    if code != 200:
        raise OSError("HTTP %d" % code)
    return (s,)


LOGIN = {"ftp": ftp_login, "sftp": sftp_login, "webdav": dav_login}


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[1]), (int(st[11]) + int(st[12])) / HZ  # ppid, cpu seconds


def machine_cpu():
    """CPU seconds (user + nice + system) of the whole machine so far."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:4]
    return sum(int(x) for x in v) / HZ


def mem(pid):
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            if ln.startswith("Rss:"):
                rss = int(ln.split()[1])
            elif ln.startswith("Pss:"):
                pss = int(ln.split()[1])
    return rss, pss


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if proc_stat(int(d))[0] == ppid:
                    out.append(int(d))
            except (OSError, IndexError):
                pass
    return out


def timed_login(proto, first=False):
    """A new login from a separate process (this one is busy with hundreds of threads), timed
    from connect to logged in. first: as PUSER, whose password the parent has not verified
    yet (a full hash rather than the credential cache)."""
    import subprocess
    r = subprocess.run([sys.executable, __file__, "--probe", proto] + (["first"] if first else []),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("probe login over %s: %s" % (proto, r.stderr[-300:]))
    return float(r.stdout)


def probe(proto, first=False):
    t0 = time.monotonic()
    if first:
        h = ftp_login("127.0.0.1", E["PUSER"], E["PPASS"])
    else:
        h = LOGIN[proto]("127.0.0.1")
    print("%.4f" % (time.monotonic() - t0))
    h[0].close()


def main():
    if sys.argv[1] == "--probe":
        return probe(sys.argv[2], len(sys.argv) > 3)
    idle, transfers, per_addr, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with open(path, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    name = os.path.basename(path)
    parent = int(E["FERRY_PID"])
    per_src = per_addr - 10
    srcs = ["127.0.0.%d" % (2 + i) for i in range((idle + per_src - 1) // per_src)]
    cpu0 = proc_stat(parent)[1]
    mcpu0 = machine_cpu()
    t0 = time.monotonic()
    held, errors, lock = [], [], threading.Lock()
    counts = {"ftp": 0, "sftp": 0, "webdav": 0}

    def opener(jobs):
        for proto, src in jobs:
            try:
                h = LOGIN[proto](src)
                with lock:
                    held.append(h)
                    counts[proto] += 1
            except Exception as e:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append("%s from %s: %r" % (proto, src, e))

    jobs = [(("ftp", "sftp", "webdav")[i % 3], srcs[i // per_src]) for i in range(idle)]
    nthreads = 16
    ths = [threading.Thread(target=opener, args=(jobs[i::nthreads],)) for i in range(nthreads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    t_open = time.monotonic() - t0
    if errors:
        fail("%d of %d idle sessions failed, first: %s" % (len(errors), idle, errors[:3]))
    sess = children(parent)
    print("idle: %d sessions logged in (ftp %d, sftp %d, webdav %d) from %d addresses in %.1f s; "
          "%d session processes" % (len(held), counts["ftp"], counts["sftp"], counts["webdav"],
                                    len(srcs), t_open, len(sess)))
    if len(sess) < idle:
        fail("only %d session processes for %d sessions" % (len(sess), idle))
    rss = pss = 0
    for p in sess:
        try:
            r, q = mem(p)
        except OSError:
            continue
        rss += r
        pss += q
    prss, ppss = mem(parent)
    print("memory with %d idle sessions: sessions RSS sum %.0f MiB (%.1f MiB each), PSS sum %.0f "
          "MiB (%.2f MiB each); parent RSS %.1f MiB" %
          (len(sess), rss / 1024, rss / 1024 / len(sess), pss / 1024, pss / 1024 / len(sess),
           prss / 1024))
    print("CPU while opening them: parent %.1f s (it checks every password); the whole machine "
          "%.1f s, clients included (%.0f ms per session)" %
          (proc_stat(parent)[1] - cpu0, machine_cpu() - mcpu0,
           1000 * (machine_cpu() - mcpu0) / len(sess)))

    # The parent stays responsive: new logins while everything is held.
    worst = 0.0
    for proto in ("ftp", "sftp", "webdav") * 3:
        worst = max(worst, timed_login(proto))
    print("new login with %d sessions held: worst of 9 (3 per protocol) %.3f s" % (len(held), worst))
    if worst > 1.0:
        fail("a new login took %.3f s (> 1 s)" % worst)

    # The per-address limit: the source that holds per_src sessions gets 10 more, then the
    # next one is refused (FTP says 421; the others are closed).
    extra = [ftp_login(srcs[0]) for _ in range(per_addr - per_src)]
    try:
        s = tcp(int(E["FTP_PORT"]), srcs[0], 10)
        r = s.makefile("rb").readline()
        s.close()
    except OSError as e:
        r = str(e).encode()
    if not r.startswith(b"421"):
        fail("connection %d from %s was not refused: %r" % (per_addr + 1, srcs[0], r))
    print("per-address limit %d: connection %d from %s refused with %s" %
          (per_addr, per_addr + 1, srcs[0], r.strip().decode(errors="replace")))
    for h in extra:
        h[0].close()
    time.sleep(0.5)

    # Simultaneous transfers, while the idle sessions stay.
    results = []
    login_lat = []  # seconds from connect to logged in, per storm login

    def timed(fn, src):
        t = time.monotonic()
        h = fn(src)
        with lock:
            login_lat.append(time.monotonic() - t)
        return h

    # Each transfer logs in first and waits at a barrier, so the downloads run together;
    # a login probe is timed twice: during the login storm (the parent checks every
    # password itself) and during the downloads.
    barrier = threading.Barrier(transfers + 1, timeout=600)

    def ftp_dl(src):
        s, f = timed(ftp_login, src)
        s.sendall(b"TYPE I\r\n")
        line(f)
        s.sendall(b"PASV\r\n")
        r = line(f).decode()
        nums = r[r.index("(") + 1:r.index(")")].split(",")
        d = tcp(int(nums[4]) * 256 + int(nums[5]), src)
        barrier.wait()
        s.sendall(b"RETR %s\r\n" % name.encode())
        line(f)
        sha = hashlib.sha256()
        while True:
            b = d.recv(262144)
            if not b:
                break
            sha.update(b)
        d.close()
        line(f)
        s.close()
        return sha.hexdigest()

    def sftp_dl(src):
        t, c = timed(sftp_login, src)
        sha = hashlib.sha256()
        f = c.open(name, "rb")
        barrier.wait()
        f.prefetch()
        while True:
            b = f.read(262144)
            if not b:
                break
            sha.update(b)
        f.close()
        t.close()
        return sha.hexdigest()

    def dav_dl(src):
        s = timed(dav_login, src)[0]
        barrier.wait()
        code, h = dav_get(s, name, keep=False)
        s.close()
        return h

    def worker(proto, src):
        try:
            h = {"ftp": ftp_dl, "sftp": sftp_dl, "webdav": dav_dl}[proto](src)
            with lock:
                results.append((proto, h == want))
        except Exception as e:  # noqa: BLE001 - counted and reported
            barrier.abort()
            with lock:
                results.append((proto, False))
                errors.append("%s transfer: %r" % (proto, e))

    tsrc = ["127.0.1.%d" % (1 + i) for i in range((transfers + per_src - 1) // per_src)]
    ts = [threading.Thread(target=worker, args=(("ftp", "sftp", "webdav")[i % 3], tsrc[i // per_src]))
          for i in range(transfers)]
    t0 = time.monotonic()
    cpu0 = proc_stat(parent)[1]
    for t in ts:
        t.start()
    time.sleep(0.3)
    storm = timed_login("ftp")
    storm_first = timed_login("ftp", first=True)
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    t_login = time.monotonic() - t0
    cpu_login = proc_stat(parent)[1] - cpu0
    t0 = time.monotonic()
    cpu0 = proc_stat(parent)[1]
    time.sleep(0.3)
    during = timed_login("ftp")
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    lat = sorted(login_lat) or [0.0]
    print("login storm: %d simultaneous logins took %.1f s (parent CPU %.1f s); login latency "
          "median %.3f s, p95 %.3f s, max %.3f s; a new FTP login from another address during "
          "the storm took %.3f s (cached credential) and %.3f s (first login, full hash)"
          % (transfers, t_login, cpu_login, lat[len(lat) // 2], lat[int(len(lat) * 0.95)],
             lat[-1], storm, storm_first))
    if storm > 1.0 or storm_first > 1.0:
        fail("a login from another address waited behind the storm: %.3f s / %.3f s"
             % (storm, storm_first))
    ok = sum(1 for _, good in results if good)
    size = os.path.getsize(path)
    print("transfers: %d simultaneous downloads of %.1f MiB (ftp/sftp/webdav): %d identical in "
          "%.1f s, %.0f MiB/s aggregate; a new FTP login during them took %.3f s; parent CPU %.1f s"
          % (transfers, size / 2**20, ok, dt, ok * size / 2**20 / dt, during,
             proc_stat(parent)[1] - cpu0))
    if ok != transfers:
        fail("%d of %d transfers failed: %s" % (transfers - ok, transfers, errors[:3]))
    if during > 1.0:
        fail("a new login during the transfers took %.3f s" % during)
    for h in held:
        h[0].close()


if __name__ == "__main__":
    main()
