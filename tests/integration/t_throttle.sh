#!/bin/bash
# Brute-force throttling, measured: failed logins from one address are answered ever more
# slowly (250 ms doubling after two free failures, per address), a correct password from
# that address is refused while a delay is pending (throttled, audited), other addresses
# are not affected, a session is cut after max_login_fails, and every failure is an audit
# record with the remote address. Over FTP, SFTP and WebDAV.
. tests/integration/lib.sh
PY=/usr/bin/python3
ferry_start --set ftp_allow_plaintext=yes --set max_login_fails=3
ferry_user_add tina 'tina-pw-5'
export FTP_PORT SFTP_PORT HTTPS_PORT
$PY - <<'PYEOF' || fail "throttling"
import base64, ftplib, os, socket, ssl, sys, threading, time
import paramiko
P = int(os.environ["FTP_PORT"])

def ftp(src, pw, user="tina"):
    s = socket.socket(); s.bind((src, 0)); s.settimeout(60); s.connect(("127.0.0.1", P))
    f = s.makefile("rb")
    def rd():
        while True:
            l = f.readline()
            if l[3:4] != b"-":
                return l
    rd()
    t0 = time.monotonic()
    s.sendall(b"USER %s\r\n" % user.encode()); rd()
    s.sendall(b"PASS %s\r\n" % pw.encode()); r = rd()
    dt = time.monotonic() - t0
    s.close()
    return r[:3].decode(), dt

# 1. Sequential failures from one address: delays grow.
times = []
for i in range(6):
    code, dt = ftp("127.0.0.3", "wrong%d" % i)
    assert code == "530", code
    times.append(dt)
print("ftp: 6 failed logins from 127.0.0.3 took " + ", ".join("%.2f" % t for t in times) + " s")
assert min(times) >= 0.25, "a failure answered in under 250 ms: %r" % times
assert times[5] >= 1.5 and times[5] > times[3] > times[1] - 0.1, "no growing delay: %r" % times

# 2. While a failure's delay is pending, the right password from that address is refused
#    at once (throttled); from another address it works at once.
th = threading.Thread(target=ftp, args=("127.0.0.3", "wrong-again"))
th.start()
time.sleep(0.6)
code, dt = ftp("127.0.0.3", "tina-pw-5")
print("ftp: correct password from the throttled address during the delay: %s after %.2f s" % (code, dt))
assert code in ("530", "421"), code  # refused; 421 ends the session
code, dt = ftp("127.0.0.4", "tina-pw-5")
print("ftp: correct password from another address: %s after %.2f s" % (code, dt))
assert code == "230" and dt < 1.0, (code, dt)
th.join()

# 3. max_login_fails=3: the third failure on one connection ends the session.
s = socket.socket(); s.bind(("127.0.0.5", 0)); s.settimeout(30); s.connect(("127.0.0.1", P))
f = s.makefile("rb"); f.readline()
replies = []
for i in range(4):
    try:
        s.sendall(b"USER tina\r\n"); f.readline()
        s.sendall(b"PASS bad\r\n"); replies.append(f.readline()[:3])
    except OSError:
        replies.append(b"EOF")
    if replies[-1] in (b"", b"EOF", b"421"):
        break
print("ftp: one session, failures until cut: %r" % replies)
assert len(replies) <= 4 and replies[-1] in (b"", b"EOF", b"421"), replies

# 4. SFTP and WebDAV failures are delayed too.
sock = socket.socket(); sock.bind(("127.0.0.6", 0)); sock.connect(("127.0.0.1", int(os.environ["SFTP_PORT"])))
t = paramiko.Transport(sock); t.start_client(timeout=30)
t0 = time.monotonic()
try:
    t.auth_password("tina", "wrong")
    sys.exit("sftp: wrong password accepted")
except paramiko.AuthenticationException:
    pass
dt = time.monotonic() - t0
t.close()
print("sftp: a failed password took %.2f s" % dt)
assert dt >= 0.25, dt
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
raw = socket.socket(); raw.bind(("127.0.0.7", 0)); raw.connect(("127.0.0.1", int(os.environ["HTTPS_PORT"])))
s = ctx.wrap_socket(raw, server_hostname="localhost")
t0 = time.monotonic()
s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nAuthorization: Basic " +
          base64.b64encode(b"tina:wrong") + b"\r\n\r\n")
r = s.recv(100)
dt = time.monotonic() - t0
print("webdav: a failed Basic login took %.2f s (%s)" % (dt, r.split(b"\r\n")[0].decode()))
assert b" 401 " in r.split(b"\r\n")[0] and dt >= 0.25, (r[:40], dt)
PYEOF

# 5. Every failure is an audit record with the address; the throttled one says so.
json=$("$FERRY_BIN" audit --log "$FERRY_STATE/audit.jsonl" --event login_failed --format json)
n=$(printf '%s\n' "$json" | grep -c .)
[ "$n" -ge 12 ] || fail "only $n login_failed records: $json"
printf '%s\n' "$json" | grep -q '"error":"throttled"' || fail "no throttled record: $json"
for a in 127.0.0.3 127.0.0.5 127.0.0.6 127.0.0.7; do
    printf '%s\n' "$json" | grep -q "\"remote\":\"$a:" || fail "no login_failed record from $a"
done
echo "audit: $n login_failed records, $(printf '%s\n' "$json" | grep -c '"throttled"') throttled"
ferry_stop
echo "t_throttle: ok"
