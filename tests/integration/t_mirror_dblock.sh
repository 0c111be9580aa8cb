#!/bin/bash
# ferry mirror's job lock in PostgreSQL (--state-db, or state_db from --config): while
# one run of a job holds it, the same job started on "another node" - its own DEST, and
# (where unshare works) its own mount namespace in which the shared lock directory is
# another filesystem, so no flock can reach the first run - exits 4 at once, refused by
# the database; once the first run ends the second runs and mirrors; the lock is a
# session advisory lock (visible in pg_locks, gone with the run, even a killed one);
# when the database drops the run's connection mid-run, the run takes its lock again
# and keeps the job; with the database down a run exits 75 (cron retries) and says so.
# The runs' audit records join the database's chain (node_name from --config), survive
# a dropped connection, and go to --state's audit file when the database goes away.
# PostgreSQL 15 from tests/cluster/pg.sh on a free port, the schema from `ferry db
# migrate`, the upstream a throttled pyftpdlib.
. tests/cluster/lib.sh

PY=/usr/bin/python3
PG_DIR=$FERRY_DIR/pg
PG_PORT=$(free_port)
DB=$(pg_start) || fail "PostgreSQL did not start"
"$FERRY_BIN" db migrate --state-db "$DB" >"$FERRY_DIR/migrate.log" 2>&1 ||
    { cat "$FERRY_DIR/migrate.log" >&2; fail "ferry db migrate"; }

SRC=$FERRY_DIR/src
mkdir -p "$SRC/sub"
head -c 2400000 /dev/urandom >"$SRC/slow.bin"
printf 'small\n' >"$SRC/sub/small.txt"
port=$(free_port)
# 400 kB/s: the first run holds the lock for about six seconds.
$PY tests/integration/pyftpd_mirror.py "$port" "$SRC" 400000 >>"$FERRY_DIR/ftpd.log" 2>&1 &
_bg_pids="$_bg_pids $!"
for _ in $(seq 50); do curl -s "ftp://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
URL="ftp://u:p@127.0.0.1:$port/"

advisory_locks() {
    pg_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
}
# wait_locks N: until N advisory locks are granted (5 s at most; the caller asserts)
wait_locks() {
    for _ in $(seq 50); do
        [ "$(advisory_locks)" = "$1" ] && return
        sleep 0.1
    done
}

# The job's lock file lives on the shared filesystem; each "node" mirrors into its own
# DEST. The same --lock names the same job.
mkdir -p "$FERRY_DIR/jobs"
LOCK=$FERRY_DIR/jobs/upstream.lock
DEST_A=$FERRY_DIR/node-a/mirror
DEST_B=$FERRY_DIR/node-b/mirror
CONF=$FERRY_DIR/ferry.conf
printf '[server]\nstate_db = %s\nnode_name = mirror-node-b\n' "$DB" >"$CONF"
# other_node CMD...: CMD where the jobs directory is a fresh tmpfs (a node whose
# filesystem locks do not reach ours), or plainly when mount namespaces are unavailable.
if unshare -m true 2>/dev/null; then
    other_node() {
        unshare -m sh -c 'mount -t tmpfs ferry-test "$0" && exec "$@"' "$FERRY_DIR/jobs" "$@"
    }
    echo "other node: a mount namespace with its own $FERRY_DIR/jobs"
else
    other_node() { "$@"; }
    echo "other node: same namespace (no unshare): the database refuses before the flock"
fi

assert_eq "$(advisory_locks)" 0 "advisory locks before any run"
"$FERRY_BIN" mirror "$URL" "$DEST_A" --lock "$LOCK" --state-db "$DB" --retries 0 --quiet \
    2>"$FERRY_DIR/a.err" &
apid=$!
wait_locks 1
assert_eq "$(advisory_locks)" 1 "the running mirror holds one advisory lock"

# "Node B", state_db from the config file: refused by the database at once.
t0=$(date +%s%N)
other_node "$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --config "$CONF" --quiet \
    2>"$FERRY_DIR/b.err"
rc=$?
t1=$(date +%s%N)
assert_eq $rc 4 "the same job on another node while the first runs"
kill -0 $apid 2>/dev/null || fail "the first run ended before the contention was tested"
assert_contains "$(cat "$FERRY_DIR/b.err")" "another mirror into $DEST_B is running" \
    "message of the refused run"
assert_contains "$(cat "$FERRY_DIR/b.err")" "state database" "the refusal names the database lock"
[ $(((t1 - t0) / 1000000)) -lt 4000 ] || fail "the refused run did not exit at once"
[ -z "$(ls -A "$DEST_B" 2>/dev/null | grep -v '^\.ferry')" ] || fail "the refused run wrote files"
# --state-db on the command line: refused the same way.
other_node "$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --state-db "$DB" --quiet 2>/dev/null
assert_eq $? 4 "the same job with --state-db while the first runs"
# A run without the database still meets the lock file on this machine.
"$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --quiet 2>"$FERRY_DIR/c.err"
assert_eq $? 4 "the same job without --state-db on the same machine"
assert_contains "$(cat "$FERRY_DIR/c.err")" "as pid $apid" "the lock file names the holder"
# Another job (another DEST, its own lock) is not held up.
"$FERRY_BIN" mirror "ftp://u:p@127.0.0.1:$port/sub/" "$FERRY_DIR/other" --state-db "$DB" \
    --quiet || fail "an unrelated job was refused"
echo "lock: held across 'nodes' by the database, the same job refused (exit 4)"

wait $apid || { cat "$FERRY_DIR/a.err" >&2; fail "the first run failed"; }
cmp -s "$SRC/slow.bin" "$DEST_A/slow.bin" || fail "first run: content differs"
assert_eq "$(advisory_locks)" 0 "advisory locks after the first run"
"$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --config "$CONF" --quiet ||
    fail "the second node's run after the first ended"
diff -r "$SRC" "$DEST_B" -x .ferry-mirror.lock >/dev/null || fail "second run: tree differs"
assert_eq "$(advisory_locks)" 0 "advisory locks after the second run"
echo "lock: released with the run, the second node's run mirrors"

# Both runs' records are in the database's one chain: downloads with their SHA-256,
# the run records, the node names; the chain verifies.
audit_db() { "$FERRY_BIN" audit --state-db "$DB" --proto mirror --format json "$@"; }
want=$(sha256sum "$SRC/slow.bin" | cut -d' ' -f1)
assert_eq "$(audit_db --event download --path "$DEST_A/slow.bin" | grep -c "\"sha256\":\"$want\"")" 1 \
    "node A's download of slow.bin in the database, with its hash"
assert_eq "$(audit_db --event download --path "$DEST_B/*" | grep -c '"status":"ok"')" 2 \
    "node B's two downloads in the database"
assert_eq "$(audit_db --event mirror --path "$DEST_B" | grep -c '"status":"ok"')" 1 "node B's run record"
assert_eq "$(pg_sql "SELECT count(*) FROM ferry_audit WHERE node = 'mirror-node-b'")" 3 \
    "node B's records under node_name from --config"
"$FERRY_BIN" audit verify --state-db "$DB" >"$FERRY_DIR/verify.out" 2>&1 ||
    { cat "$FERRY_DIR/verify.out" >&2; fail "the chain with the mirror records"; }
[ ! -e ferry-state/audit.jsonl ] || fail "records went to a file beside the database"
echo "audit: the runs' records in the database's chain, verified"

# A run killed hard leaves no stale lock: the database drops it with the connection.
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/killed" --lock "$LOCK" --state-db "$DB" --quiet \
    2>/dev/null &
kpid=$!
wait_locks 1
kill -9 $kpid
wait $kpid 2>/dev/null
wait_locks 0
assert_eq "$(advisory_locks)" 0 "advisory locks after a run was killed"
"$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --state-db "$DB" --quiet ||
    fail "a run after a killed one"
echo "lock: a killed run leaves no stale lock"

# The database drops the run's connection (as a PostgreSQL restart does): the run
# notices, takes its lock again and keeps the job; the other node is still refused.
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/retake" --lock "$LOCK" --state-db "$DB" --quiet \
    2>"$FERRY_DIR/retake.err" &
rpid=$!
wait_locks 1
assert_eq "$(pg_sql "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted) t")" \
    1 "terminating the run's database session"
for _ in $(seq 60); do
    [ "$(advisory_locks)" = 1 ] && break
    sleep 0.1
done
assert_eq "$(advisory_locks)" 1 "the run took its lock again"
# and the audit link's connection (the one client backend without the advisory lock)
assert_eq "$(pg_sql "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)) t")" \
    1 "terminating the run's audit connection"
kill -0 $rpid 2>/dev/null || fail "the run ended before the retaken lock was tested"
other_node "$FERRY_BIN" mirror "$URL" "$DEST_B" --lock "$LOCK" --state-db "$DB" --quiet 2>/dev/null
assert_eq $? 4 "the same job on another node after the lock was retaken"
wait $rpid || { cat "$FERRY_DIR/retake.err" >&2; fail "the run whose connection was dropped failed"; }
cmp -s "$SRC/slow.bin" "$FERRY_DIR/retake/slow.bin" || fail "the run whose connection was dropped: content"
assert_contains "$(cat "$FERRY_DIR/retake.err")" "held again" "the run says it holds the lock again"
assert_eq "$(audit_db --event download --path "$FERRY_DIR/retake/*" | grep -c '"status":"ok"')" 2 \
    "the run's downloads reached the database over a new audit connection"
echo "lock: a dropped database connection, the lock taken again, the job kept"

# Usage: only mirror takes --state-db.
"$FERRY_BIN" ls "$URL" --state-db "$DB" >/dev/null 2>&1
assert_eq $? 2 "ferry ls --state-db"

# The database goes away mid-run: the run keeps its job (no one else can take it), and
# its records go to --state's audit file, which it names.
mkdir -p "$FERRY_DIR/mstate"
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/gone" --lock "$LOCK" --state-db "$DB" \
    --state "$FERRY_DIR/mstate" --quiet 2>"$FERRY_DIR/gone.err" &
gpid=$!
wait_locks 1
assert_eq "$(advisory_locks)" 1 "the run holds its lock before the database stops"
pg_stop || fail "pg.sh stop"
wait $gpid || { cat "$FERRY_DIR/gone.err" >&2; fail "the run whose database went away"; }
cmp -s "$SRC/slow.bin" "$FERRY_DIR/gone/slow.bin" || fail "the run whose database went away: content"
assert_contains "$(cat "$FERRY_DIR/gone.err")" "written to the audit file instead" \
    "the run says where its records went"
assert_eq "$(grep -c '"event":"download"' "$FERRY_DIR/mstate/audit.jsonl")" 2 \
    "the downloads in the fallback audit file"
"$FERRY_BIN" audit verify --log "$FERRY_DIR/mstate/audit.jsonl" >/dev/null ||
    fail "the fallback audit file's chain"
echo "audit: the database gone mid-run, the records in the state directory's file"

# The database down: a temporary failure, exit 75, nothing fetched.
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/down" --lock "$LOCK" --state-db "$DB" --quiet \
    2>"$FERRY_DIR/down.err"
assert_eq $? 75 "mirror with the state database down"
assert_contains "$(cat "$FERRY_DIR/down.err")" "state database" "the message names the database"
assert_contains "$(cat "$FERRY_DIR/down.err")" "retry later" "the message says to retry"
[ ! -e "$FERRY_DIR/down/slow.bin" ] || fail "a run without its lock fetched files"
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/down" --config "$CONF" --quiet 2>/dev/null
assert_eq $? 75 "mirror --config with the state database down"
echo "database down: exit 75"
echo "t_mirror_dblock: ok"
