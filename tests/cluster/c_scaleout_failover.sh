#!/bin/bash
# Scale-out, fail-over: a download through HAProxy served by node A (B is the backup)
# when node A is killed (kill -9, parent and sessions) mid-transfer; the client
# reconnects through the same HAProxy address, now served by B, resumes where it
# stopped (FTP: curl -C -, i.e. REST + RETR; HTTPS: curl -C -, i.e. Range) and the file
# is byte-identical. B's audit record of the resumed download starts at the offset.
. tests/cluster/lib.sh
CLUSTER_USERS="finn:finn-pw-1" cluster_start
PY=/usr/bin/python3

SIZE=$((24 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$FERRY_ROOT/big.bin"

# Resumes with curl until the file is complete (HAProxy notices A is gone after two
# failed checks; until then a connection may be refused). Args: curl arguments.
resume_until_done() {
    local out=$1 i
    shift
    for i in $(seq 30); do
        curl -sS --max-time 60 --interface "$CLIENT" -C - -o "$out" "$@" 2>>"$FERRY_DIR/resume.err" &&
            return 0
        sleep 0.5
    done
    return 1
}
partial_then_kill() { # OUT URL [curl args]: starts a slow download, kills A mid-way
    local out=$1 url=$2 pid s=0
    shift 2
    curl -sS --max-time 120 --interface "$CLIENT" --limit-rate 2M -o "$out" "$@" "$url" \
        2>>"$FERRY_DIR/first.err" &
    pid=$!
    for _ in $(seq 100); do
        s=$(stat -c %s "$out" 2>/dev/null || echo 0)
        [ "$s" -ge 4000000 ] && break
        sleep 0.1
    done
    [ "$s" -ge 4000000 ] || fail "the download did not start ($s bytes)"
    node_kill A
    wait $pid && fail "the download through A completed although A was killed"
    s=$(stat -c %s "$out")
    [ "$s" -lt $SIZE ] || fail "nothing left to resume"
    echo "failover: node A killed after $s of $SIZE bytes"
}

# FTP through the fail-over frontend (A active, B backup).
url="ftp://finn:finn-pw-1@127.0.0.1:$FE_FTP_FO/big.bin"
partial_then_kill "$FERRY_DIR/ftp.bin" "$url"
node_alive B || fail "node B died with A"
resume_until_done "$FERRY_DIR/ftp.bin" "$url" || fail "FTP resume through HAProxy after A died"
cmp "$FERRY_ROOT/big.bin" "$FERRY_DIR/ftp.bin" || fail "the resumed FTP download differs"
grep -q "ftp connection from $CLIENT:" "$FERRY_DIR/node-B.log" || fail "B did not serve the resume"
echo "failover: FTP download resumed through HAProxy on B, byte-identical"

# The resumed download's record (written by B) starts at an offset.
for _ in $(seq 25); do
    "$FERRY_BIN" audit --state-db "$STATE_DB" --event download --format json >"$FERRY_DIR/dl.json" 2>&1 &&
        $PY -c 'import json,sys; sys.exit(not any(r.get("offset") and r["status"] == "ok" for r in map(json.loads, open(sys.argv[1]))))' \
            "$FERRY_DIR/dl.json" && break
    sleep 0.2
done
$PY -c 'import json,sys; sys.exit(not any(r.get("offset") and r["status"] == "ok" for r in map(json.loads, open(sys.argv[1]))))' \
    "$FERRY_DIR/dl.json" || fail "no completed download record with a non-zero offset: $(cat "$FERRY_DIR/dl.json")"

# HTTPS (WebDAV GET with Range): A restarted, killed again mid-download.
node_start A --set proxy_protocol=yes --set proxy_trusted=127.0.0.1 --set ftp_allow_plaintext=yes \
    --set "state_db=$STATE_DB" --set node_name=A --set max_per_address=200
# The restarted node listens on new ports: a second HAProxy, A active and B backup.
cfg2=$FERRY_DIR/haproxy2.cfg
FE2=$(free_port)
{
    printf 'global\n    maxconn 64\n'
    printf 'defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n'
    printf '    timeout server 120s\n    retries 3\n    option redispatch\n'
    printf '    default-server send-proxy-v2 check check-send-proxy inter 1s fall 2 rise 2\n'
    _ha_backend https2 "$FE2" "a 127.0.0.1:${NODE_HTTPS[A]}" "b 127.0.0.1:${NODE_HTTPS[B]} backup"
} >"$cfg2"
"$HAPROXY" -c -q -f "$cfg2" || fail "haproxy rejects $cfg2"
"$HAPROXY" -db -f "$cfg2" >>"$FERRY_DIR/haproxy2.log" 2>&1 &
_bg_pids="$_bg_pids $!"
_wait_ports "$FE2" || fail "second haproxy not listening"
sleep 2.5
url="https://127.0.0.1:$FE2/big.bin"
partial_then_kill "$FERRY_DIR/dav.bin" "$url" -k -u finn:finn-pw-1
resume_until_done "$FERRY_DIR/dav.bin" -k -u finn:finn-pw-1 "$url" || fail "HTTPS resume after A died"
cmp "$FERRY_ROOT/big.bin" "$FERRY_DIR/dav.bin" || fail "the resumed HTTPS download differs"
echo "failover: HTTPS download resumed (Range) through HAProxy on B, byte-identical"

no_sanitizer_reports A B
node_stop B
echo "c_scaleout_failover: ok"
