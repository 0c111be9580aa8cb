# Shared helpers for integration scripts (sourced). Each script gets its own temporary
# directory; everything started through these helpers is stopped on exit.
#   ferry_start [serve flags]   start build/dbg/ferry serve on free loopback ports
#   ferry_user_add NAME PASS [user add flags]
#   ferry_stop                  SIGTERM, wait, then check the exit status
#   fail MSG / assert_eq GOT WANT MSG / assert_contains HAYSTACK NEEDLE MSG
#   free_port                   an unused loopback TCP port
#   bg CMD...                   start a background helper process, killed on exit
set -u
FERRY_SRC=${FERRY_SRC:-$(pwd)}
FERRY_BIN=${FERRY_BIN:-$FERRY_SRC/build/dbg/ferry}
_tmpbase=${FERRY_TEST_TMP:-/tmp/ferry-tests}
mkdir -p "$_tmpbase"
FERRY_DIR=$(mktemp -d "$_tmpbase/$(basename "$0" .sh)-XXXXXX")
FERRY_ROOT=$FERRY_DIR/root
FERRY_STATE=$FERRY_DIR/state
FERRY_PID=
FTP_PORT=0 FTPS_PORT=0 SFTP_PORT=0 HTTPS_PORT=0 ADMIN_PASS=
_bg_pids=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# LeakSanitizer cannot follow a process that exits by signal; sessions exit normally.

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

assert_eq() {
    [ "$1" = "$2" ] || fail "$3: got [$1], want [$2]"
}

assert_contains() {
    case "$1" in
    *"$2"*) ;;
    *) fail "$3: [$2] not found in [$1]" ;;
    esac
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bg() {
    "$@" &
    _bg_pids="$_bg_pids $!"
}

_wait_ready() {
    local i=0
    while [ $i -lt 200 ]; do
        grep -q '^ferry: ready' "$FERRY_DIR/serve.log" 2>/dev/null && return 0
        kill -0 "$FERRY_PID" 2>/dev/null || { cat "$FERRY_DIR/serve.log" >&2; fail "ferry serve exited early"; }
        sleep 0.1
        i=$((i + 1))
    done
    cat "$FERRY_DIR/serve.log" >&2
    fail "ferry serve did not become ready"
}

ferry_start() {
    mkdir -p "$FERRY_ROOT"
    [ "$FTP_PORT" != 0 ] || FTP_PORT=$(free_port)
    [ "$SFTP_PORT" != 0 ] || SFTP_PORT=$(free_port)
    [ "$HTTPS_PORT" != 0 ] || HTTPS_PORT=$(free_port)
    "$FERRY_BIN" serve --root "$FERRY_ROOT" --state "$FERRY_STATE" --listen 127.0.0.1 \
        --ftp-port "$FTP_PORT" --sftp-port "$SFTP_PORT" --https-port "$HTTPS_PORT" \
        "$@" >>"$FERRY_DIR/serve.log" 2>&1 &
    FERRY_PID=$!
    _wait_ready
    local p
    p=$(sed -n 's/^ *admin password: *//p' "$FERRY_DIR/serve.log" | head -n 1)
    [ -n "$p" ] && ADMIN_PASS=$p
    return 0
}

ferry_user_add() {
    local name=$1 pass=$2
    shift 2
    printf '%s\n' "$pass" | "$FERRY_BIN" user add "$name" --password-stdin --state "$FERRY_STATE" "$@" \
        >/dev/null || fail "ferry user add $name"
}

# Stops the server; fails the test unless it exits 0 within the grace period.
ferry_stop() {
    [ -n "$FERRY_PID" ] || return 0
    local pid=$FERRY_PID rc=0
    FERRY_PID=
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" || rc=$?
    if [ $rc -ne 0 ]; then
        tail -n 40 "$FERRY_DIR/serve.log" >&2
        fail "ferry serve exited with status $rc"
    fi
}

_cleanup() {
    local rc=$?
    command -v peer_cleanup >/dev/null && peer_cleanup
    for p in $_bg_pids; do kill "$p" 2>/dev/null; done
    if [ -n "$FERRY_PID" ]; then
        kill -TERM "$FERRY_PID" 2>/dev/null
        wait "$FERRY_PID" 2>/dev/null
    fi
    for p in $_bg_pids; do wait "$p" 2>/dev/null; done
    if [ $rc -ne 0 ]; then
        echo "---- serve.log:" >&2
        tail -n 60 "$FERRY_DIR/serve.log" 2>/dev/null >&2
    fi
    [ -n "${FERRY_KEEP:-}" ] || rm -rf "$FERRY_DIR"
    exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM
