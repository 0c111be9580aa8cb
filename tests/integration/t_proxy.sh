#!/bin/bash
# PROXY protocol on the listeners (proxy_protocol = yes, proxy_trusted = 127.0.0.1,::1):
# v1 and v2 headers from a trusted peer give the session the client address they name
# (FTP, SFTP and WebDAV; curl --haproxy-protocol as a real sender), a header arriving in
# pieces works, a LOCAL health check keeps the balancer's address, and these are refused
# before the front end says anything: no header (after the timeout), garbage instead of a
# header, a valid header from a peer outside proxy_trusted. The audit records carry the
# header's address, and limits and throttling follow it.
. tests/integration/lib.sh
PY=/usr/bin/python3

ferry_start --set ftp_allow_plaintext=yes --set proxy_protocol=yes \
    --set 'proxy_trusted=127.0.0.1, ::1'
ferry_user_add tina 'tina-pw-5'
export FTP_PORT SFTP_PORT HTTPS_PORT

$PY - <<'PYEOF' || fail "PROXY protocol sessions"
import os, socket, ssl, struct, time, base64
import paramiko
FTP, SFTP, HTTPS = (int(os.environ[k]) for k in ("FTP_PORT", "SFTP_PORT", "HTTPS_PORT"))
SIG = b"\r\n\r\n\x00\r\nQUIT\n"

def v2_tcp4(src, sport, dst, dport, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport) + tlvs
    return SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body

def v2_tcp6(src, sport, dst, dport):
    body = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport))
    return SIG + bytes([0x21, 0x21]) + struct.pack("!H", len(body)) + body

def conn(port, src="127.0.0.1", timeout=15):
    s = socket.socket(); s.bind((src, 0)); s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s

def reply(f):
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-":
            return l

def ftp_login(hdr, chunks=1, src="127.0.0.1"):
    s = conn(FTP, src)
    step = max(1, len(hdr) // chunks)
    for i in range(0, len(hdr), step):
        s.sendall(hdr[i:i + step]); time.sleep(0.1 if chunks > 1 else 0)
    f = s.makefile("rb")
    g = reply(f)
    assert g.startswith(b"220"), g
    s.sendall(b"USER tina\r\n"); reply(f)
    s.sendall(b"PASS tina-pw-5\r\n"); r = reply(f)
    assert r.startswith(b"230"), r
    return s, f

# 1. v1 from the trusted balancer: logged in; the session's peer is now the client, so
#    an active-mode target on the balancer's address is a bounce and is refused.
s, f = ftp_login(b"PROXY TCP4 203.0.113.7 127.0.0.1 40001 %d\r\n" % FTP)
s.sendall(b"PORT 127,0,0,1,200,10\r\n"); r = reply(f)
assert r[:1] == b"5", "PORT to the balancer accepted: %r" % r
s.sendall(b"QUIT\r\n"); reply(f); s.close()
print("v1 TCP4: login as 203.0.113.7:40001, PORT to the balancer refused:", r.strip().decode())

# 2. v2 TCP6 with TLVs, the header arriving in three pieces.
s, f = ftp_login(v2_tcp6("2001:db8::9", 40002, "2001:db8::1", FTP), chunks=3)
s.sendall(b"QUIT\r\n"); reply(f); s.close()
tlv = bytes([0x01, 0, 2]) + b"h2" + bytes([0x04, 0, 3, 0, 0, 0])
s, f = ftp_login(v2_tcp4("198.51.100.23", 40003, "127.0.0.1", FTP, tlv))
s.sendall(b"QUIT\r\n"); reply(f); s.close()
print("v2 TCP6 (in pieces) and v2 TCP4 with TLVs: logged in")

# 3. v2 LOCAL (a balancer health check): served, under the balancer's own address.
s = conn(FTP); s.sendall(SIG + bytes([0x20, 0x00, 0, 0])); f = s.makefile("rb")
g = reply(f); assert g.startswith(b"220"), g; s.close()
print("v2 LOCAL: greeted")

def refused(send, src="127.0.0.1", wait=10):
    """The server closes without a byte of greeting; returns the seconds it took."""
    s = conn(FTP, src, timeout=wait); t0 = time.monotonic()
    if send:
        s.sendall(send)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    dt = time.monotonic() - t0
    s.close()
    assert data == b"", "got %r" % data
    return dt

dt = refused(b"USER tina\r\n")
assert dt < 3, dt
print("garbage instead of a header: closed after %.2f s" % dt)
dt = refused(b"PROXY TCP4 203.0.113.8 127.0.0.1 40004 21\r\n", src="127.0.0.3")
assert dt < 3, dt
print("valid header from an untrusted peer (127.0.0.3): closed after %.2f s" % dt)
dt = refused(b"")
assert 4 <= dt < 9, dt
print("no header: closed after %.2f s (timeout 5 s)" % dt)

# Silent peers wait in their own session processes: the parent keeps accepting.
silent = [conn(FTP) for i in range(10)]
t0 = time.monotonic()
s, f = ftp_login(b"PROXY TCP4 203.0.113.9 127.0.0.1 40009 21\r\n")
dt = time.monotonic() - t0
s.close()
for x in silent:
    x.close()
assert dt < 3, dt
print("10 silent connections pending: a proxied login still took %.2f s" % dt)

# 4. WebDAV: the header, then TLS, then HTTP.
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = conn(HTTPS); s.sendall(v2_tcp4("192.0.2.44", 40005, "127.0.0.1", HTTPS))
t = ctx.wrap_socket(s)
auth = base64.b64encode(b"tina:tina-pw-5").decode()
t.sendall(("PROPFIND / HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nAuthorization: Basic %s\r\n"
           "Content-Length: 0\r\nConnection: close\r\n\r\n" % auth).encode())
resp = b""
while True:
    b = t.recv(65536)
    if not b:
        break
    resp += b
t.close()
assert resp.startswith(b"HTTP/1.1 207"), resp[:200]
print("WebDAV over TLS behind a v2 header: 207")

# 5. SFTP: the SSH client speaks first, right behind the header.
s = conn(SFTP); s.sendall(b"PROXY TCP6 2001:db8::77 ::1 40006 22\r\n")
tr = paramiko.Transport(s); tr.connect(username="tina", password="tina-pw-5")
sf = paramiko.SFTPClient.from_transport(tr); sf.listdir("/"); sf.close(); tr.close()
print("SFTP behind a v1 TCP6 header: logged in")
PYEOF

# curl as a real sender (v1, from its own socket addresses), and without the header.
# FTP: -I logs in without a data connection (curl also puts a header in front of data
# connections, which the FTP data path does not read yet).
curl -sS -I --max-time 20 --haproxy-protocol "ftp://tina:tina-pw-5@127.0.0.1:$FTP_PORT/" \
    >/dev/null || fail "curl --haproxy-protocol FTP login"
code=$(curl -sk --max-time 20 --haproxy-protocol -u tina:tina-pw-5 -o /dev/null -w '%{http_code}' \
    "https://127.0.0.1:$HTTPS_PORT/") || fail "curl --haproxy-protocol HTTPS"
assert_eq "$code" 200 "curl --haproxy-protocol GET / over HTTPS"
if curl -sS -I --max-time 20 "ftp://tina:tina-pw-5@127.0.0.1:$FTP_PORT/" >/dev/null 2>&1; then
    fail "curl without a PROXY header was served"
fi
echo "curl: served with --haproxy-protocol, refused without"

log=$(cat "$FERRY_DIR/serve.log")
assert_contains "$log" "ftp connection from 203.0.113.7:40001 via proxy 127.0.0.1:" "session log"
assert_contains "$log" "sftp connection from [2001:db8::77]:40006 via proxy" "sftp session log"
assert_contains "$log" "connection from 127.0.0.3:" "untrusted peer logged"
assert_contains "$log" "not a trusted proxy (proxy_trusted)" "untrusted peer refused"
assert_contains "$log" "no valid PROXY header (timed out)" "silent peer refused"

# Nothing refused got as far as a login attempt.
audit=$FERRY_STATE/audit.jsonl
grep -q '203.0.113.8' "$audit" && fail "a record for the untrusted peer's header"
logins=$(grep -c '"event": *"login"' "$audit")
[ "$logins" -ge 7 ] || fail "expected 7 logins in the audit log, found $logins"
for want in '203.0.113.7:40001' '[2001:db8::9]:40002' '198.51.100.23:40003' \
    '192.0.2.44:40005' '[2001:db8::77]:40006'; do
    grep '"event":"login"' "$audit" | grep -qF "\"remote\":\"$want\"" ||
        fail "no login record with remote $want"
done
echo "audit: login records carry the addresses from the headers"
# Per-address limit and throttling follow the header's address, not the balancer's.
ferry_stop
mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve-1.log" # ferry_start waits for a new "ready"
ferry_start --set ftp_allow_plaintext=yes --set proxy_protocol=yes \
    --set proxy_trusted=127.0.0.1 --set max_per_address=2
$PY - <<'PYEOF' || fail "limits by the header's address"
import os, socket, time
FTP = int(os.environ["FTP_PORT"])
def session(client, user=b"tina", pw=b"tina-pw-5"):
    s = socket.socket(); s.settimeout(15); s.connect(("127.0.0.1", FTP))
    s.sendall(b"PROXY TCP4 %s 127.0.0.1 40100 21\r\n" % client.encode())
    f = s.makefile("rb")
    return s, f, f.readline()
held = [session(a) for a in ("192.0.2.1", "192.0.2.2", "192.0.2.3")]
assert all(g.startswith(b"220") for _, _, g in held), [g for _, _, g in held]
held += [session("192.0.2.9"), session("192.0.2.9")]
s, f, g = session("192.0.2.9")
assert g == b"", "third session from one client address served: %r" % g
print("max_per_address=2: 3 clients behind one balancer served, a 3rd session of one refused")
def login(client, pw):
    s, f, g = session(client)
    t0 = time.monotonic()
    s.sendall(b"USER tina\r\n"); f.readline()
    s.sendall(b"PASS " + pw + b"\r\n"); r = f.readline()
    s.close()
    return r[:3], time.monotonic() - t0
for i in range(4):
    login("198.51.100.66", b"wrong")
code, dt = login("198.51.100.77", b"tina-pw-5")
assert code == b"230" and dt < 1.0, (code, dt)
print("throttling: failures from one client do not slow another behind the same balancer")
for s, f, g in held:
    s.close()
PYEOF
ferry_stop
echo "t_proxy: ok"
