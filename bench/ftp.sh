#!/bin/bash
# FTP benchmark: Ferry's FTP front end against vsftpd (Debian's package, fetched with
# apt-get download when not installed), side by side in one run on loopback, on the same
# files (hard links, so both read the same page cache), driven by the same client (curl):
#   - RETR and STOR of one large file (default 4 GiB), plain and TLS (PROT P), each the
#     best of FTP_BENCH_REPEAT runs (the figures of a loaded machine scatter widely)
#   - 200 concurrent downloads of a 10 MiB file
#   - 1,000 idle logged-in control connections: memory per session (PSS and RSS summed
#     over every server process, minus the idle server, divided by the sessions)
# Prints Ferry/vsftpd ratios: >= 1.0 is Ferry faster for throughput; for memory the
# ratio is Ferry's bytes per session over vsftpd's (<= 1.0 is Ferry leaner).
# Downloads and idle sessions log in anonymously on both (a Ferry password login runs
# yescrypt); uploads use a Ferry user.
# Note: Ferry's STOR commits every upload with fsync + rename (DESIGN.md "Uploads and
# resume"); vsftpd writes in place without fsync, so STOR compares a durable upload with
# a buffered one: once the disk is slower than loopback, no durable server can reach
# 1.0 there. The row "vs vsftpd+fsync" compares with vsftpd followed by an fsync of the
# uploaded file, i.e. the same durability.
# Integrity (issue 8): a second Ferry with hash_transfers = no serves the same files;
# the table "on-the-fly SHA-256" gives Ferry's throughput with hashing over without
# (every timed Ferry download first drops the file's cached hash, so it is computed).
#
# Usage: bench/ftp.sh [FERRY_BIN]      (default build/ferry; run as root for vsftpd)
# Environment: FTP_BENCH_SIZE_MB (4096), FTP_BENCH_REPEAT (2), FTP_BENCH_CONCURRENT (200),
#   FTP_BENCH_SMALL_MB (10), FTP_BENCH_IDLE (1000), FERRY_BENCH_TMP (/tmp),
#   VSFTPD (path to a vsftpd binary).
# bench/run.sh starts benchmarks with sh; this one needs bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
FERRY=$(realpath "${1:-build/ferry}")
SIZE_MB=${FTP_BENCH_SIZE_MB:-4096}
REPEAT=${FTP_BENCH_REPEAT:-2}
CONC=${FTP_BENCH_CONCURRENT:-200}
SMALL_MB=${FTP_BENCH_SMALL_MB:-10}
IDLE=${FTP_BENCH_IDLE:-1000}
PY=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d "${FERRY_BENCH_TMP:-/tmp}/ferry-bench-ftp-XXXXXX")
pids=""

die() {
    echo "bench/ftp: $*" >&2
    exit 1
}
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$FERRY" ] || die "no ferry binary at $FERRY (make build first)"
command -v curl >/dev/null || die "curl is needed"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- vsftpd -------------------------------------------------------------------------
VS=${VSFTPD:-}
if [ -z "$VS" ] && [ -x /usr/sbin/vsftpd ]; then
    VS=/usr/sbin/vsftpd
fi
if [ -z "$VS" ]; then
    (cd "$W" && apt-get download vsftpd >/dev/null 2>&1) || die "apt-get download vsftpd failed"
    dpkg-deb -x "$W"/vsftpd_*.deb "$W/vsftpd-pkg" || die "dpkg-deb -x failed"
    VS=$W/vsftpd-pkg/usr/sbin/vsftpd
fi
[ "$(id -u)" = 0 ] || die "vsftpd needs root (it chroots and drops privileges)"

echo "bench/ftp: preparing ${SIZE_MB} MiB and ${SMALL_MB} MiB files in $W"
mkdir -p "$W/data" "$W/ferry-root/bench" "$W/ferry-root/pub" "$W/vs-root/up" "$W/vs-empty"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$W/data/big.bin"
head -c $((SMALL_MB * 1024 * 1024)) /dev/urandom >"$W/data/small.bin"
for f in big.bin small.bin; do
    ln "$W/data/$f" "$W/ferry-root/pub/$f"
    ln "$W/data/$f" "$W/vs-root/$f"
done
chmod 755 "$W/vs-root"
chown daemon "$W/vs-root/up"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/vs-key.pem" \
    -out "$W/vs-cert.pem" -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1 || die "openssl req"

VS_PORT=$(free_port)
cat >"$W/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=$VS_PORT
background=NO
anonymous_enable=YES
local_enable=NO
anon_root=$W/vs-root
no_anon_password=YES
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
anon_umask=022
ftp_username=daemon
nopriv_user=daemon
secure_chroot_dir=$W/vs-empty
seccomp_sandbox=NO
max_clients=0
max_per_ip=0
ssl_enable=YES
allow_anon_ssl=YES
force_anon_data_ssl=NO
force_anon_logins_ssl=NO
rsa_cert_file=$W/vs-cert.pem
rsa_private_key_file=$W/vs-key.pem
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=YES
idle_session_timeout=3600
data_connection_timeout=3600
xferlog_enable=NO
tcp_wrappers=NO
EOF
"$VS" "$W/vsftpd.conf" >"$W/vsftpd.log" 2>&1 &
VS_PID=$!
pids="$pids $VS_PID"

# ---- Ferry ----------------------------------------------------------------------------
# start_ferry PORT STATE [flags]: one Ferry on the shared root; sets F_PID_LAST.
start_ferry() {
    local port=$1 state=$2 log=$W/ferry-$1.log
    shift 2
    "$FERRY" serve --root "$W/ferry-root" --state "$state" --listen 127.0.0.1 \
        --ftp-port "$port" --sftp-port 0 --https-port 0 --anonymous --max-sessions $((IDLE + CONC + 64)) \
        --set max_per_address=$((IDLE + CONC + 64)) --set ftp_allow_plaintext=yes \
        --set idle_timeout=3600 "$@" >"$log" 2>&1 &
    F_PID_LAST=$!
    pids="$pids $F_PID_LAST"
    for i in $(seq 100); do
        grep -q '^ferry: ready' "$log" && break
        sleep 0.1
    done
    grep -q '^ferry: ready' "$log" || { cat "$log"; die "ferry did not start"; }
    printf 'bench-pw\n' | "$FERRY" user add bench --password-stdin --home /bench --state "$state" \
        >/dev/null || die "ferry user add"
    kill -HUP "$F_PID_LAST" # reload users
}
FTP_PORT=$(free_port)
start_ferry "$FTP_PORT" "$W/ferry-state"
F_PID=$F_PID_LAST
FN_PORT=$(free_port)
start_ferry "$FN_PORT" "$W/ferry-state-nohash" --set hash_transfers=no
sleep 0.5
curl -s "ftp://127.0.0.1:$VS_PORT/small.bin" -o /dev/null || { cat "$W/vsftpd.log"; die "vsftpd not serving"; }

# Downloads and idle sessions are anonymous on both servers: a password login costs a
# yescrypt hash in Ferry (by design) and would dominate the many short transfers.
# Uploads go to a Ferry user (Ferry's anonymous access is read-only).
F_URL="ftp://anonymous:x@127.0.0.1:$FTP_PORT"
V_URL="ftp://anonymous:x@127.0.0.1:$VS_PORT"
V_UP="$V_URL/up"
F_UP="ftp://bench:bench-pw@127.0.0.1:$FTP_PORT"
FN_URL="ftp://anonymous:x@127.0.0.1:$FN_PORT"
FN_UP="ftp://bench:bench-pw@127.0.0.1:$FN_PORT"

now() { date +%s.%N; }
# MiB/s of one curl transfer: secs for SIZE_MB.
rate() { "$PY" -c "import sys; print('%.0f' % ($1 / ($3 - $2)))"; }

timed() { # timed MB CMD... -> prints MiB/s
    local mb=$1 t0 t1
    shift
    sync
    t0=$(now)
    "$@" || die "failed: $*"
    t1=$(now)
    rate "$mb" "$t0" "$t1"
}

results=""
record() { results="$results$1|$2|$3\n"; }

echo "bench/ftp: ${SIZE_MB} MiB RETR/STOR, plain and TLS, best of $REPEAT"
cat "$W/data/big.bin" >/dev/null # warm the page cache for both
# The first download of a file computes its SHA-256 (then cached in an extended
# attribute): drop that cache so that every timed Ferry download pays for hashing.
drop_hash() { "$PY" -c 'import os, sys
try: os.removexattr(sys.argv[1], "user.ferry.sha256")
except OSError: pass' "$W/data/big.bin"; }
# best NAME MiB/s: keeps the highest of the repetitions (the machine may be loaded).
declare -A best
keep() { # keep KEY VALUE
    local k=$1 v=$2
    if [ -z "${best[$k]:-}" ] || [ "$v" -gt "${best[$k]}" ]; then best[$k]=$v; fi
}
fsync_file() { "$PY" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$1"; }
stor_vs_durable() { # curl upload to vsftpd, then fsync the file: what Ferry's commit does
    curl -sS "$@" -T "$W/data/big.bin" "$V_UP/up-durable.bin" && fsync_file "$W/vs-root/up/up-durable.bin"
}
for rep in $(seq "$REPEAT"); do
    for mode in plain tls; do
        opts=""
        [ $mode = tls ] && opts="--ssl-reqd -k"
        drop_hash
        keep "RETR $mode ferry" "$(timed "$SIZE_MB" curl -sS $opts "$F_URL/big.bin" -o /dev/null)"
        drop_hash
        keep "RETR $mode nohash" "$(timed "$SIZE_MB" curl -sS $opts "$FN_URL/big.bin" -o /dev/null)"
        keep "RETR $mode vsftpd" "$(timed "$SIZE_MB" curl -sS $opts "$V_URL/big.bin" -o /dev/null)"
        keep "STOR $mode ferry" "$(timed "$SIZE_MB" curl -sS $opts -T "$W/data/big.bin" "$F_UP/up-$mode.bin")"
        cmp -s "$W/data/big.bin" "$W/ferry-root/bench/up-$mode.bin" || die "ferry STOR $mode differs"
        rm -f "$W/ferry-root/bench/up-$mode.bin"
        keep "STOR $mode nohash" "$(timed "$SIZE_MB" curl -sS $opts -T "$W/data/big.bin" "$FN_UP/up-$mode.bin")"
        rm -f "$W/ferry-root/bench/up-$mode.bin"
        keep "STOR $mode vsftpd" "$(timed "$SIZE_MB" curl -sS $opts -T "$W/data/big.bin" "$V_UP/up-$mode.bin")"
        rm -f "$W/vs-root/up/up-$mode.bin"
        keep "STOR $mode durable" "$(timed "$SIZE_MB" stor_vs_durable $opts)"
        rm -f "$W/vs-root/up/up-durable.bin"
    done
done
for mode in plain tls; do
    record "RETR $mode (MiB/s)" "${best[RETR $mode ferry]}" "${best[RETR $mode vsftpd]}"
    record "STOR $mode (MiB/s)" "${best[STOR $mode ferry]}" "${best[STOR $mode vsftpd]}"
    record "STOR $mode vs vsftpd+fsync (MiB/s)" "${best[STOR $mode ferry]}" "${best[STOR $mode durable]}"
done

echo "bench/ftp: $CONC concurrent ${SMALL_MB} MiB downloads"
conc() {
    seq "$CONC" | xargs -P "$CONC" -I{} curl -sS --retry 3 "$1/small.bin" -o /dev/null
}
f=$(timed $((CONC * SMALL_MB)) conc "$F_URL")
v=$(timed $((CONC * SMALL_MB)) conc "$V_URL")
record "$CONC x ${SMALL_MB} MiB RETR (MiB/s total)" "$f" "$v"

echo "bench/ftp: $IDLE idle logged-in sessions"
# Memory of a server: PSS and RSS (KiB) summed over the server and all its descendants.
mem() {
    "$PY" - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except OSError:
            pass
stack, pss, rss, n = [root], 0, 0, 0
while stack:
    p = stack.pop()
    stack += kids.get(p, [])
    try:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        n += 1
    except OSError:
        pass
print(pss, rss, n)
PY
}
# Holds N logged-in idle sessions open until stdin closes (a file: the script's stdin
# is the fifo, not a here-document).
cat >"$W/idle.py" <<'PY'
import socket, sys, time
port, user, pw, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER %s\r\n" % user.encode()); f.readline()
    s.sendall(b"PASS %s\r\n" % pw.encode())
    line = f.readline()
    if not line.startswith(b"230"):
        sys.exit("login %d failed: %r" % (i, line))
    socks.append((s, f))
print("ready", flush=True)
sys.stdin.read()
PY
idle_clients() {
    "$PY" "$W/idle.py" "$@"
}
measure_idle() { # PORT USER PASS PID -> "pss_per_session rss_per_session" in KiB
    local port=$1 user=$2 pass=$3 pid=$4 base with fifo
    sleep 1
    base=$(mem "$pid")
    fifo=$W/idle.fifo
    rm -f "$fifo"
    mkfifo "$fifo"
    idle_clients "$port" "$user" "$pass" "$IDLE" <"$fifo" >"$W/idle.out" &
    local cpid=$!
    exec 9>"$fifo"
    for i in $(seq 600); do
        grep -q ready "$W/idle.out" 2>/dev/null && break
        kill -0 $cpid 2>/dev/null || break
        sleep 0.1
    done
    grep -q ready "$W/idle.out" || die "idle clients did not log in ($port)"
    sleep 2
    with=$(mem "$pid")
    exec 9>&-
    wait $cpid
    "$PY" -c "
b = list(map(int, '$base'.split())); w = list(map(int, '$with'.split()))
print('%.0f %.0f %d' % ((w[0] - b[0]) / $IDLE, (w[1] - b[1]) / $IDLE, w[2] - b[2]))"
}
read -r fp fr fn <<<"$(measure_idle "$FTP_PORT" anonymous x "$F_PID")"
read -r vp vr vn <<<"$(measure_idle "$VS_PORT" anonymous x "$VS_PID")"
echo "bench/ftp: idle sessions: ferry $fn processes, vsftpd $vn processes for $IDLE sessions"

# ---- report -----------------------------------------------------------------------------
printf '\n%-34s %12s %12s %8s\n' "FTP benchmark (loopback)" "ferry" "vsftpd" "ratio"
printf '%b' "$results" | while IFS='|' read -r name f v; do
    [ -n "$name" ] || continue
    printf '%-34s %12s %12s %8s\n' "$name" "$f" "$v" "$("$PY" -c "print('%.2f' % ($f / $v))")"
done
printf '%-34s %12s %12s %8s\n' "idle session PSS (KiB/session)" "$fp" "$vp" \
    "$("$PY" -c "print('%.2f' % ($fp / $vp))")"
printf '%-34s %12s %12s %8s\n' "idle session RSS (KiB/session)" "$fr" "$vr" \
    "$("$PY" -c "print('%.2f' % ($fr / $vr))")"
echo "(throughput: ratio >= 1.0 means Ferry is faster; memory: ratio <= 1.0 means Ferry is leaner)"

printf '\n%-34s %12s %12s %8s %9s\n' "On-the-fly SHA-256 (Ferry)" "hash on" "hash off" "ratio" "overhead"
for row in "RETR plain" "RETR tls" "STOR plain" "STOR tls"; do
    on=${best[$row ferry]} off=${best[$row nohash]}
    printf '%-34s %12s %12s %8s %8s%%\n' "$row (MiB/s)" "$on" "$off" \
        "$("$PY" -c "print('%.2f' % ($on / $off))")" \
        "$("$PY" -c "print('%.1f' % (max(0.0, 100.0 * (1 - $on / $off))))")"
done
echo "(hash on: hash_transfers = yes, the default; the aim is an overhead under 10%)"
