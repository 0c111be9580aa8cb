#!/bin/bash
# Scale-out, the database restarted under load: PostgreSQL is stopped (fast: every
# connection cut) for a few seconds and started again while downloads run through
# HAProxy on both nodes and short upload sessions keep arriving. No node crashes; logins
# work again once the database is back; afterwards every operation the clients saw
# succeed has exactly one audit record (the nodes queued them and flushed them in
# order) and the chain verifies.
. tests/cluster/lib.sh
CLUSTER_USERS="pia:pia-pw-1" cluster_start
PY=/usr/bin/python3

SIZE=$((6 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$FERRY_ROOT/big.bin"
echo "small" >"$FERRY_DIR/small.txt"
ftp="ftp://pia:pia-pw-1@127.0.0.1:$FE_FTP"
mkdir -p "$FERRY_DIR/ok"

# Long downloads (about 6 s each at 1 MiB/s), both nodes through round robin.
for i in 1 2 3 4; do
    (curl -sS --max-time 60 --interface "$CLIENT" --limit-rate 1M -o "$FERRY_DIR/dl-$i.bin" \
        "$ftp/big.bin" 2>>"$FERRY_DIR/dl.err" && cmp -s "$FERRY_ROOT/big.bin" "$FERRY_DIR/dl-$i.bin" &&
        touch "$FERRY_DIR/ok/dl-$i") &
    _bg_pids="$_bg_pids $!"
done
# Short sessions, one upload each under its own name, before, during and after the
# outage. Those that fail (login refused while the database is down) are not counted.
(for i in $(seq 1 40); do
    curl -sS --max-time 20 --interface "$CLIENT" -T "$FERRY_DIR/small.txt" "$ftp/up-$i.txt" \
        2>>"$FERRY_DIR/up.err" && touch "$FERRY_DIR/ok/up-$i"
    sleep 0.2
done) &
uploader=$!
sleep 1.5
pg_stop || fail "pg.sh stop"
echo "pgrestart: PostgreSQL stopped"
sleep 3
for n in A B; do node_alive $n || fail "node $n died while the database was down"; done
pg_start >/dev/null || fail "pg.sh start (restart)"
echo "pgrestart: PostgreSQL started again"
wait $uploader
for p in $_bg_pids; do wait "$p" 2>/dev/null; done
_bg_pids=
for n in A B; do node_alive $n || fail "node $n died"; done

# Logins work again on both nodes.
for fe in "$FE_FTP_A" "$FE_FTP_B"; do
    ok=
    for _ in $(seq 60); do
        curl -sS --max-time 10 --interface "$CLIENT" -o /dev/null "ftp://pia:pia-pw-1@127.0.0.1:$fe/up-1.txt" \
            2>/dev/null && { ok=1; break; }
        sleep 0.25
    done
    [ -n "$ok" ] || fail "no login through port $fe after the database came back"
done
downloads=$(ls "$FERRY_DIR/ok" | grep -c '^dl-')
uploads=$(ls "$FERRY_DIR/ok" | grep -c '^up-')
[ "$downloads" -ge 1 ] || fail "no long download survived the outage"
echo "pgrestart: $downloads long downloads and $uploads uploads succeeded"

# Every operation seen to succeed has exactly one record (queued records flushed).
check_records() {
    "$FERRY_BIN" audit --state-db "$STATE_DB" --format json >"$FERRY_DIR/audit.json" 2>"$FERRY_DIR/audit.err" ||
        return 1
    $PY - "$FERRY_DIR/audit.json" "$FERRY_DIR/ok" <<'PYEOF'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = set(os.listdir(sys.argv[2]))
bad = []
for name in sorted(n for n in ok if n.startswith("up-")):
    path = "/" + name + ".txt"
    n = sum(1 for r in recs if r["event"] == "upload" and r.get("path") == path and r["status"] == "ok")
    if n != 1:
        bad.append("%s: %d upload records" % (path, n))
want = sum(1 for n in ok if n.startswith("dl-"))
# the long ones: size-long, from offset 0; the post-outage login checks read up-1.txt
got = sum(1 for r in recs if r["event"] == "download" and r.get("path") == "/big.bin" and r["status"] == "ok")
if got != want:
    bad.append("big.bin: %d download records, %d downloads succeeded" % (got, want))
if bad:
    print("; ".join(bad))
    sys.exit(1)
PYEOF
}
for _ in $(seq 50); do
    check_records >"$FERRY_DIR/check.out" && break
    sleep 0.3
done
check_records || fail "audit records do not match the operations: $(cat "$FERRY_DIR/check.out")"
out=$("$FERRY_BIN" audit verify --state-db "$STATE_DB" 2>&1) || fail "ferry audit verify --state-db: $out"
echo "pgrestart: one record per operation, chain verified"
for n in A B; do
    grep -qi "database\|state_db" "$FERRY_DIR/node-$n.log" || fail "node $n logged nothing about the outage"
done

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_pgrestart: ok"
