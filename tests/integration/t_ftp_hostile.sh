#!/bin/bash
# FTP front end under hostile input and limits: paths escaping the root, CRLF and NUL
# injection, PORT/EPRT bounce attempts, 10,000-byte lines, commands before login, binary
# garbage (each gets a clear reply; the session survives or closes cleanly; the server
# stays healthy); anonymous access is read-only (550 on every write); passive ports come
# from the configured range and data connections from other addresses are refused;
# login, idle and data timeouts and max failed logins.
. tests/integration/lib.sh
# Restarts the server with new flags. The old log is set aside first: ferry_start waits
# for a "ready" line in serve.log and must not find the previous run's.
restart() {
    ferry_stop
    mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$SECONDS.$RANDOM"
    ferry_start "$@"
}
PY=${PYTHON:-/usr/bin/python3}
drive() {
    "$PY" tests/integration/ftp_client.py "$1" 127.0.0.1 "$FTP_PORT" "${@:2}" >"$FERRY_DIR/py.log" 2>&1 ||
        { cat "$FERRY_DIR/py.log" >&2; fail "ftp_client.py $1"; }
    echo "$1: $(grep -c '^ok' "$FERRY_DIR/py.log") checks"
}

lo=$(free_port)
lo=$(( (lo % 20000) + 30000 ))
hi=$((lo + 20))
mkdir -p "$FERRY_ROOT/pub/sub" "$FERRY_ROOT/dave"
printf 'public\n' >"$FERRY_ROOT/pub/readme.txt"
printf 'secret\n' >"$FERRY_ROOT/outside-home.txt"
ferry_start --anonymous --passive-ports "$lo-$hi" --set ftp_allow_plaintext=yes
ferry_user_add dave 'dave-pw'

drive hostile dave dave-pw
[ -f "$FERRY_ROOT/outside-home.txt" ] || fail "file outside the home touched"
[ -e "$FERRY_ROOT/dave/inj2" ] && fail "injected command executed"
drive anonymous anonymous x
[ "$(ls "$FERRY_ROOT/pub")" = "readme.txt
sub" ] || fail "anonymous changed the tree: $(ls "$FERRY_ROOT/pub")"
drive pasv-guard dave dave-pw "$lo" "$hi"
kill -0 "$FERRY_PID" || fail "server died"

restart --set ftp_allow_plaintext=yes --set login_timeout=2 --set idle_timeout=2 \
    --set data_timeout=2 --set max_login_fails=3
drive timeouts dave dave-pw
grep -q '"event":"login_failed"' "$FERRY_STATE/audit.jsonl" || fail "failed logins not audited"

# Per-address session limit: the refused connection is told why.
restart --set ftp_allow_plaintext=yes --set max_per_address=2
"$PY" - "$FTP_PORT" <<'PY' || fail "max_per_address refusal"
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert s.makefile("rb").readline().startswith(b"220")
    held.append(s)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
line = s.makefile("rb").readline()
assert line.startswith(b"421"), line
for h in held:
    h.close()
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
assert s.makefile("rb").readline().startswith(b"220")
PY

# ftp_require_tls: every login, anonymous too, needs AUTH TLS first.
restart --anonymous --set ftp_require_tls=yes
"$PY" - "$FTP_PORT" <<'PY' || fail "ftp_require_tls"
import ftplib, ssl, sys
port = int(sys.argv[1])
f = ftplib.FTP(timeout=10); f.connect("127.0.0.1", port)
try:
    f.login("anonymous", "x"); sys.exit("anonymous plain-text login accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("530"), e
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=10); f.connect("127.0.0.1", port); f.auth()
assert f.login("anonymous", "x").startswith("230")
f.quit()
PY

ferry_stop
! grep -q 'Sanitizer\|runtime error' "$FERRY_DIR"/serve.log* || fail "sanitizer report in serve.log"
echo "t_ftp_hostile: ok"
