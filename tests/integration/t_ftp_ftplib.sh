#!/bin/bash
# FTP/FTPS front end with Python ftplib / FTP_TLS over every command of issue 3 (see
# tests/integration/ftp_client.py): RFC 959 core, FEAT/OPTS, EPSV/EPRT, SIZE/MDTM/MLSD/
# MLST/REST, UTF8, MFMT, HASH and X* digests, SITE CHMOD/HELP, STAT, TYPE A conversion,
# ABOR; TLS session reuse required by default; a sparse file above 4 GiB listed with its
# true size and resumed above 4 GiB both ways; names for a GBK-only client; plain-text
# logins refused unless allowed.
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
    "$PY" tests/integration/ftp_client.py "$1" 127.0.0.1 "$FTP_PORT" "${@:2}" >"$FERRY_DIR/py.log" 2>&1 && echo "$1: $(grep -c "^ok" "$FERRY_DIR/py.log") checks" ||
        { cat "$FERRY_DIR/py.log" >&2; fail "ftp_client.py $1"; }
}

ferry_start --set ftp_allow_plaintext=yes
ferry_user_add carol 'carol-pw'
mkdir -p "$FERRY_ROOT/carol"

drive commands carol carol-pw
drive commands carol carol-pw tls
drive noreuse carol carol-pw

head -c 60000000 /dev/zero >"$FERRY_ROOT/carol/zero.bin"
drive abort carol carol-pw zero.bin
grep '"path":"/zero.bin"' "$FERRY_STATE/audit.jsonl" | grep -q '"status":"aborted"' ||
    fail "ABOR not recorded as aborted"

# A sparse file above 4 GiB.
big=$((5 * 1024 * 1024 * 1024))
truncate -s $big "$FERRY_ROOT/carol/huge.bin"
printf 'THE-END' | dd of="$FERRY_ROOT/carol/huge.bin" bs=1 seek=$((big - 7)) conv=notrunc 2>/dev/null
drive big carol carol-pw huge.bin $big
assert_eq "$(stat -c %s "$FERRY_ROOT/carol/huge.bin")" $((big + 9)) "size after resumed uploads"
tail -c 16 "$FERRY_ROOT/carol/huge.bin" | grep -q 'THE-ENDAPPENDED!' || fail "bytes above 4 GiB"
grep '"path":"/huge.bin"' "$FERRY_STATE/audit.jsonl" | grep '"event":"upload"' |
    grep -q "\"offset\":$big" || fail "audit offset above 4 GiB"
rm -f "$FERRY_ROOT/carol/huge.bin"

# Every data connection above resumed the control connection's TLS session; with
# ftp_require_ssl_reuse = no a client that cannot do that is served too.
restart --set ftp_allow_plaintext=yes --set ftp_require_ssl_reuse=no
"$PY" - "$FTP_PORT" <<'PY' || fail "FTP_TLS without session reuse when reuse is not required"
import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=30)
f.connect("127.0.0.1", int(sys.argv[1])); f.auth(); f.login("carol", "carol-pw"); f.prot_p()
assert "zero.bin" in f.nlst(), f.nlst()
f.quit()
PY

# A client limited to GBK (old Windows on a Chinese system): names converted both ways.
printf 'zh\n' >"$FERRY_ROOT/carol/中文.txt"
printf 'smile\n' >"$FERRY_ROOT/carol/emoji-😀.txt"
printf 'ru\n' >"$FERRY_ROOT/carol/cyr-Привет.txt"
restart --set ftp_allow_plaintext=yes --set ftp_client_encoding=GBK
drive encoding carol carol-pw GBK
[ -f "$FERRY_ROOT/carol/上传.txt" ] || fail "GBK upload not stored under its UTF-8 name"

# Defaults: plain-text PASS is refused, the same login over AUTH TLS works.
restart
drive plaintext-refused carol carol-pw

ferry_stop
! grep -q 'Sanitizer\|runtime error' "$FERRY_DIR"/serve.log* || fail "sanitizer report in serve.log"
echo "t_ftp_ftplib: ok"
