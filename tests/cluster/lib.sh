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

# ---- the scale-out cluster (issue 12), for c_scaleout_*.sh ----
#   cluster_start [serve flags]   PostgreSQL (schema by `ferry db migrate`), nodes A and B
#       with state_db and node_name, PROXY protocol from 127.0.0.1, own passive port
#       ranges, one shared root; B gets A's host key and certificate (same state dir
#       content); HAProxy in TCP mode with send-proxy-v2 in front:
#         FE_FTP FE_HTTPS           round robin over both nodes
#         FE_FTP_A FE_HTTPS_A / FE_FTP_B FE_HTTPS_B   pinned to one node
#         FE_FTP_FO FE_HTTPS_FO     A, with B as backup (fail-over)
#       STATE_DB is the database URL. Clients connect from $CLIENT. Users listed in
#       CLUSTER_USERS="NAME:PASS ..." are added (cluster_user) before the nodes start,
#       so they are loaded at start rather than by a notification racing the test.
#   cluster_user NAME PASS        `ferry user add --state-db` (home /)
#   node_kill NAME                kill -9 the node's parent and its sessions
#   node_alive NAME               the node's parent still runs
#   no_sanitizer_reports          fail when a node log holds an ASan/UBSan report
CLIENT=127.0.0.2
STATE_DB=
FE_FTP= FE_HTTPS= FE_FTP_A= FE_HTTPS_A= FE_FTP_B= FE_HTTPS_B= FE_FTP_FO= FE_HTTPS_FO=

cluster_start() {
    command -v "$HAPROXY" >/dev/null || fail "haproxy not installed (make cluster-test installs it)"
    PG_DIR=$FERRY_DIR/pg
    PG_PORT=$(free_port)
    STATE_DB=$(pg_start) || fail "PostgreSQL did not start"
    "$FERRY_BIN" db migrate --state-db "$STATE_DB" >>"$FERRY_DIR/migrate.log" 2>&1 ||
        { cat "$FERRY_DIR/migrate.log" >&2; fail "ferry db migrate"; }
    local u
    for u in ${CLUSTER_USERS:-}; do cluster_user "${u%%:*}" "${u#*:}"; done
    local base=$((20000 + RANDOM % 9000))
    local common=(--set proxy_protocol=yes --set proxy_trusted=127.0.0.1
        --set ftp_allow_plaintext=yes --set "state_db=$STATE_DB" --set max_per_address=200)
    node_start A "${common[@]}" --set node_name=A --passive-ports "$base-$((base + 30))" \
        --set passive_address=127.0.0.1 "$@"
    # Host key and TLS certificate: B starts from A's state directory, so clients see
    # one server (users and the audit chain are in the database, not there).
    cp -a "$FERRY_DIR/state-A" "$FERRY_DIR/state-B"
    rm -f "$FERRY_DIR/state-B/audit.jsonl"
    node_start B "${common[@]}" --set node_name=B --passive-ports "$((base + 40))-$((base + 70))" \
        --set passive_address=127.0.0.1 "$@"
    FE_FTP=$(free_port) FE_HTTPS=$(free_port)
    FE_FTP_A=$(free_port) FE_HTTPS_A=$(free_port) FE_FTP_B=$(free_port) FE_HTTPS_B=$(free_port)
    FE_FTP_FO=$(free_port) FE_HTTPS_FO=$(free_port)
    local cfg=$FERRY_DIR/haproxy.cfg
    # Health checks (a PROXY v2 LOCAL header, then the node's banner) only on the two
    # round-robin backends; every other server tracks one of them, so each node sees
    # two checks a second whatever the number of frontends (each check is a session).
    {
        printf 'global\n    maxconn 512\n'
        printf 'defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n'
        printf '    timeout server 120s\n    retries 3\n    option redispatch\n'
        printf '    default-server send-proxy-v2 inter 1s fall 2 rise 2\n'
        _ha_backend ftp "$FE_FTP" "a 127.0.0.1:${NODE_FTP[A]} check check-send-proxy" \
            "b 127.0.0.1:${NODE_FTP[B]} check check-send-proxy"
        _ha_backend https "$FE_HTTPS" "a 127.0.0.1:${NODE_HTTPS[A]} check check-send-proxy" \
            "b 127.0.0.1:${NODE_HTTPS[B]} check check-send-proxy"
        _ha_backend ftp_a "$FE_FTP_A" "a 127.0.0.1:${NODE_FTP[A]} track ftp/a"
        _ha_backend https_a "$FE_HTTPS_A" "a 127.0.0.1:${NODE_HTTPS[A]} track https/a"
        _ha_backend ftp_b "$FE_FTP_B" "b 127.0.0.1:${NODE_FTP[B]} track ftp/b"
        _ha_backend https_b "$FE_HTTPS_B" "b 127.0.0.1:${NODE_HTTPS[B]} track https/b"
        _ha_backend ftp_fo "$FE_FTP_FO" "a 127.0.0.1:${NODE_FTP[A]} track ftp/a" \
            "b 127.0.0.1:${NODE_FTP[B]} track ftp/b backup"
        _ha_backend https_fo "$FE_HTTPS_FO" "a 127.0.0.1:${NODE_HTTPS[A]} track https/a" \
            "b 127.0.0.1:${NODE_HTTPS[B]} track https/b backup"
    } >"$cfg"
    haproxy_start "$cfg" "$FE_FTP" "$FE_HTTPS" "$FE_FTP_A" "$FE_HTTPS_A" \
        "$FE_FTP_B" "$FE_HTTPS_B" "$FE_FTP_FO" "$FE_HTTPS_FO"
    sleep 2.5 # two rounds of health checks: every server up
}

# _ha_backend NAME PORT "SERVER-LINE"...: a frontend on 127.0.0.1:PORT and its backend
# (named NAME, so servers can track NAME/server), round robin.
_ha_backend() {
    local name=$1 port=$2 srv
    shift 2
    printf 'frontend fe_%s\n    bind 127.0.0.1:%s\n    default_backend %s\n' "$name" "$port" "$name"
    printf 'backend %s\n    balance roundrobin\n' "$name"
    for srv in "$@"; do
        printf '    server %s\n' "$srv"
    done
}

cluster_user() {
    printf '%s\n' "$2" | "$FERRY_BIN" user add "$1" --password-stdin --home / \
        --state-db "$STATE_DB" >>"$FERRY_DIR/user.log" 2>&1 ||
        { cat "$FERRY_DIR/user.log" >&2; fail "ferry user add $1 --state-db"; }
}

node_alive() {
    [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null
}

node_kill() {
    local pid=${NODE_PID[$1]:-} p
    [ -n "$pid" ] || return 0
    NODE_PID[$1]=
    # The parent first, so it forks nothing new; then each of its sessions by id.
    local kids
    kids=$(pgrep -P "$pid")
    kill -9 "$pid" 2>/dev/null
    for p in $kids; do kill -9 "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null
    return 0
}

no_sanitizer_reports() {
    local n
    for n in "$@"; do
        grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$FERRY_DIR/node-$n.log" &&
            { grep -E -A5 'Sanitizer|runtime error:' "$FERRY_DIR/node-$n.log" | head -40 >&2;
              fail "node $n: sanitizer report in its log"; }
    done
    return 0
}
