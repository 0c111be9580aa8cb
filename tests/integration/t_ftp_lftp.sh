#!/bin/bash
# FTP/FTPS front end with lftp: mirror and mirror -R of a tree (names with spaces,
# nested directories), pget -n 4 of a large file (four REST + RETR streams at once), all
# with `set ftp:ssl-force true` (AUTH TLS, PROT P, TLS session reuse on every data
# connection), plus a plain-text session where the admin allows it.
. tests/integration/lib.sh
# Restarts the server with new flags. The old log is set aside first: ferry_start waits
# for a "ready" line in serve.log and must not find the previous run's.
restart() {
    ferry_stop
    mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$SECONDS.$RANDOM"
    ferry_start "$@"
}

ferry_start -v --set ftp_allow_plaintext=yes
ferry_user_add bob 'bob-pw'
mkdir -p "$FERRY_ROOT/bob"
W=$FERRY_DIR/work
mkdir -p "$W/src/a/b c" "$W/src/empty"
head -c 100000 /dev/urandom >"$W/src/a/f1"
head -c 2000000 /dev/urandom >"$W/src/a/b c/f2"
printf 'x\n' >"$W/src/ leading space"
printf 'y\n' >"$W/src/a/trailing space "
head -c 40000000 /dev/urandom >"$FERRY_ROOT/bob/large.bin"

LFTP_TLS="set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true"
LFTP_TLS="$LFTP_TLS; set ftp:ssl-protect-list true; set net:max-retries 1; set net:timeout 30"
lftp_run() {
    local t0=$SECONDS
    timeout 120 lftp -u bob,bob-pw -e "debug -t 5; $1; quit" "127.0.0.1:$FTP_PORT" >"$FERRY_DIR/lftp.log" 2>&1 ||
        { cat "$FERRY_DIR/lftp.log" >&2; fail "lftp: $1"; }
    echo "lftp ($((SECONDS - t0)) s): ${1##*; }"
}

lftp_run "$LFTP_TLS; mirror -R $W/src /tree"
diff -r "$W/src" "$FERRY_ROOT/bob/tree" || fail "mirror -R result differs"
lftp_run "$LFTP_TLS; mirror /tree $W/back"
diff -r "$W/src" "$W/back" || fail "mirror result differs"
# A second mirror -R transfers nothing and changes nothing.
lftp_run "$LFTP_TLS; mirror -R --dry-run $W/src /tree"
[ -s "$FERRY_DIR/lftp.log" ] && grep -q "Transferring\|put " "$FERRY_DIR/lftp.log" &&
    fail "second mirror -R would transfer again"

# Loopback is fast enough for one stream to fetch it all before the others log in:
# limit each connection so that all four really run.
lftp_run "$LFTP_TLS; set net:limit-rate 5M; pget -n 4 large.bin -o $W/large.bin"
cmp -s "$FERRY_ROOT/bob/large.bin" "$W/large.bin" || fail "pget -n 4 result differs"
# pget's four streams each show in the audit log as a download with its own offset.
n=$(grep '"event":"download"' "$FERRY_STATE/audit.jsonl" | grep '"path":"/large.bin"' |
    grep -c '"proto":"ftps"')
[ "$n" -ge 4 ] || fail "pget -n 4: expected >= 4 ftps download records, got $n"
grep '"path":"/large.bin"' "$FERRY_STATE/audit.jsonl" | grep -v '"offset":0,' | grep -q download ||
    fail "pget streams should start at offsets > 0"

# Many TLS uploads and downloads in one session: every data connection must resume the
# TLS session, and no upload may lose its tail (a client that closes an upload's data
# connection with unread TLS 1.3 tickets in its buffer resets it: Ferry sends none there).
cmds="$LFTP_TLS"
for i in $(seq 15); do
    cmds="$cmds; put $W/src/a/b\ c/f2 -o /rep$i; get /rep$i -o $W/rep$i"
done
lftp_run "$cmds"
for i in $(seq 15); do
    cmp -s "$W/src/a/b c/f2" "$FERRY_ROOT/bob/rep$i" || fail "repeated TLS put $i differs"
    cmp -s "$W/src/a/b c/f2" "$W/rep$i" || fail "repeated TLS get $i differs"
done

# Plain text (allowed here), active mode.
lftp_run "set ftp:ssl-allow false; set ftp:passive-mode false; get large.bin -o $W/large2.bin"
cmp -s "$FERRY_ROOT/bob/large.bin" "$W/large2.bin" || fail "plain active get differs"
lftp_run "set ftp:ssl-allow false; put $W/src/a/f1 -o /put-plain"
cmp -s "$W/src/a/f1" "$FERRY_ROOT/bob/put-plain" || fail "plain put differs"
# TLS in active mode.
lftp_run "$LFTP_TLS; set ftp:passive-mode false; get large.bin -o $W/large3.bin"
cmp -s "$FERRY_ROOT/bob/large.bin" "$W/large3.bin" || fail "TLS active get differs"
# Resume a download (get -c).
head -c 12345678 "$FERRY_ROOT/bob/large.bin" >"$W/large4.bin"
lftp_run "$LFTP_TLS; get -c large.bin -o $W/large4.bin"
cmp -s "$FERRY_ROOT/bob/large.bin" "$W/large4.bin" || fail "get -c result differs"
# Delete a tree through lftp.
lftp_run "$LFTP_TLS; rm -r /tree"
[ -e "$FERRY_ROOT/bob/tree" ] && fail "rm -r left the tree"

ferry_stop
! grep -q 'Sanitizer\|runtime error' "$FERRY_DIR"/serve.log* || fail "sanitizer report in serve.log"
echo "t_ftp_lftp: ok"
