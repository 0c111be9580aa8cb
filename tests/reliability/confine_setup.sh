# shellcheck shell=bash
# Sourced by tests/reliability/r_confinement.sh and tests/integration/t_confinement.sh
# (after tests/integration/lib.sh and tests/peers/peers.sh): starts `ferry serve` with a
# [mount /up] on a pyftpdlib upstream, users mallory (home /mallory) and moe (home /),
# plants the outside files and the symlink traps of hostile_paths.tsv, then runs
# confine.py over the matrix (arguments are passed on: --short).
PY=/usr/bin/python3
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || fail "python3-paramiko missing"
OUT_DIR=$FERRY_DIR/outside
UP_DIR=$FERRY_DIR/upstream
mkdir -p "$OUT_DIR" "$UP_DIR/sub" "$FERRY_ROOT/mallory/sub" "$FERRY_ROOT/mallory/racedir.real"
printf 'OUTSIDE-SECRET root\n' >"$FERRY_ROOT/OUTSIDE_SECRET.txt"
printf 'OUTSIDE-SECRET dir\n' >"$OUT_DIR/OUTSIDE_FILE.txt"
printf 'OUTSIDE-SECRET race\n' >"$OUT_DIR/big.bin"
printf 'OUTSIDE-SECRET upstream\n' >"$UP_DIR/OUTSIDE_UP.txt"
printf 'inside\n' >"$UP_DIR/sub/inside.txt"
H=$FERRY_ROOT/mallory
printf 'inside ok\n' >"$H/inside.txt"
printf 'victim\n' >"$H/victim.txt"
head -c 200000 /dev/urandom >"$H/racedir.real/big.bin"
ln -s /etc "$H/abs_etc"
ln -s / "$H/root_link"
ln -s ../OUTSIDE_SECRET.txt "$H/up_link"
ln -s "$OUT_DIR" "$H/out_dir_link"
ln -s chain2 "$H/chain1" && ln -s chain3 "$H/chain2" && ln -s ../../OUTSIDE_SECRET.txt "$H/chain3"
ln -s .. "$H/dir_up"
ln -s loop_b "$H/loop_a" && ln -s loop_a "$H/loop_b"
ln -s "$OUT_DIR/NEW" "$H/dangling_out"
ln -s racedir.real "$H/racedir"

peer_start pyftpdlib "$UP_DIR" user || fail "pyftpdlib did not start"
cat >"$FERRY_DIR/ferry.conf" <<CONF
[mount /up]
url = ${PEER_URL}sub/
read_only = no
cache_ttl = 0s
CONF
ferry_start --config "$FERRY_DIR/ferry.conf" --set ftp_allow_plaintext=yes \
    --set max_login_fails=1000 --set max_per_address=64
MALLORY_PASS=mallory-pw-9
MOE_PASS=moe-pw-9
ferry_user_add mallory "$MALLORY_PASS" --home /mallory
ferry_user_add moe "$MOE_PASS" --home /
export FERRY_ROOT OUT_DIR UP_DIR MALLORY_PASS MOE_PASS FTP_PORT SFTP_PORT HTTPS_PORT
confine_out=$FERRY_DIR/confine.out
$PY "$FERRY_SRC/tests/reliability/confine.py" "$FERRY_SRC/tests/reliability/hostile_paths.tsv" "$@" \
    >"$confine_out" 2>&1
confine_rc=$?
cat "$confine_out"
kill -0 "$FERRY_PID" 2>/dev/null || fail "ferry serve died during the matrix"
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" ||
    fail "sanitizer report in serve.log"
[ $confine_rc -eq 0 ] || fail "confinement matrix: some cases escaped (see above)"
