#!/bin/bash
# Resumable uploads per draft-ietf-httpbis-resumable-upload-12 (webdav/upload.c), with
# curl and a Python http.client/ssl client: OPTIONS advertises them; a PUT with
# Upload-Complete: ?0 creates the upload resource (201 + Location), HEAD reports
# Upload-Offset / Upload-Complete / Upload-Length / Cache-Control: no-store, PATCH with
# application/partial-upload appends and Upload-Complete: ?1 commits byte-identical; a
# wrong offset is 409 with the right Upload-Offset; nothing appears under the name until
# the last piece; an optimistic ?1 PUT gets a 104 with Location, is killed mid-body and
# finished from the offset HEAD reports; other users (including admin, whose home holds
# alice's) cannot HEAD, PATCH or DELETE the upload; DELETE cancels; an FTP APPE and a
# Content-Range PUT continue the very same partial; LOCK on the target applies (423);
# audit records carry offset and bytes; malformed tokens are refused; an append running
# elsewhere makes the upload busy (503) instead of giving a stale offset; clients of
# interop version 8 get 104 progress reports.
. tests/integration/lib.sh

ferry_start
ferry_user_add alice 'alice-pw'
ferry_user_add bob 'bob-pw'
B="https://127.0.0.1:$HTTPS_PORT"
C="curl -sS -k --http1.1 --max-time 60 -u alice:alice-pw"
W=$FERRY_DIR/work
A=$FERRY_ROOT/alice
mkdir -p "$W"
PU='Content-Type: application/partial-upload'
code() { $C -o /dev/null -w '%{http_code}' "$@"; }
# heads ARGS: the response head (CRs removed); field NAME < head: one field's value.
heads() { $C -D - -o /dev/null "$@" | tr -d '\r'; }
field() { awk -v n="$1" 'index(tolower($0), tolower(n) ":") == 1 { sub(/^[^:]*: */, ""); v = $0 }
    END { print v }'; }
status() { head -n 1 | awk '{ print $2 }'; }
no_partial() { ! ls -a "$A" | grep -q '^\.ferry~' || fail "$1: a partial stayed behind"; }

# Feature detection.
h=$(heads -X OPTIONS "$B/")
assert_contains "$(field Accept-Patch <<<"$h")" "application/partial-upload" "OPTIONS Accept-Patch"
assert_eq "$(field Upload-Limit <<<"$h")" "max-age=604800" "OPTIONS Upload-Limit"

# Careful creation: an empty PUT with Upload-Complete: ?0 and the length.
head -c 3000000 /dev/urandom >"$W/a.bin"
h=$(heads -X PUT -H 'Upload-Complete: ?0' -H 'Upload-Length: 3000000' --data-binary '' "$B/a.bin")
assert_eq "$(status <<<"$h")" 201 "creation status"
loc=$(field Location <<<"$h")
case $loc in /a.bin\?upload=[0-9a-f]*.3000000) ;; *) fail "Location [$loc]" ;; esac
assert_eq "$(field Upload-Complete <<<"$h")" "?0" "creation Upload-Complete"
assert_eq "$(field Upload-Offset <<<"$h")" 0 "creation Upload-Offset"
[ -e "$A/a.bin" ] && fail "a created upload looks like a file"
h=$(heads -I "$B$loc")
assert_eq "$(status <<<"$h")" 204 "HEAD status"
assert_eq "$(field Upload-Offset <<<"$h")" 0 "HEAD Upload-Offset"
assert_eq "$(field Upload-Complete <<<"$h")" "?0" "HEAD Upload-Complete"
assert_eq "$(field Upload-Length <<<"$h")" 3000000 "HEAD Upload-Length"
assert_eq "$(field Cache-Control <<<"$h")" "no-store" "HEAD Cache-Control"
assert_contains "$(field Upload-Limit <<<"$h")" "max-age=" "HEAD Upload-Limit"

# Append the first part; the name stays absent.
head -c 1000000 "$W/a.bin" >"$W/a.1"
h=$(heads -X PATCH -H "$PU" -H 'Upload-Offset: 0' -H 'Upload-Complete: ?0' \
    --data-binary @"$W/a.1" "$B$loc")
assert_eq "$(status <<<"$h")" 204 "PATCH first part"
assert_eq "$(field Upload-Offset <<<"$h")" 1000000 "PATCH Upload-Offset"
[ -e "$A/a.bin" ] && fail "an unfinished upload looks like a file"
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "HEAD after PATCH"

# A wrong offset: 409 with the right one (and the problem type); bad requests.
h=$($C -D - -o "$W/problem" -X PATCH -H "$PU" -H 'Upload-Offset: 7' -H 'Upload-Complete: ?0' \
    --data-binary x "$B$loc" | tr -d '\r')
assert_eq "$(status <<<"$h")" 409 "wrong offset"
assert_eq "$(field Upload-Offset <<<"$h")" 1000000 "409 Upload-Offset"
assert_contains "$(cat "$W/problem")" '"expected-offset":1000000' "problem expected-offset"
assert_contains "$(cat "$W/problem")" 'mismatching-upload-offset' "problem type"
assert_eq "$(code -X PATCH -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?0' --data-binary x \
    "$B$loc")" 415 "PATCH without application/partial-upload"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1e6' -H 'Upload-Complete: ?0' \
    --data-binary x "$B$loc")" 400 "Upload-Offset not an sf-integer"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: true' \
    --data-binary x "$B$loc")" 400 "Upload-Complete not an sf-boolean"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?0' \
    -H 'Upload-Length: 5' --data-binary x "$B$loc")" 400 "inconsistent Upload-Length"
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "refused requests wrote nothing"

# Hostile or foreign upload URLs.
tok=${loc#*upload=}
assert_eq "$(code -I "$B/a.bin?upload=zz")" 400 "malformed token"
assert_eq "$(code -I "$B/a.bin?upload=${tok^^}")" 400 "uppercase token"
assert_eq "$(code -I "$B/a.bin?upload=$tok&x=1")" 400 "token with more query"
f=0
[ "${tok:30:1}" = 0 ] && f=1
assert_eq "$(code -I "$B/a.bin?upload=${tok:0:30}$f${tok:31}")" 404 "forged token"
assert_eq "$(code -I "$B/b.bin?upload=$tok")" 404 "token of another path"
assert_eq "$(code -I "$B/%2e%2e/a.bin?upload=$tok")" 400 "traversal"
assert_eq "$(code -X PUT --data-binary x "$B$loc")" 405 "PUT on the upload resource"
D="curl -sS -k --http1.1 --max-time 60 -o /dev/null -w %{http_code}"
for who in "bob:bob-pw /a.bin" "admin:$ADMIN_PASS /alice/a.bin"; do
    u=${who% *} p=${who#* }
    assert_eq "$($D -u "$u" -I "$B$p?upload=$tok")" 404 "${u%%:*} HEAD"
    assert_eq "$($D -u "$u" -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?1' \
        --data-binary @"$W/a.1" "$B$p?upload=$tok")" 404 "${u%%:*} PATCH"
    assert_eq "$($D -u "$u" -X DELETE "$B$p?upload=$tok")" 404 "${u%%:*} DELETE"
done
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "others changed nothing"

# A write lock on the target applies to the appends. (The target exists: LOCK of an
# unmapped name would create the empty file from the caller's partial.)
assert_eq "$(code -X PUT --data-binary old "$B/l.bin")" 201 "PUT l.bin"
ll=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary '' "$B/l.bin" | field Location)
lk='<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>'
lt=$(heads -X LOCK -H 'Content-Type: application/xml' --data "$lk" "$B/l.bin" | field Lock-Token)
[ -n "$lt" ] || fail "LOCK gave no token"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 0' -H 'Upload-Complete: ?1' \
    --data-binary @"$W/a.1" "$B$ll")" 423 "PATCH without the lock token"
assert_eq "$(cat "$A/l.bin")" old "a refused PATCH left the file alone"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 0' -H 'Upload-Complete: ?1' \
    -H "If: ($lt)" --data-binary @"$W/a.1" "$B$ll")" 204 "PATCH with the lock token"
cmp -s "$W/a.1" "$A/l.bin" || fail "locked upload differs"
assert_eq "$(code -X UNLOCK -H "Lock-Token: $lt" "$B/l.bin")" 204 "UNLOCK"
# LOCK of an unmapped name the caller is uploading: the lock-null resource is not
# created over the pending upload (that would commit it empty); the upload goes on.
nl=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary @"$W/a.1" "$B/n.bin" | field Location)
assert_eq "$(field Upload-Offset < <(heads -I "$B$nl"))" 1000000 "pending upload of n.bin"
nt=$(heads -X LOCK -H 'Content-Type: application/xml' --data "$lk" "$B/n.bin" | field Lock-Token)
[ -n "$nt" ] || fail "LOCK of a name being uploaded gave no token"
[ -e "$A/n.bin" ] && fail "LOCK created n.bin over the pending upload"
assert_eq "$(field Upload-Offset < <(heads -I "$B$nl"))" 1000000 "the upload survived the LOCK"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?1' \
    -H "If: ($nt)" --data-binary @"$W/a.1" "$B$nl")" 201 "the upload completes under the lock"
cat "$W/a.1" "$W/a.1" | cmp -s - "$A/n.bin" || fail "n.bin differs after LOCK + upload"
assert_eq "$(code -X UNLOCK -H "Lock-Token: $nt" "$B/n.bin")" 204 "UNLOCK n.bin"
tail -c +1000001 "$W/a.bin" | head -c 1000000 >"$W/a.2"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?0' \
    --data-binary @"$W/a.2" "$B$loc")" 204 "PATCH second part"

# The last piece commits: byte-identical, reported complete afterwards.
tail -c +2000001 "$W/a.bin" >"$W/a.3"
h=$(heads -X PATCH -H "$PU" -H 'Upload-Offset: 2000000' -H 'Upload-Complete: ?1' \
    --data-binary @"$W/a.3" "$B$loc")
assert_eq "$(status <<<"$h")" 201 "last PATCH"
assert_eq "$(field Upload-Complete <<<"$h")" "?1" "last PATCH Upload-Complete"
[ -n "$(field ETag <<<"$h")" ] || fail "last PATCH without ETag"
cmp -s "$W/a.bin" "$A/a.bin" || fail "PATCH upload differs"
no_partial "completed upload"
h=$(heads -I "$B$loc")
assert_eq "$(field Upload-Complete <<<"$h")" "?1" "HEAD of a completed upload"
assert_eq "$(field Upload-Offset <<<"$h")" 3000000 "HEAD offset of a completed upload"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 3000000' -H 'Upload-Complete: ?1' \
    --data-binary '' "$B$loc")" 400 "PATCH of a completed upload"
audit=$FERRY_STATE/audit.jsonl
grep '"event":"upload"' "$audit" | grep '"path":"/a.bin"' | grep '"offset":2000000' |
    grep -q '"bytes":1000000' || fail "no audit record of the last append"

# Optimistic creation with Python: 104 names the upload, the connection dies mid-body,
# HEAD tells the offset, PATCH sends the rest.
head -c 4000000 /dev/urandom >"$W/p.bin"
/usr/bin/python3 - "$HTTPS_PORT" /p.bin "$W/p.bin" "$A/p.bin" <<'EOF' || fail "python client"
import base64, http.client, os, socket, ssl, sys

port, path, src, final = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = open(src, "rb").read()
auth = "Basic " + base64.b64encode(b"alice:alice-pw").decode()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def die(msg):
    print("python client: " + msg, file=sys.stderr)
    sys.exit(1)

# http.client treats any 1xx but 100 as the final response: read the 104 by hand.
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.sendall((f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
           f"Upload-Complete: ?1\r\nUpload-Draft-Interop-Version: 8\r\n"
           f"Content-Length: {len(data)}\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        die("no 104 before the body")
    buf += chunk
head = buf.split(b"\r\n\r\n")[0].decode().split("\r\n")
if not head[0].startswith("HTTP/1.1 104 "):
    die("first response " + head[0])
fields = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in head[1:])}
if fields.get("upload-draft-interop-version") != "8":
    die("104 without interop version 8")
loc = fields["location"]
if not loc.startswith(path + "?upload="):
    die("104 Location " + loc)
sent = len(data) // 3
s.sendall(data[:sent])
s.close()  # killed mid-body: no close_notify, a third of the body sent
if os.path.exists(final):
    die("an interrupted upload looks like a file")

c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
c.request("HEAD", loc, headers={"Authorization": auth})
r = c.getresponse()
r.read()
off = int(r.getheader("Upload-Offset", "-1"))
if r.status != 204 or r.getheader("Upload-Complete") != "?0" or not 0 < off <= sent:
    die(f"HEAD after the kill: {r.status} offset {off} of {sent}")
c.request("PATCH", loc, body=data[off:], headers={
    "Authorization": auth, "Content-Type": "application/partial-upload",
    "Upload-Offset": str(off), "Upload-Complete": "?1"})
r = c.getresponse()
r.read()
if r.status != 201 or r.getheader("Upload-Complete") != "?1":
    die(f"final PATCH: {r.status}")
print(f"resumed at {off} of {len(data)}")
EOF
cmp -s "$W/p.bin" "$A/p.bin" || fail "resumed optimistic upload differs"
no_partial "optimistic upload"

# While an append is running, the upload is busy (503 after a bounded wait) rather than
# answered with an offset that the running append would make stale; once that client is
# gone, HEAD tells where its bytes ended and the upload finishes byte-identical.
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary '' "$B/s.bin" | field Location)
$C --limit-rate 300K -o /dev/null -X PATCH -H "$PU" -H 'Upload-Offset: 0' \
    -H 'Upload-Complete: ?1' --data-binary @"$W/a.bin" "$B$loc" &
spid=$!
for _ in $(seq 100); do # until the append holds the upload (bytes in its partial)
    [ -n "$(find "$A" -name '.ferry~*' -size +0 2>/dev/null)" ] && break
    sleep 0.1
done
h=$(heads -I "$B$loc")
assert_eq "$(status <<<"$h")" 503 "HEAD during an append"
[ -n "$(field Retry-After <<<"$h")" ] || fail "503 without Retry-After"
kill -9 $spid 2>/dev/null
wait $spid 2>/dev/null
h=$(heads -I "$B$loc")
off=$(field Upload-Offset <<<"$h")
assert_eq "$(status <<<"$h")" 204 "HEAD after the append died"
[ "${off:-0}" -gt 0 ] && [ "$off" -lt 3000000 ] || fail "offset after the append died: $off"
[ -e "$A/s.bin" ] && fail "an interrupted append looks like a file"
tail -c +$((off + 1)) "$W/a.bin" >"$W/s.rest"
assert_eq "$(code -X PATCH -H "$PU" -H "Upload-Offset: $off" -H 'Upload-Complete: ?1' \
    --data-binary @"$W/s.rest" "$B$loc")" 201 "PATCH after the append died"
cmp -s "$W/a.bin" "$A/s.bin" || fail "upload resumed after a dead append differs"

# Progress: a client of interop version 8 gets 104s with the offset as the body arrives.
head -c 10000000 /dev/urandom >"$W/g.bin"
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary '' "$B/g.bin" | field Location)
h=$(heads -X PATCH -H "$PU" -H 'Upload-Offset: 0' -H 'Upload-Complete: ?1' \
    -H 'Upload-Draft-Interop-Version: 8' --data-binary @"$W/g.bin" "$B$loc")
offs=$(awk '/^HTTP\/1.1 104 /{p=1; next} p && /^Upload-Offset:/{print $2} /^$/{p=0}' <<<"$h" | xargs)
assert_eq "$offs" "4194304 8388608" "progress offsets"
grep -q '^HTTP/1.1 201 ' <<<"$h" || fail "final status after progress reports"
grep -A3 '^HTTP/1.1 104' <<<"$h" | grep -qi '^Location:' && fail "progress report with Location"
cmp -s "$W/g.bin" "$A/g.bin" || fail "upload with progress reports differs"

# One-shot: Upload-Complete: ?1 with the whole body is a plain, complete PUT.
head -c 200000 /dev/urandom >"$W/o.bin"
h=$(heads -X PUT -H 'Upload-Complete: ?1' --data-binary @"$W/o.bin" "$B/o.bin")
assert_eq "$(status <<<"$h")" 201 "one-shot status"
assert_eq "$(field Upload-Complete <<<"$h")" "?1" "one-shot Upload-Complete"
assert_eq "$(grep -c '^HTTP/1.1 104' <<<"$h")" 0 "104 without the interop version"
# With the interop version curl sees (and skips) the 104 first.
h=$(heads -X PUT -H 'Upload-Complete: ?1' -H 'Upload-Draft-Interop-Version: 8' \
    --data-binary @"$W/o.bin" "$B/o.bin")
assert_eq "$(status <<<"$h")" 104 "one-shot interim response"
assert_contains "$h" "Upload-Draft-Interop-Version: 8" "104 interop version"
assert_contains "$h" "HTTP/1.1 204 " "one-shot replace status"
assert_eq "$(heads -X PUT -H 'Upload-Complete: ?1' -H 'Upload-Draft-Interop-Version: 7' \
    --data-binary @"$W/o.bin" "$B/o.bin" | grep -c '^HTTP/1.1 104')" 0 "104 for interop 7"
cmp -s "$W/o.bin" "$A/o.bin" || fail "one-shot upload differs"

# DELETE cancels: the partial goes, the upload resource with it.
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary @"$W/a.1" "$B/c.bin" | field Location)
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "creation with data"
assert_eq "$(code -X DELETE "$B$loc")" 204 "DELETE cancels"
assert_eq "$(code -I "$B$loc")" 404 "HEAD after cancel"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?1' \
    --data-binary @"$W/a.2" "$B$loc")" 404 "PATCH after cancel"
[ -e "$A/c.bin" ] && fail "a cancelled upload left a file"
no_partial "cancelled upload"

# Cancelling an upload that would replace a file never takes the file: only the
# caller's partial goes.
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary @"$W/a.1" "$B/o.bin" | field Location)
assert_eq "$(code -X DELETE "$B$loc")" 204 "DELETE of an upload over a file"
cmp -s "$W/o.bin" "$A/o.bin" || fail "cancel touched the complete file"
assert_eq "$(code -I "$B$loc")" 404 "HEAD after cancelling an upload over a file"
no_partial "cancelled upload over a file"
# A new upload over the file, completed by an empty last PATCH.
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary @"$W/a.1" "$B/o.bin" | field Location)
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "upload over a file"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?1' \
    --data-binary '' "$B$loc")" 204 "an empty last PATCH completes"
cmp -s "$W/a.1" "$A/o.bin" || fail "upload completed by an empty PATCH differs"

# An FTP APPE continues the draft's partial (and, ending cleanly, completes it).
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary @"$W/a.1" "$B/f.bin" | field Location)
tail -c +1000001 "$W/a.bin" >"$W/a.23"
curl -sS -k --ssl-reqd --max-time 60 -a -T "$W/a.23" "ftp://alice:alice-pw@127.0.0.1:$FTP_PORT/f.bin" ||
    fail "FTP APPE"
cmp -s "$W/a.bin" "$A/f.bin" || fail "FTP APPE continuation differs"
h=$(heads -I "$B$loc")
assert_eq "$(field Upload-Complete <<<"$h")" "?1" "upload completed over FTP"
assert_eq "$(field Upload-Offset <<<"$h")" 3000000 "offset after FTP APPE"

# A mod_dav Content-Range PUT continues it too; the draft then sees the offset move.
loc=$(heads -X PUT -H 'Upload-Complete: ?0' --data-binary '' "$B/r.bin" | field Location)
assert_eq "$(code -X PUT -H 'Content-Range: bytes 0-999999/3000000' --data-binary @"$W/a.1" \
    "$B/r.bin")" 204 "Content-Range PUT of the first part"
assert_eq "$(field Upload-Offset < <(heads -I "$B$loc"))" 1000000 "offset after Content-Range PUT"
assert_eq "$(code -X PATCH -H "$PU" -H 'Upload-Offset: 1000000' -H 'Upload-Complete: ?1' \
    --data-binary @"$W/a.23" "$B$loc")" 201 "PATCH after Content-Range PUT"
cmp -s "$W/a.bin" "$A/r.bin" || fail "mixed Content-Range/PATCH upload differs"
no_partial "mixed upload"

ferry_stop
echo "ok"
