#!/bin/bash
# Scale-out benchmark (issue 12): Ferry nodes sharing one root and one PostgreSQL
# (state_db), behind Debian's HAProxy in TCP mode with send-proxy-v2, with one node in
# the backend and then with two:
#   - aggregate download throughput: BENCH_PARALLEL (8) curl downloads at once of a
#     BENCH_SIZE_MB (256) MiB file, over FTP (control through HAProxy, passive data
#     straight to the node, as deployed) and over HTTPS (WebDAV GET, the bytes through
#     HAProxy); best of BENCH_ROUNDS (3) rounds, MB/s
#   - logins per second, BENCH_LOGIN_CLIENTS (16) clients at once, each login a new FTP
#     session (connect, USER, PASS, QUIT) through HAProxy, two ways:
#       cold: BENCH_COLD_USERS (400) distinct users, each logging in once, so every
#             login runs yescrypt (the default hash) in a node's parent: the nodes'
#             password-hashing capacity
#       warm: one user again and again for BENCH_LOGIN_SECONDS (10) s: after the first,
#             the parent's credential cache answers (a keyed hash of user and password,
#             all protocols), so this is the cost of a session: accept, PROXY header,
#             fork, sandbox, the IPC round trips, the audit records
# Clients connect from 127.0.0.2 (HAProxy from 127.0.0.1, the trusted balancer: a data
# connection from the balancer's own address would be read for a PROXY header first).
# For each run it samples CPU time (/proc: utime+stime of each process tree, reaped
# children included) of HAProxy, node A, node B, PostgreSQL and the clients, and says
# which one is the bottleneck. Prints the figures and the two-node/one-node ratios.
# BENCH_QUICK=1: 32 MiB, one round, 3 s of logins (for a quick check).
# Usage: bench/cluster.sh [FERRY_BINARY]   (default build/ferry)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # bench/run.sh starts us with sh
set -u
FERRY_BIN=${1:-${FERRY_BIN:-build/ferry}}
[ -x "$FERRY_BIN" ] || { echo "bench/cluster: no ferry binary at $FERRY_BIN" >&2; exit 2; }
FERRY_BIN=$(realpath "$FERRY_BIN")
cd "$(dirname "$0")/.."
if [ -n "${BENCH_QUICK:-}" ]; then
    : "${BENCH_SIZE_MB:=32}" "${BENCH_ROUNDS:=1}" "${BENCH_LOGIN_SECONDS:=3}" "${BENCH_COLD_USERS:=100}"
fi
COLD=${BENCH_COLD_USERS:-400}
SIZE_MB=${BENCH_SIZE_MB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
PAR=${BENCH_PARALLEL:-8}
LOGIN_S=${BENCH_LOGIN_SECONDS:-10}
LOGIN_C=${BENCH_LOGIN_CLIENTS:-16}
export FERRY_BIN FERRY_TEST_TMP=${FERRY_TEST_TMP:-/tmp/ferry-bench}
export ASAN_OPTIONS= # a release binary
. tests/cluster/lib.sh
command -v "$HAPROXY" >/dev/null || fail "haproxy missing (apt-get install haproxy)"
PY=/usr/bin/python3
TICK=$(getconf CLK_TCK)

PG_DIR=$FERRY_DIR/pg
PG_PORT=$(free_port)
STATE_DB=$(pg_start) || fail "PostgreSQL did not start"
"$FERRY_BIN" db migrate --state-db "$STATE_DB" >/dev/null || fail "ferry db migrate"
common=(--set proxy_protocol=yes --set proxy_trusted=127.0.0.1 --set ftp_allow_plaintext=yes
    --set "state_db=$STATE_DB" --set max_per_address=1000 --set max_sessions=1000
    --set passive_address=127.0.0.1 --sftp-port 0)
base=$((20000 + RANDOM % 9000))
node_start A "${common[@]}" --set node_name=A --passive-ports "$base-$((base + 99))"
cp -a "$FERRY_DIR/state-A" "$FERRY_DIR/state-B"
rm -f "$FERRY_DIR/state-B/audit.jsonl"
node_start B "${common[@]}" --set node_name=B --passive-ports "$((base + 100))-$((base + 199))"
printf 'bench-pw\n' | "$FERRY_BIN" user add bench --password-stdin --home / \
    --state-db "$STATE_DB" >/dev/null || fail "ferry user add --state-db"
# The cold-login users c1..c(2*COLD) share bench's yescrypt hash (same password, and
# distinct cache keys since the user name is part of the key): rows copied in SQL (the
# ferry_users table of gateway/statedb.h), then the revision bump and the notification
# that `ferry user` sends, so both nodes reload.
pg_sql "INSERT INTO ferry_users (name, hash, home, flags, keys)
        SELECT 'c' || g, hash, home, flags, keys FROM ferry_users, generate_series(1, $((2 * COLD))) g
        WHERE name = 'bench';
        UPDATE ferry_users_rev SET rev = rev + 1; NOTIFY ferry_users" >/dev/null ||
    fail "creating the cold-login users"

echo "bench/cluster: creating a ${SIZE_MB} MiB test file" >&2
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$FERRY_ROOT/big.bin" || exit 1
BYTES=$((SIZE_MB * 1024 * 1024))
PGPID=$(head -n 1 "$PG_DIR/data/postmaster.pid")

# CPU accounting: a snapshot of each process tree before and after a run, every
# process's utime+stime plus what it collected from children it reaped (cutime+cstime:
# Ferry's parent reaps its sessions with waitpid, PostgreSQL its backends), so a
# session born and gone within the run counts through its parent, a live one directly.
# The clients run in command substitutions of this shell, which wait for them: their
# time is in this shell's cutime+cstime. The machine's busy time is /proc/stat's, without
# niced time (background fuzzers at nice 19 yield to us).
tree_ticks() { # ROOT-PIDS... -> one total per root
    $PY - "$@" <<'PYEOF'
import os, sys
kids, st = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        s = open("/proc/%s/stat" % p).read()
    except OSError:
        continue
    f = s[s.rindex(")") + 2:].split()
    st[int(p)] = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    kids.setdefault(int(f[1]), []).append(int(p))
out = []
for root in map(int, sys.argv[1:]):
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += st.get(p, 0)
        stack += kids.get(p, [])
    out.append(str(total))
print(" ".join(out))
PYEOF
}
cpu_snap() {
    echo "$(tree_ticks "$_haproxy_pid" "${NODE_PID[A]}" "${NODE_PID[B]}" "$PGPID")" \
        "$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)" \
        "$(awk '/^cpu / { print $2 + $4 + $7 + $8 }' /proc/stat)"
}
cpu_start() {
    CPU_T0=$(now)
    CPU_S0=$(cpu_snap)
}
declare -A CPU_LINE
cpu_stop() { # LABEL: CPU per component in % of one core over the run
    local s1 wall
    s1=$(cpu_snap)
    wall=$(echo "$(now) - $CPU_T0" | bc)
    CPU_LINE[$1]=$(awk -v w="$wall" -v t="$TICK" -v a="$CPU_S0" -v b="$s1" -v nc="$(nproc)" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ");
        split("haproxy node-A node-B postgres clients", name, " ");
        ours = 0; best = ""; bv = -1; line = "";
        for (i = 1; i < n; i++) {
            p = 100 * (y[i] - x[i]) / t / w; ours += p;
            line = line sprintf("%s %3.0f%%  ", name[i], p);
            if (p > bv) { bv = p; best = name[i] }
        }
        mp = 100 * (y[n] - x[n]) / t / w;
        if (mp < ours) mp = ours; # tick rounding: never report negative other load
        sat = "cores not saturated"; if (mp >= 80 * nc) sat = "cores saturated";
        printf "%s| machine %3.0f%% (others %3.0f%%) | %s (ours %.0f%%, other load %.0f%%), busiest of ours: %s",
            line, mp, mp - ours, sat, ours, mp - ours, best }')
}

mbps() { awk -v b="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", b / t / 1048576; else print 0 }'; }
now() { date +%s.%N; }

haproxy_with() { # NODES ("A" or "A B"): frontends ftp and https on FE_FTP, FE_HTTPS
    local cfg=$FERRY_DIR/haproxy-$(echo "$1" | tr -d ' ').cfg n
    if [ -n "$_haproxy_pid" ]; then
        kill -TERM "$_haproxy_pid" 2>/dev/null
        wait "$_haproxy_pid" 2>/dev/null
        _haproxy_pid=
    fi
    FE_FTP=$(free_port) FE_HTTPS=$(free_port)
    {
        printf 'global\n    maxconn 4096\n'
        printf 'defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 300s\n'
        printf '    timeout server 300s\n    default-server send-proxy-v2\n'
        printf 'frontend ftp\n    bind 127.0.0.1:%s\n    default_backend ftp_nodes\n' "$FE_FTP"
        printf 'backend ftp_nodes\n    balance roundrobin\n'
        for n in $1; do printf '    server %s 127.0.0.1:%s\n' "$n" "${NODE_FTP[$n]}"; done
        printf 'frontend https\n    bind 127.0.0.1:%s\n    default_backend https_nodes\n' "$FE_HTTPS"
        printf 'backend https_nodes\n    balance roundrobin\n'
        for n in $1; do printf '    server %s 127.0.0.1:%s\n' "$n" "${NODE_HTTPS[$n]}"; done
    } >"$cfg"
    haproxy_start "$cfg" "$FE_FTP" "$FE_HTTPS"
}

# One round: PAR downloads at once; prints aggregate MB/s. Fails on a short file.
download_round() { # ftp|https
    local i t0 t1 url pids=
    for i in $(seq "$PAR"); do rm -f "$FERRY_DIR/dl-$i"; done
    t0=$(now)
    for i in $(seq "$PAR"); do
        if [ "$1" = ftp ]; then
            url="ftp://bench:bench-pw@127.0.0.1:$FE_FTP/big.bin"
            curl -sS --max-time 600 --interface "$CLIENT" -o "$FERRY_DIR/dl-$i" "$url" &
        else
            curl -sSk --max-time 600 --interface "$CLIENT" -u bench:bench-pw -o "$FERRY_DIR/dl-$i" \
                "https://127.0.0.1:$FE_HTTPS/big.bin" &
        fi
        pids="$pids $!"
    done
    local bad=0
    for i in $pids; do wait "$i" || bad=1; done
    t1=$(now)
    for i in $(seq "$PAR"); do
        [ "$(stat -c %s "$FERRY_DIR/dl-$i" 2>/dev/null)" = "$BYTES" ] || bad=1
        rm -f "$FERRY_DIR/dl-$i"
    done
    [ $bad = 0 ] || { echo "bench/cluster: a $1 download failed" >&2; echo 0; return; }
    mbps $((BYTES * PAR)) "$(echo "$t1 - $t0" | bc)"
}

# FTP logins through HAProxy with LOGIN_C clients; prints "logins/s failures".
#   login_run warm           user bench again and again for LOGIN_S seconds
#   login_run cold FIRST N   users cFIRST..c(FIRST+N-1), one login each
login_run() {
    $PY - "$FE_FTP" "$LOGIN_C" "$LOGIN_S" "$CLIENT" "$@" <<'PYEOF'
import ftplib, sys, threading, time
port, clients, secs, client = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
mode = sys.argv[5]
pending = []
if mode == "cold":
    first, n = int(sys.argv[6]), int(sys.argv[7])
    pending = ["c%d" % i for i in range(first, first + n)]
lock = threading.Lock()
ok = [0] * clients
bad = [0] * clients
end = time.monotonic() + secs
def next_user():
    if mode == "warm":
        return "bench" if time.monotonic() < end else None
    with lock:
        return pending.pop() if pending else None
def run(i):
    while True:
        user = next_user()
        if user is None:
            return
        try:
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=60, source_address=(client, 0))
            f.login(user, "bench-pw")
            f.quit()
            ok[i] += 1
        except Exception:
            bad[i] += 1
t0 = time.monotonic()
ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print("%.1f %d" % (sum(ok) / (time.monotonic() - t0), sum(bad)))
PYEOF
}

declare -A R
for nodes in "A" "A B"; do
    k=$(echo "$nodes" | wc -w)
    haproxy_with "$nodes"
    sleep 0.5
    for proto in ftp https; do
        runs= best=0
        cpu_start
        for _ in $(seq "$ROUNDS"); do
            r=$(download_round $proto)
            runs="$runs $r"
            [ "$r" -gt "$best" ] && best=$r
        done
        cpu_stop "$proto$k"
        R[$proto$k]=$best
        R[${proto}runs$k]=$runs
        echo "bench/cluster: $k node(s), $proto: best $best MB/s (rounds:$runs)" >&2
    done
    cpu_start
    set -- $(login_run cold $(((k - 1) * COLD + 1)) "$COLD")
    cpu_stop "cold$k"
    R[cold$k]=$1
    R[coldfail$k]=$2
    echo "bench/cluster: $k node(s), cold logins: $1/s ($2 failed)" >&2
    cpu_start
    set -- $(login_run warm)
    cpu_stop "warm$k"
    R[warm$k]=$1
    R[warmfail$k]=$2
    echo "bench/cluster: $k node(s), warm logins: $1/s ($2 failed)" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '\n%-44s %10s %10s %8s\n' "Through HAProxy (loopback, $(nproc) cores)" "1 node" "2 nodes" "2/1"
printf '%-44s %10s %10s %8s\n' "FTP download, $PAR x ${SIZE_MB} MiB, MB/s" "${R[ftp1]}" "${R[ftp2]}" \
    "$(ratio "${R[ftp2]}" "${R[ftp1]}")"
printf '%-44s %10s %10s %8s\n' "HTTPS GET, $PAR x ${SIZE_MB} MiB, MB/s" "${R[https1]}" "${R[https2]}" \
    "$(ratio "${R[https2]}" "${R[https1]}")"
printf '%-44s %10s %10s %8s\n' "FTP logins/s, cold (yescrypt each), $LOGIN_C at once" "${R[cold1]}" \
    "${R[cold2]}" "$(ratio "${R[cold2]}" "${R[cold1]}")"
printf '%-44s %10s %10s %8s\n' "FTP logins/s, warm (credential cache)" "${R[warm1]}" "${R[warm2]}" \
    "$(ratio "${R[warm2]}" "${R[warm1]}")"
printf '(best of %s rounds; rounds, MB/s: ftp 1 node%s, 2 nodes%s; https 1 node%s, 2 nodes%s;\n' \
    "$ROUNDS" "${R[ftpruns1]}" "${R[ftpruns2]}" "${R[httpsruns1]}" "${R[httpsruns2]}"
printf ' failed logins: cold %s and %s, warm %s and %s)\n' "${R[coldfail1]}" "${R[coldfail2]}" \
    "${R[warmfail1]}" "${R[warmfail2]}"
echo "CPU during each run (% of one core; $(nproc) cores = $(($(nproc) * 100))%):"
for key in ftp1 ftp2 https1 https2 cold1 cold2 warm1 warm2; do
    printf '  %-7s %s\n' "$key" "${CPU_LINE[$key]}"
done
verdict() { printf '%s' "${CPU_LINE[$1]}" | sed 's/.*| \(cores .*\)$/\1/'; }
echo "Where the bottleneck is (two-node runs):"
echo "  FTP downloads:   $(verdict ftp2) (the data bypasses HAProxy)"
echo "  HTTPS downloads: $(verdict https2) (TLS bytes pass through HAProxy)"
echo "  cold logins:     $(verdict cold2) (yescrypt in each node's auth threads)"
echo "  warm logins:     $(verdict warm2) (a session per login: fork, sandbox, IPC)"
echo "Both nodes share this machine's $(nproc) cores (a core is 100%; niced background load"
echo "not counted), so a second node brings no CPU: a 2/1 ratio near 1 with saturated cores"
echo "means the cores are the limit; on separate machines each node brings its own cores"
echo "and the CPU-bound figures (logins: yescrypt; HTTPS: TLS) scale with them."
node_stop A
node_stop B
