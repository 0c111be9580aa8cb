# Helpers for the cluster tests (sourced), on top of tests/integration/lib.sh (fail,
# assert_*, free_port, one temporary directory, cleanup on exit):
#   node_start NAME [serve flags]  a Ferry node: shared root $FERRY_ROOT, own state dir
#                                  $FERRY_DIR/state-NAME, free loopback ports in
#                                  NODE_FTP[NAME] NODE_SFTP[NAME] NODE_HTTPS[NAME]
#   node_stop NAME                 SIGTERM, wait, fail unless it exits 0
#   haproxy_start CFG PORT...      HAProxy in the foreground (-db) on CFG; waits for PORTs
#   pg_start / pg_stop / pg_sql SQL / pg_alive   PostgreSQL 15 in $PG_DIR on $PG_PORT
#   port_open PORT                 something accepts connections on 127.0.0.1:PORT
# Everything started here is stopped on exit, PostgreSQL included.
. tests/integration/lib.sh
HAPROXY=${HAPROXY:-haproxy}
PG_DIR=${PG_DIR:-}
PG_PORT=${PG_PORT:-}
declare -A NODE_PID NODE_FTP NODE_SFTP NODE_HTTPS
_haproxy_pid=

port_open() {
    /usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

_wait_ports() {
    local p i
    for p in "$@"; do
        i=0
        until port_open "$p"; do
            i=$((i + 1))
            [ $i -lt 100 ] || return 1
            sleep 0.1
        done
    done
}

node_start() {
    local name=$1 log
    shift
    NODE_FTP[$name]=$(free_port)
    NODE_SFTP[$name]=$(free_port)
    NODE_HTTPS[$name]=$(free_port)
    log=$FERRY_DIR/node-$name.log
    mkdir -p "$FERRY_ROOT"
    "$FERRY_BIN" serve --root "$FERRY_ROOT" --state "$FERRY_DIR/state-$name" --listen 127.0.0.1 \
        --ftp-port "${NODE_FTP[$name]}" --sftp-port "${NODE_SFTP[$name]}" \
        --https-port "${NODE_HTTPS[$name]}" "$@" >>"$log" 2>&1 &
    NODE_PID[$name]=$!
    local i=0
    until grep -q '^ferry: ready' "$log" 2>/dev/null; do
        kill -0 "${NODE_PID[$name]}" 2>/dev/null || { cat "$log" >&2; fail "node $name exited early"; }
        i=$((i + 1))
        [ $i -lt 200 ] || { cat "$log" >&2; fail "node $name did not become ready"; }
        sleep 0.1
    done
}

node_stop() {
    local name=$1 pid=${NODE_PID[$1]:-} rc=0
    [ -n "$pid" ] || return 0
    NODE_PID[$name]=
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" || rc=$?
    if [ $rc -ne 0 ]; then
        tail -n 40 "$FERRY_DIR/node-$name.log" >&2
        fail "node $name exited with status $rc"
    fi
}

haproxy_start() {
    local cfg=$1
    shift
    "$HAPROXY" -c -q -f "$cfg" || fail "haproxy rejects $cfg"
    "$HAPROXY" -db -f "$cfg" >>"$FERRY_DIR/haproxy.log" 2>&1 &
    _haproxy_pid=$!
    _wait_ports "$@" || { cat "$FERRY_DIR/haproxy.log" >&2; fail "haproxy is not listening"; }
}

pg_start() {
    [ -n "$PG_DIR" ] && [ -n "$PG_PORT" ] || fail "pg_start: set PG_DIR and PG_PORT"
    # The server runs as `postgres` when we are root: it must reach PG_DIR.
    chmod 0711 "$FERRY_DIR"
    sh tests/cluster/pg.sh start "$PG_DIR" "$PG_PORT"
}

pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    sh tests/cluster/pg.sh stop "$PG_DIR"
}

pg_sql() {
    sh tests/cluster/pg.sh psql "$PG_DIR" "$PG_PORT" "$@"
}

# True while any process of this cluster (its data directory on the command line) runs.
pg_alive() {
    [ -n "$PG_DIR" ] && pgrep -f -- "$PG_DIR/data" >/dev/null
}

peer_cleanup() {
    local n
    for n in "${!NODE_PID[@]}"; do
        if [ -n "${NODE_PID[$n]}" ]; then
            kill -TERM "${NODE_PID[$n]}" 2>/dev/null
            wait "${NODE_PID[$n]}" 2>/dev/null
        fi
    done
    if [ -n "$_haproxy_pid" ]; then
        kill -TERM "$_haproxy_pid" 2>/dev/null
        wait "$_haproxy_pid" 2>/dev/null
    fi
    pg_stop 2>/dev/null
}
