#!/bin/bash
# Scale-out, resume across nodes: an FTP upload cut off on node A (the data connection
# reset mid-way, the control connection dropped) stays a partial in the shared root;
# through node B the same user sees the partial's size, resumes it with curl -C -
# (SIZE + APPE) and the file ends byte-identical; the same through WebDAV (PUT cut on
# A, resumed with Content-Range through B). Everyone reaches the nodes through HAProxy
# (pinned frontends), from 127.0.0.2.
. tests/cluster/lib.sh
CLUSTER_USERS="rita:rita-pw-1" cluster_start
PY=/usr/bin/python3

SIZE=6000000
head -c $SIZE /dev/urandom >"$FERRY_DIR/up.bin"
export FE_FTP_A CLIENT FERRY_DIR
# The first half, then a reset (SO_LINGER 0) on the data connection and the control
# connection closed without QUIT: an abnormal end, not a complete upload.
$PY - <<'PYEOF' || fail "the interrupted upload through node A"
import ftplib, os, socket, struct
half = 3000000
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", int(os.environ["FE_FTP_A"]), timeout=30,
            source_address=(os.environ["CLIENT"], 0))
ftp.login("rita", "rita-pw-1")
ftp.voidcmd("TYPE I")
data = ftp.transfercmd("STOR up.bin")
with open(os.path.join(os.environ["FERRY_DIR"], "up.bin"), "rb") as f:
    left = half
    while left:
        chunk = f.read(min(65536, left))
        data.sendall(chunk)
        left -= len(chunk)
import time
time.sleep(0.5)  # let node A write what it received
data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
data.close()
ftp.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
ftp.sock.close()
PYEOF
sleep 1
[ ! -e "$FERRY_ROOT/up.bin" ] || fail "the cut upload appeared under its real name"
grep -q "ftp connection from $CLIENT:" "$FERRY_DIR/node-A.log" || fail "the upload did not go through node A"

# Through node B: SIZE answers the partial's size to its owner.
ftp_b="ftp://rita:rita-pw-1@127.0.0.1:$FE_FTP_B"
size=$(curl -sS --max-time 60 --interface "$CLIENT" -I "$ftp_b/up.bin" | tr -d '\r' |
    sed -n 's/^Content-Length: //p')
[ -n "$size" ] && [ "$size" -gt 0 ] && [ "$size" -lt $SIZE ] ||
    fail "node B does not show the partial's size (got '$size')"
echo "resume: the upload cut on A left a partial of $size bytes, seen through B"
curl -sS --max-time 60 --interface "$CLIENT" -C - -T "$FERRY_DIR/up.bin" "$ftp_b/up.bin" ||
    fail "curl -C - -T through node B"
cmp "$FERRY_DIR/up.bin" "$FERRY_ROOT/up.bin" || fail "the resumed upload differs (in the root)"
curl -sS --max-time 60 --interface "$CLIENT" -o "$FERRY_DIR/down.bin" \
    "ftp://rita:rita-pw-1@127.0.0.1:$FE_FTP_A/up.bin" || fail "download through node A"
cmp "$FERRY_DIR/up.bin" "$FERRY_DIR/down.bin" || fail "the resumed upload differs (downloaded via A)"
grep -q "ftp connection from $CLIENT:" "$FERRY_DIR/node-B.log" || fail "the resume did not go through node B"
echo "resume: FTP upload cut on A, resumed through B, byte-identical"

# WebDAV: a PUT cut on A (the TLS connection dropped mid-body), resumed through B.
export FE_HTTPS_A
$PY - <<'PYEOF' || fail "the interrupted PUT through node A"
import os, socket, ssl, struct, time
body = open(os.path.join(os.environ["FERRY_DIR"], "up.bin"), "rb").read()
raw = socket.create_connection(("127.0.0.1", int(os.environ["FE_HTTPS_A"])), timeout=30,
                               source_address=(os.environ["CLIENT"], 0))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(raw)
import base64
auth = base64.b64encode(b"rita:rita-pw-1").decode()
s.sendall(("PUT /dav.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
           "Content-Length: %d\r\n\r\n" % (auth, len(body))).encode())
s.sendall(body[:2500000])
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PYEOF
sleep 1
[ ! -e "$FERRY_ROOT/dav.bin" ] || fail "the cut PUT appeared under its real name"
dav_b="https://127.0.0.1:$FE_HTTPS_B"
size=$(curl -sSk --max-time 60 --interface "$CLIENT" -u rita:rita-pw-1 -I "$dav_b/dav.bin" |
    tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: //p')
[ -n "$size" ] && [ "$size" -gt 0 ] && [ "$size" -lt $SIZE ] ||
    fail "node B does not show the cut PUT's partial size (got '$size')"
tail -c +$((size + 1)) "$FERRY_DIR/up.bin" >"$FERRY_DIR/rest.bin"
code=$(curl -sSk --max-time 60 --interface "$CLIENT" -u rita:rita-pw-1 -o /dev/null -w '%{http_code}' \
    -X PUT -H "Content-Range: bytes $size-$((SIZE - 1))/$SIZE" --data-binary @"$FERRY_DIR/rest.bin" \
    "$dav_b/dav.bin") || fail "resumed PUT through node B"
case $code in 200 | 201 | 204) ;; *) fail "resumed PUT through node B answered $code" ;; esac
cmp "$FERRY_DIR/up.bin" "$FERRY_ROOT/dav.bin" || fail "the resumed PUT differs"
echo "resume: WebDAV PUT cut on A, resumed through B with Content-Range, byte-identical"

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_resume: ok"
