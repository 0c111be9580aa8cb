#!/bin/bash
# Scale-out, audit: the records of both nodes go to one table and form one hash chain
# (ferry audit verify --state-db exits 0), interleaved in the order they happened across
# nodes, stored with each node's name, and carrying the client's address 127.0.0.2 from
# the PROXY v2 header, never the balancer's. A record altered in the table is caught
# (exit 3). Nothing goes to the state directories' audit.jsonl.
. tests/cluster/lib.sh
CLUSTER_USERS="ada:ada-pw-1" cluster_start
PY=/usr/bin/python3

echo "audit me" >"$FERRY_DIR/a.txt"
ftp() { curl -sS --max-time 60 --interface "$CLIENT" "$@"; }
dav() { curl -sSfk --max-time 60 --interface "$CLIENT" -u ada:ada-pw-1 "$@"; }
# Alternating nodes, so the chain interleaves records of A and B.
ftp -T "$FERRY_DIR/a.txt" "ftp://ada:ada-pw-1@127.0.0.1:$FE_FTP_A/one.txt" || fail "upload via A"
ftp -o /dev/null "ftp://ada:ada-pw-1@127.0.0.1:$FE_FTP_B/one.txt" || fail "download via B"
dav -T "$FERRY_DIR/a.txt" "https://127.0.0.1:$FE_HTTPS_B/two.txt" || fail "PUT via B"
dav -o /dev/null "https://127.0.0.1:$FE_HTTPS_A/two.txt" || fail "GET via A"
ftp -o /dev/null "ftp://ada:ada-pw-1@127.0.0.1:$FE_FTP_A/two.txt" || fail "download via A"
for i in 1 2 3 4; do
    ftp -o /dev/null "ftp://ada:ada-pw-1@127.0.0.1:$FE_FTP/one.txt" || fail "download $i via HAProxy"
done
ftp -o /dev/null "ftp://ada:wrong@127.0.0.1:$FE_FTP_B/one.txt" 2>/dev/null && fail "a bad password logged in"
# Sessions send their last records as they end; give the parents a moment.
want_min=19 # 9 logins + 2 uploads + 7 downloads + 1 login_failed, logouts aside
for _ in $(seq 50); do
    n=$(pg_sql "SELECT count(*) FROM ferry_audit")
    [ "$n" -ge $want_min ] && break
    sleep 0.2
done
[ "$n" -ge $want_min ] || fail "only $n audit records in the database, want at least $want_min"

out=$("$FERRY_BIN" audit verify --state-db "$STATE_DB" 2>&1) || fail "ferry audit verify --state-db: $out"
nodes=$(pg_sql "SELECT string_agg(DISTINCT node, ',' ORDER BY node) FROM ferry_audit")
assert_eq "$nodes" "A,B" "node names beside the records"
# Interleaved: the node changes along the chain several times.
changes=$(pg_sql "SELECT count(*) FROM (SELECT node, lag(node) OVER (ORDER BY seq) AS prev FROM ferry_audit) t WHERE prev IS NOT NULL AND prev <> node")
[ "$changes" -ge 3 ] || fail "records of A and B do not interleave in one chain ($changes changes)"
echo "audit: $n records from nodes A and B, one chain, verified"

"$FERRY_BIN" audit --state-db "$STATE_DB" --format json >"$FERRY_DIR/audit.json" ||
    fail "ferry audit --state-db --format json"
$PY - "$FERRY_DIR/audit.json" "$CLIENT" <<'PYEOF' || fail "audit records vs the PROXY header"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
client = sys.argv[2]
ev = {}
for r in recs:
    ev[r["event"]] = ev.get(r["event"], 0) + 1
    if r["event"] in ("login", "login_failed", "upload", "download"):
        assert r.get("remote", "").startswith(client + ":"), r
        assert not r["remote"].startswith("127.0.0.1:"), r
assert ev.get("login", 0) >= 9, ev
assert ev.get("login_failed", 0) >= 1, ev
assert ev.get("upload", 0) >= 2, ev
assert ev.get("download", 0) >= 7, ev
for i in range(1, len(recs)):
    assert recs[i]["prev"] == recs[i - 1]["hash"], (i, recs[i - 1], recs[i])
print("audit: %d records, every client record from %s, events %s" % (len(recs), client, ev))
PYEOF
for n in A B; do
    f=$FERRY_DIR/state-$n/audit.jsonl
    [ ! -s "$f" ] || fail "node $n wrote audit records to $f instead of the database"
done

# Tampering in the table is detected.
pg_sql "UPDATE ferry_audit SET line = replace(line, '\"event\":\"download\"', '\"event\":\"delete\"') WHERE seq = (SELECT min(seq) FROM ferry_audit WHERE line LIKE '%\"event\":\"download\"%')" >/dev/null ||
    fail "tampering with the table"
"$FERRY_BIN" audit verify --state-db "$STATE_DB" >/dev/null 2>&1
assert_eq $? 3 "ferry audit verify --state-db after a record was altered"
echo "audit: an altered record is detected (exit 3)"

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_audit: ok"
