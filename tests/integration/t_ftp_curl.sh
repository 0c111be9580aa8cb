#!/bin/bash
# FTP/FTPS front end with curl: list, get, put, `-C -` resume both ways, passive and
# active mode, --ssl-reqd (explicit TLS with PROT P and TLS session reuse), implicit FTPS,
# CCC refused, and an upload killed mid-STOR: no complete-looking file appears, and a
# resumed upload (curl's APPE, ftplib's REST + STOR) finishes it byte-identical.
. tests/integration/lib.sh
# Restarts the server with new flags. The old log is set aside first: ferry_start waits
# for a "ready" line in serve.log and must not find the previous run's.
restart() {
    ferry_stop
    mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$SECONDS.$RANDOM"
    ferry_start "$@"
}
PY=${PYTHON:-/usr/bin/python3}

FTPS_PORT=$(free_port)
ferry_start --ftps-port "$FTPS_PORT" --set ftp_allow_plaintext=yes
ferry_user_add alice 'alice-pw'
mkdir -p "$FERRY_ROOT/alice"
U="ftp://alice:alice-pw@127.0.0.1:$FTP_PORT"
C="curl -sS --max-time 60"
W=$FERRY_DIR/work
mkdir -p "$W"
head -c 3000000 /dev/urandom >"$W/src.bin"
printf 'hello\n' >"$FERRY_ROOT/alice/hello.txt"

# Listing and download.
out=$($C "$U/") || fail "curl LIST"
assert_contains "$out" " hello.txt" "LIST shows hello.txt"
assert_eq "$($C "$U/hello.txt")" "hello" "curl RETR"
out=$($C -l "$U/") || fail "curl NLST"
assert_eq "$out" "hello.txt" "NLST names"

# Upload, then download in passive (EPSV and PASV) and active (EPRT and PORT) mode.
$C -T "$W/src.bin" "$U/up.bin" || fail "curl STOR"
cmp -s "$W/src.bin" "$FERRY_ROOT/alice/up.bin" || fail "uploaded file differs"
$C --ftp-pasv "$U/up.bin" -o "$W/g1" && cmp -s "$W/src.bin" "$W/g1" || fail "EPSV download"
$C --ftp-pasv --disable-epsv "$U/up.bin" -o "$W/g2" && cmp -s "$W/src.bin" "$W/g2" ||
    fail "PASV download"
$C --ftp-port 127.0.0.1 "$U/up.bin" -o "$W/g3" && cmp -s "$W/src.bin" "$W/g3" ||
    fail "EPRT (active) download"
$C --ftp-port 127.0.0.1 --disable-eprt "$U/up.bin" -o "$W/g4" && cmp -s "$W/src.bin" "$W/g4" ||
    fail "PORT (active) download"
$C --ftp-port 127.0.0.1 -T "$W/src.bin" "$U/up-active.bin" &&
    cmp -s "$W/src.bin" "$FERRY_ROOT/alice/up-active.bin" || fail "active upload"

# Resume a download: -C - continues from the local file's size.
head -c 1234567 "$W/src.bin" >"$W/partial"
$C -C - "$U/up.bin" -o "$W/partial" || fail "curl -C - download"
cmp -s "$W/src.bin" "$W/partial" || fail "resumed download differs"

# Resume an upload: -C - asks SIZE, then APPE from there.
head -c 1000000 "$W/src.bin" >"$W/head"
$C -T "$W/head" "$U/resume.bin" || fail "first part upload"
$C -C - -T "$W/src.bin" "$U/resume.bin" || fail "curl -C - upload"
cmp -s "$W/src.bin" "$FERRY_ROOT/alice/resume.bin" || fail "resumed upload differs"

# Explicit TLS: AUTH TLS, PBSZ 0, PROT P; data connections resume the TLS session.
$C --ssl-reqd -k "$U/up.bin" -o "$W/t1" && cmp -s "$W/src.bin" "$W/t1" || fail "TLS download"
$C --ssl-reqd -k -T "$W/src.bin" "$U/up-tls.bin" &&
    cmp -s "$W/src.bin" "$FERRY_ROOT/alice/up-tls.bin" || fail "TLS upload"
# (Active mode with TLS is covered by ftplib and lftp: curl 7.87-7.88 lost the TLS filter
# on active data connections and hangs, curl/curl#10666.)
out=$($C --ssl-reqd -k "$U/") || fail "TLS LIST"
assert_contains "$out" " up-tls.bin" "TLS LIST"
head -c 777 "$W/src.bin" >"$W/partial2"
$C --ssl-reqd -k -C - "$U/up.bin" -o "$W/partial2" && cmp -s "$W/src.bin" "$W/partial2" ||
    fail "TLS resumed download"
# The certificate is the one in the state dir.
$C --ssl-reqd --cacert "$FERRY_STATE/tls.crt" "$U/hello.txt" >/dev/null ||
    fail "TLS with the state dir certificate as CA"

# CCC is refused and the control connection stays encrypted.
out=$($C -v --ssl-reqd -k --ftp-ssl-ccc "$U/hello.txt" 2>&1)
assert_contains "$out" "< 534 " "CCC refused with 534"
assert_contains "$out" "hello" "transfer still works after refused CCC"

# Implicit FTPS on its own port.
$C -k "ftps://alice:alice-pw@127.0.0.1:$FTPS_PORT/up.bin" -o "$W/i1" &&
    cmp -s "$W/src.bin" "$W/i1" || fail "implicit FTPS download"
$C -k -T "$W/src.bin" "ftps://alice:alice-pw@127.0.0.1:$FTPS_PORT/up-implicit.bin" &&
    cmp -s "$W/src.bin" "$FERRY_ROOT/alice/up-implicit.bin" || fail "implicit FTPS upload"

# Wrong password.
$C "ftp://alice:wrong@127.0.0.1:$FTP_PORT/" >/dev/null 2>&1 && fail "wrong password accepted"

# A client killed mid-STOR leaves no complete-looking file, only a hidden partial.
killed_upload() {
    local name=$1 before
    before=$(grep -c '"status":"aborted"' "$FERRY_STATE/audit.jsonl")
    $C --limit-rate 300k -T "$W/src.bin" "$U/$name" 2>/dev/null &
    local pid=$! i=0
    while [ $i -lt 100 ]; do
        [ -n "$(find "$FERRY_ROOT/alice" -name '.ferry~*' -size +100k 2>/dev/null)" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    # The session records the aborted upload once it has noticed.
    i=0
    while [ "$(grep -c '"status":"aborted"' "$FERRY_STATE/audit.jsonl")" = "$before" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -e "$FERRY_ROOT/alice/$name" ] && fail "killed upload left a complete-looking $name"
    [ -n "$(find "$FERRY_ROOT/alice" -name '.ferry~*')" ] || fail "no partial kept for $name"
    out=$($C -l "$U/")
    case "$out" in *"$name"* | *".ferry~"*) fail "partial visible in NLST: $out" ;; esac
    grep '"status":"aborted"' "$FERRY_STATE/audit.jsonl" | tail -n 1 | grep -q "\"path\":\"/$name\"" ||
        fail "no aborted audit record for $name"
}
killed_upload killed1.bin
"$PY" tests/integration/ftp_client.py resume-stor 127.0.0.1 "$FTP_PORT" alice alice-pw \
    killed1.bin "$W/src.bin" || fail "REST + STOR after a killed upload"
cmp -s "$W/src.bin" "$FERRY_ROOT/alice/killed1.bin" || fail "REST + STOR result differs"
killed_upload killed2.bin
$C -C - -T "$W/src.bin" "$U/killed2.bin" || fail "curl -C - after a killed upload"
cmp -s "$W/src.bin" "$FERRY_ROOT/alice/killed2.bin" || fail "curl -C - result differs"
[ -z "$(find "$FERRY_ROOT/alice" -name '.ferry~*')" ] || fail "partials left after resuming"

# Audit: uploads and downloads recorded with bytes, offset and status.
grep '"event":"upload"' "$FERRY_STATE/audit.jsonl" | grep '"path":"/resume.bin"' |
    grep -q '"offset":1000000' || fail "resumed upload audit record lacks its offset"
grep '"event":"download"' "$FERRY_STATE/audit.jsonl" | grep -q '"proto":"ftps"' ||
    fail "no ftps download audit record"
grep '"event":"upload"' "$FERRY_STATE/audit.jsonl" | grep '"path":"/up.bin"' |
    grep -q "\"sha256\":\"$(sha256sum <"$W/src.bin" | cut -c1-64)\"" || fail "upload sha256 missing"
"$FERRY_BIN" audit verify --log "$FERRY_STATE/audit.jsonl" >/dev/null || fail "audit chain broken"

# Graceful stop: a running download finishes, idle sessions are told 421, exit 0.
logins=$(grep -c '"event":"login"' "$FERRY_STATE/audit.jsonl")
$C --limit-rate 1M "$U/up.bin" -o "$W/stop.bin" &
dl=$!
"${PYTHON:-/usr/bin/python3}" - "$FTP_PORT" >"$W/idle421" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
f.readline()
s.sendall(b"USER alice\r\n"); f.readline()
s.sendall(b"PASS alice-pw\r\n"); f.readline()
print(f.readline().decode().strip())
PY
idle=$!
# SIGTERM once the download is under way and the idle session has logged in.
i=0
while { [ ! -s "$W/stop.bin" ] ||
    [ "$(grep -c '"event":"login"' "$FERRY_STATE/audit.jsonl")" -lt $((logins + 2)) ]; } &&
    [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM "$FERRY_PID"
wait $dl || fail "download interrupted by a graceful stop"
cmp -s "$W/src.bin" "$W/stop.bin" || fail "download during a graceful stop differs"
wait $idle
assert_contains "$(cat "$W/idle421")" "421" "idle session told 421 at shutdown"
wait "$FERRY_PID" || fail "ferry serve exit status after SIGTERM"
FERRY_PID=
restart --ftps-port "$FTPS_PORT" --set ftp_allow_plaintext=yes

# IPv6: EPSV and EPRT (|2|) on a [::1] control connection; PASV has no IPv6 form.
if [ -f /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
    restart --listen ::1 --set ftp_allow_plaintext=yes
    U6="ftp://alice:alice-pw@[::1]:$FTP_PORT"
    $C --ftp-pasv "$U6/up.bin" -o "$W/v6a" && cmp -s "$W/src.bin" "$W/v6a" || fail "IPv6 EPSV"
    $C --ftp-port ::1 "$U6/up.bin" -o "$W/v6b" && cmp -s "$W/src.bin" "$W/v6b" || fail "IPv6 EPRT"
    $C --ftp-port ::1 -T "$W/src.bin" "$U6/up6.bin" &&
        cmp -s "$W/src.bin" "$FERRY_ROOT/alice/up6.bin" || fail "IPv6 active upload"
    $C --ssl-reqd -k "$U6/up.bin" -o "$W/v6c" && cmp -s "$W/src.bin" "$W/v6c" || fail "IPv6 TLS"
    # curl never sends PASV on IPv6; ftplib does when asked.
    ${PYTHON:-/usr/bin/python3} -c '
import ftplib, sys
f = ftplib.FTP(timeout=10); f.connect("::1", int(sys.argv[1])); f.login("alice", "alice-pw")
try:
    f.sendcmd("PASV"); sys.exit("PASV accepted on IPv6")
except ftplib.error_temp as e:
    assert str(e).startswith("425"), e
assert f.sendcmd("EPSV 2").startswith("229")
try:
    f.sendcmd("EPSV 1"); sys.exit("EPSV 1 accepted on IPv6")
except ftplib.error_perm as e:
    assert str(e).startswith("522"), e
f.quit()' "$FTP_PORT" || fail "PASV/EPSV protocol checks on IPv6"
fi

ferry_stop
! grep -q 'Sanitizer\|runtime error' "$FERRY_DIR"/serve.log* || fail "sanitizer report in serve.log"
echo "t_ftp_curl: ok"
