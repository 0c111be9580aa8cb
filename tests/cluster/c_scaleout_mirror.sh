#!/bin/bash
# Scale-out, mirror jobs: `ferry mirror` into the shared root, run "on node A" with the
# cluster's state_db, holds the job's lock in PostgreSQL; the same job started "on node
# B" (its cron, state_db from B's config file) exits 4 at once, naming the database
# lock; after A's run the mirrored tree is served by both nodes and B's run succeeds.
# Then PostgreSQL restarts under a running job while another node's run starts as soon
# as the database is back: exactly one of them keeps the job (the other exits 4, or the
# first notices it lost its lock, stops handing out files and exits 75).
# The upstream is a throttled pyftpdlib, so A's run lasts a few seconds.
. tests/cluster/lib.sh
CLUSTER_USERS="mira:mira-pw-1" cluster_start
PY=/usr/bin/python3

SRC=$FERRY_DIR/upstream
mkdir -p "$SRC/pub"
head -c 2500000 /dev/urandom >"$SRC/pub/big.bin"
echo "readme" >"$SRC/pub/README"
port=$(free_port)
$PY tests/integration/pyftpd_mirror.py "$port" "$SRC" 500000 >>"$FERRY_DIR/ftpd.log" 2>&1 &
_bg_pids="$_bg_pids $!"
for _ in $(seq 50); do curl -s "ftp://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
URL="ftp://u:p@127.0.0.1:$port/pub/"
DEST=$FERRY_ROOT/mirror/pub
CONF_B=$FERRY_DIR/node-B.conf
printf '[server]\nstate_db = %s\nnode_name = B\n' "$STATE_DB" >"$CONF_B"

"$FERRY_BIN" mirror "$URL" "$DEST" --state-db "$STATE_DB" --quiet --retries 0 \
    2>"$FERRY_DIR/mirror-a.err" &
apid=$!
for _ in $(seq 50); do
    [ "$(pg_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
    sleep 0.1
done
"$FERRY_BIN" mirror "$URL" "$DEST" --config "$CONF_B" --quiet 2>"$FERRY_DIR/mirror-b.err"
rc=$?
kill -0 $apid 2>/dev/null || fail "A's mirror ended before B's run was tried"
assert_eq $rc 4 "the same mirror job on node B while A's runs"
assert_contains "$(cat "$FERRY_DIR/mirror-b.err")" "state database" "B's refusal names the database lock"
echo "mirror: the job running on A, the same job on B exits 4"

wait $apid || { cat "$FERRY_DIR/mirror-a.err" >&2; fail "A's mirror failed"; }
for fe in "$FE_FTP_A" "$FE_FTP_B"; do
    curl -sS --max-time 60 --interface "$CLIENT" -o "$FERRY_DIR/got.bin" \
        "ftp://mira:mira-pw-1@127.0.0.1:$fe/mirror/pub/big.bin" || fail "download via port $fe"
    cmp -s "$SRC/pub/big.bin" "$FERRY_DIR/got.bin" || fail "the mirrored file via port $fe differs"
done
js=$("$FERRY_BIN" mirror "$URL" "$DEST" --config "$CONF_B" --json) || fail "B's run after A's"
echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["transferred"]==0 and s["failed"]==0, s' ||
    fail "B's run after A's: $js"
echo "mirror: after A's run both nodes serve the tree; B's run has nothing left to do"

# A restart under a running job. "Node B" runs in a mount namespace where the jobs
# directory is another filesystem: only the database can keep the two runs apart.
unshare -m true 2>/dev/null || fail "unshare -m does not work here (root needed)"
mkdir -p "$FERRY_DIR/jobs"
LOCK=$FERRY_DIR/jobs/pub.lock
one_key_locks() {
    pg_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
}
"$FERRY_BIN" mirror "$URL" "$FERRY_ROOT/mirror2" --lock "$LOCK" --state-db "$STATE_DB" --retries 0 \
    2>"$FERRY_DIR/run-a.err" &
apid=$!
for _ in $(seq 50); do
    [ "$(one_key_locks)" = 1 ] && break
    sleep 0.1
done
assert_eq "$(one_key_locks)" 1 "A's run holds its job lock"
pg_stop || fail "pg.sh stop"
sleep 1
pg_start >/dev/null || fail "pg.sh start"
unshare -m sh -c 'mount -t tmpfs ferry-test "$0" && exec "$@"' "$FERRY_DIR/jobs" \
    "$FERRY_BIN" mirror "$URL" "$FERRY_DIR/node-b-dest" --lock "$LOCK" --state-db "$STATE_DB" \
    --quiet 2>"$FERRY_DIR/run-b.err"
rcb=$?
wait $apid
rca=$?
if [ $rcb = 4 ]; then
    assert_eq $rca 0 "A kept its job lock across the restart: A's exit status"
    assert_contains "$(cat "$FERRY_DIR/run-a.err")" "held again" "A says it holds the lock again"
    cmp -s "$SRC/pub/big.bin" "$FERRY_ROOT/mirror2/big.bin" || fail "A's mirror after the restart"
    echo "mirror: PostgreSQL restarted under A's job: A took its lock back first, B exited 4"
elif [ $rcb = 0 ]; then
    assert_eq $rca 75 "B got the job during the restart: A's exit status"
    assert_contains "$(cat "$FERRY_DIR/run-a.err")" "lost the job lock" "A says it lost the lock"
    cmp -s "$SRC/pub/big.bin" "$FERRY_DIR/node-b-dest/big.bin" || fail "B's mirror"
    echo "mirror: PostgreSQL restarted under A's job: B got the lock first, A stopped (75)"
else
    cat "$FERRY_DIR/run-b.err" >&2
    fail "B's run after the restart exited $rcb"
fi
for n in A B; do node_alive $n || fail "node $n died when PostgreSQL restarted"; done

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_mirror: ok"
