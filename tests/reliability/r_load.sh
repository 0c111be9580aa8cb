#!/bin/bash
# Reliability: load (tests/reliability/load.py). LOAD_IDLE (1000) logged-in idle sessions
# over FTP, SFTP and WebDAV, LOAD_TRANSFERS (200) simultaneous downloads, the parent
# responsive (a new login within 1 s, also during the transfers' login storm, whose login
# latencies it reports), the per-address limit enforced; prints RSS and CPU.
# Only in `make reliability`.
. tests/integration/lib.sh
PY=/usr/bin/python3
IDLE=${LOAD_IDLE:-1000} TRANSFERS=${LOAD_TRANSFERS:-200} PER_ADDR=${LOAD_PER_ADDR:-100}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE * 3 + 500)) ] || fail "ulimit -n $(ulimit -n) is too low for $IDLE sessions"
ferry_start --set max_sessions=$((IDLE + TRANSFERS + 100)) --set max_per_address=$PER_ADDR \
    --set ftp_allow_plaintext=yes --set idle_timeout=600 --set login_timeout=600 \
    --passive-ports 40000-40999
ferry_user_add lou 'lou-pw-3' --home /
ferry_user_add louprobe 'probe-pw-3' --home /
head -c $((4 * 1024 * 1024)) /dev/urandom >"$FERRY_ROOT/load.bin"
printf 'small\n' >"$FERRY_ROOT/small.txt"
export FERRY_PID FTP_PORT SFTP_PORT HTTPS_PORT LUSER=lou LPASS=lou-pw-3 PUSER=louprobe PPASS=probe-pw-3
$PY tests/reliability/load.py "$IDLE" "$TRANSFERS" "$PER_ADDR" "$FERRY_ROOT/load.bin" ||
    fail "load"
kill -0 "$FERRY_PID" || fail "parent died under load"
ferry_stop
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "r_load: ok"
