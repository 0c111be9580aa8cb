#!/bin/bash
# WebDAV on HTTPS benchmark: Ferry's HTTP/1.1 server against nginx (Debian nginx-light,
# with its dav module for PUT), side by side in one run on loopback, same certificate
# (Ferry's generated ECDSA P-256 one), same files, same clients, Basic auth on both:
#   - GET of a 2 GiB file with curl (MB/s, best of BENCH_RUNS)
#   - GET of a 1 KiB file with wrk, keep-alive, at 1, 8 and 50 connections (requests/s)
#   - PUT of a 2 GiB file with curl (MB/s) and the peak RSS of the serving processes
# Prints a table and Ferry/nginx ratios (higher is better for throughput, lower for RSS).
# Every measure alternates Ferry and nginx BENCH_RUNS times and keeps each one's best:
# on a virtual machine single runs of either vary by a third (a page-cache write into
# memory the host has not backed yet costs a fault per page, whoever writes first).
# Ferry audits every download (one record per GET, sent to its parent process); nginx's
# access log is on, buffered. nginx checks a {PLAIN} password per request; Ferry checks
# the password once per connection (SHA-256-crypt here, see below), then compares a keyed
# hash of the header.
# Not part of `make check`.
#
# Usage: bench/webdav.sh [FERRY_BINARY]  (default build/ferry; BENCH_SIZE_MB=2048,
#        BENCH_RUNS=3, BENCH_WRK_SECONDS=10)
set -u
FERRY_BIN=${1:-${FERRY_BIN:-build/ferry}}
SIZE_MB=${BENCH_SIZE_MB:-2048}
RUNS=${BENCH_RUNS:-3}
WRK_S=${BENCH_WRK_SECONDS:-10}
NGINX=/usr/sbin/nginx
[ -x "$FERRY_BIN" ] || { echo "bench/webdav: no ferry binary at $FERRY_BIN" >&2; exit 2; }
[ -x $NGINX ] || { echo "bench/webdav: $NGINX missing (apt-get install nginx-light)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/webdav: wrk missing (apt-get install wrk)" >&2; exit 2; }
FERRY_BIN=$(realpath "$FERRY_BIN")

D=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-webdav-XXXXXX")
FERRY_PID= NGINX_PID=
cleanup() {
    [ -n "$FERRY_PID" ] && kill -TERM "$FERRY_PID" 2>/dev/null && wait "$FERRY_PID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# The largest VmRSS (kB) among pid and its children, sampled until stop file appears.
rss_watch() {
    local pid=$1 out=$2 max=0 r
    while [ ! -e "$out.stop" ]; do
        for p in $pid $(pgrep -P "$pid"); do
            r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
            [ -n "$r" ] && [ "$r" -gt "$max" ] && max=$r
        done
        sleep 0.1
    done
    echo "$max" >"$out"
}
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }
best() { tr ' ' '\n' | sort -n | tail -n 1; }

echo "bench/webdav: creating a ${SIZE_MB} MiB test file" >&2
mkdir -p "$D/root/bench" "$D/local" "$D/nginx-tmp"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$D/local/big.bin" || exit 1
cp "$D/local/big.bin" "$D/root/bench/big.bin"
head -c 1024 /dev/urandom >"$D/root/bench/small.bin"
BYTES=$((SIZE_MB * 1024 * 1024))

# --- Ferry ----------------------------------------------------------------------------
FPORT=$(port)
"$FERRY_BIN" serve --root "$D/root" --state "$D/state" --listen 127.0.0.1 --ftp-port 0 \
    --sftp-port 0 --https-port "$FPORT" --set max_per_address=200 >"$D/ferry.log" 2>&1 &
FERRY_PID=$!
for _ in $(seq 100); do grep -q '^ferry: ready' "$D/ferry.log" && break; sleep 0.1; done
grep -q '^ferry: ready' "$D/ferry.log" || { cat "$D/ferry.log" >&2; exit 1; }
printf 'bench-pw\n' | "$FERRY_BIN" user add bench --password-stdin --state "$D/state" \
    >/dev/null || exit 1
# Each of wrk's 50 connections logs in once, and the parent verifies logins one at a
# time: at yescrypt's default cost that alone takes seconds and would hide the HTTP
# server. STATE/users takes any crypt(3) hash, so the bench user gets SHA-256-crypt
# (5000 rounds, about a millisecond). BENCH_YESCRYPT=1 keeps yescrypt.
if [ -z "${BENCH_YESCRYPT:-}" ]; then
    h=$(openssl passwd -5 'bench-pw') || exit 1
    awk -v h="$h" -F: 'BEGIN { OFS = ":" } $1 == "bench" { $2 = h } { print }' \
        "$D/state/users" >"$D/users.new" && mv "$D/users.new" "$D/state/users"
fi

# --- nginx, same certificate, same tree ------------------------------------------------------
NPORT=$(port)
printf 'bench:{PLAIN}bench-pw\n' >"$D/htpasswd"
# Started as root, nginx's workers would switch to nobody and could not read the
# private temporary directory: keep them as the invoking user, like Ferry's sessions.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$D/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $D/nginx.pid;
error_log $D/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http {
    access_log $D/nginx-access.log combined buffer=64k;
    client_body_temp_path $D/nginx-tmp;
    proxy_temp_path $D/nginx-tmp;
    fastcgi_temp_path $D/nginx-tmp;
    uwsgi_temp_path $D/nginx-tmp;
    scgi_temp_path $D/nginx-tmp;
    sendfile on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT ssl;
        ssl_certificate $D/state/tls.crt;
        ssl_certificate_key $D/state/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $D/root;
        auth_basic "bench";
        auth_basic_user_file $D/htpasswd;
        client_max_body_size 0;
        dav_methods PUT DELETE MKCOL COPY MOVE;
        create_full_put_path on;
    }
}
EOF
$NGINX -c "$D/nginx.conf" -p "$D" 2>"$D/nginx.stderr" &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -sk -o /dev/null "https://127.0.0.1:$NPORT/" && break
    sleep 0.1
done

F="https://127.0.0.1:$FPORT"       # the user's home is /bench: URLs are relative to it
N="https://127.0.0.1:$NPORT/bench"
CURL="curl -sSk -u bench:bench-pw"
AUTH="Authorization: Basic $(printf 'bench:bench-pw' | base64)"

get_big() { # URL -> MB/s
    local t
    t=$($CURL -o /dev/null -w '%{time_total}' "$1/big.bin") || { echo 0; return; }
    mbps $BYTES "$t"
}
put_big() { # URL PID -> "MB/s peak-RSS-kB"
    local t rss
    rm -f "$D/rss" "$D/rss.stop"
    rss_watch "$2" "$D/rss" &
    local w=$!
    t=$($CURL -T "$D/local/big.bin" -o /dev/null -w '%{time_total}' "$1/up.bin") || t=0
    touch "$D/rss.stop"
    wait $w
    echo "$(mbps $BYTES "$t") $(cat "$D/rss")"
}
small_rps() { # URL CONNECTIONS -> requests/s
    local t=2
    [ "$2" -lt 2 ] && t=1
    wrk -t "$t" -c "$2" -d "${WRK_S}s" -H "$AUTH" "$1/small.bin" 2>&1 |
        awk '/^Requests\/sec:/ {printf "%.0f", $2}'
}

# Check both serve the same bytes first.
$CURL "$F/small.bin" | cmp -s - "$D/root/bench/small.bin" || { echo "ferry GET failed" >&2; exit 1; }
$CURL "$N/small.bin" | cmp -s - "$D/root/bench/small.bin" || { echo "nginx GET failed" >&2; exit 1; }

fg="" ng=""
for _ in $(seq "$RUNS"); do
    fg="$fg $(get_big "$F")"
    ng="$ng $(get_big "$N")"
done
# Small requests at three concurrencies: one connection shows the cost of a request,
# 50 how well the model shares two cores among many clients.
# (fr_C / nr_C: the runs at C connections; sh has no arrays)
for c in 1 8 50; do
    a="" b=""
    for _ in $(seq "$RUNS"); do
        a="$a $(small_rps "$F" $c)"
        b="$b $(small_rps "$N" $c)"
    done
    eval "fr_$c=\"\$a\" nr_$c=\"\$b\""
done
# put_checked URL PID NAME -> "MB/s peak-RSS-kB", after checking and removing the upload
put_checked() {
    local r
    r=$(put_big "$1" "$2")
    cmp -s "$D/local/big.bin" "$D/root/bench/up.bin" || echo "bench/webdav: $3 PUT content differs" >&2
    rm -f "$D/root/bench/up.bin"
    echo "$r"
}
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
fpm=0 fpr=0 npm=0 npr=0 fpl="" npl=""
for _ in $(seq "$RUNS"); do
    set -- $(put_checked "$F" "$FERRY_PID" ferry)
    fpl="$fpl $1" fpm=$(max "$1" $fpm) fpr=$(max "$2" $fpr)
    set -- $(put_checked "$N" "$NGINX_PID" nginx)
    npl="$npl $1" npm=$(max "$1" $npm) npr=$(max "$2" $npr)
done

fgb=$(echo $fg | best) ngb=$(echo $ng | best)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '\n%-34s %12s %12s %8s\n' "WebDAV over HTTPS (loopback)" "ferry" "nginx" "ratio"
printf '%-34s %12s %12s %8s\n' "GET ${SIZE_MB} MiB, MB/s (best of $RUNS)" "$fgb" "$ngb" "$(ratio "$fgb" "$ngb")"
for c in 1 8 50; do
    eval "a=\$(echo \$fr_$c | best) b=\$(echo \$nr_$c | best)"
    printf '%-34s %12s %12s %8s\n' "GET 1 KiB, wrk -c $c, req/s" "$a" "$b" "$(ratio "$a" "$b")"
done
printf '%-34s %12s %12s %8s\n' "PUT ${SIZE_MB} MiB, MB/s (best of $RUNS)" "$fpm" "$npm" "$(ratio "$fpm" "$npm")"
printf '%-34s %12s %12s %8s\n' "PUT peak RSS, MiB" "$((fpr / 1024))" "$((npr / 1024))" \
    "$(ratio "$fpr" "$npr")"
printf '(GET runs, MB/s: ferry%s; nginx%s)\n' "$fg" "$ng"
printf '(1 KiB GET runs at 50 connections, req/s: ferry%s; nginx%s)\n' "$fr_50" "$nr_50"
printf '(PUT runs, MB/s: ferry%s; nginx%s)\n' "$fpl" "$npl"
kernel_tls=no
grep -qw '^tls' /proc/modules 2>/dev/null && kernel_tls=yes
echo "(kernel tls module loaded: $kernel_tls; without it both send with SSL_write)"
