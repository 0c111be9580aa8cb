#!/bin/bash
# SFTP benchmark: Ferry's SFTP front end against OpenSSH sshd + internal-sftp, side by
# side in one run on loopback, with the same client (OpenSSH sftp), the same key, the
# same file (hard links: both read the same page cache) and the same cipher for both:
#   - get and put of one large file (default 2 GiB) with aes128-gcm@openssh.com and
#     chacha20-poly1305@openssh.com
#   - 4 parallel gets of that file (aes128-gcm)
#   - server CPU seconds per GiB moved, per measurement and overall (the server's own
#     time plus its reaped session processes: the whole cost of serving)
#   - RSS of one idle, logged-in session (every process the server started for it)
# Every measurement runs BENCH_RUNS times, interleaved (Ferry and OpenSSH take turns,
# the order alternating), and the best run of each side counts: on a loaded machine the
# best run is the least disturbed one. CPU seconds per GiB are the steadier figure there.
# Ratios are Ferry/OpenSSH: throughput >= 1 means Ferry is faster; CPU and RSS <= 1
# mean Ferry is cheaper.
# Note: Ferry hashes every transfer (SHA-256 for the audit log and for later integrity
# queries) and commits every upload with fsync + rename (DESIGN.md "Uploads and resume");
# internal-sftp does neither. BENCH_FERRY_ARGS="--set hash_transfers=no" measures Ferry
# without the hash where the binary supports it. On uploads the hash costs Ferry more
# CPU than the decryption; it runs behind the transfer, and CLOSE is answered once the
# file is committed, so the client may be done before the hash (and the audit record)
# is: the CPU columns include it (a session's time counts once it has exited).
# On a loaded machine the kernel's autogroups share CPU per session (setsid): sshd gives
# every connection its own, so Ferry is started in one of its own too, apart from the
# clients. Wall-clock ratios there are still indicative only.
#
# Usage: bench/sftp.sh [FERRY_BINARY]   (default build/ferry)
# Environment: BENCH_SIZE_MB (2048), BENCH_RUNS (3), BENCH_FERRY_ARGS (extra `ferry
#   serve` arguments), FERRY_BENCH_TMP (/tmp).
# bench/run.sh starts benchmarks with sh; this one needs bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
FERRY_BIN=${1:-${FERRY_BIN:-build/ferry}}
SIZE_MB=${BENCH_SIZE_MB:-2048}
RUNS=${BENCH_RUNS:-3}
SSHD=/usr/sbin/sshd
[ -x "$FERRY_BIN" ] || { echo "bench/sftp: no ferry binary at $FERRY_BIN" >&2; exit 2; }
[ -x $SSHD ] || { echo "bench/sftp: $SSHD missing (apt-get install openssh-server)" >&2; exit 2; }
command -v sftp >/dev/null || { echo "bench/sftp: sftp client missing" >&2; exit 2; }
FERRY_BIN=$(realpath "$FERRY_BIN")

D=$(mktemp -d "${FERRY_BENCH_TMP:-${TMPDIR:-/tmp}}/ferry-bench-sftp-XXXXXX")
FERRY_PID= SSHD_PID=
cleanup() {
    trap - EXIT INT TERM
    [ -n "$FERRY_PID" ] && kill -TERM "$FERRY_PID" 2>/dev/null
    [ -n "$SSHD_PID" ] && kill -TERM "$SSHD_PID" 2>/dev/null
    [ -n "$FERRY_PID" ] && wait "$FERRY_PID" 2>/dev/null
    [ -n "$SSHD_PID" ] && wait "$SSHD_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "bench/sftp: $*" >&2
    exit 1
}

port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# utime+stime+cutime+cstime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
now() { date +%s.%N; }
HZ=$(getconf CLK_TCK)

ssh-keygen -q -t ed25519 -N "" -f "$D/id" || exit 1
echo "bench/sftp: creating a ${SIZE_MB} MiB test file" >&2
mkdir -p "$D/ferry-root/bench" "$D/sshd-root" "$D/local"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$D/local/big.bin" || exit 1
ln "$D/local/big.bin" "$D/ferry-root/bench/big.bin" || exit 1
ln "$D/local/big.bin" "$D/sshd-root/big.bin" || exit 1

# --- Ferry -----------------------------------------------------------------------------------
FPORT=$(port)
# shellcheck disable=SC2086 # BENCH_FERRY_ARGS is a list of arguments
setsid "$FERRY_BIN" serve --root "$D/ferry-root" --state "$D/ferry-state" --listen 127.0.0.1 \
    --ftp-port 0 --https-port 0 --sftp-port "$FPORT" --set max_per_address=64 \
    ${BENCH_FERRY_ARGS:-} >"$D/ferry.log" 2>&1 &
FERRY_PID=$!
for _ in $(seq 100); do grep -q '^ferry: ready' "$D/ferry.log" && break; sleep 0.1; done
grep -q '^ferry: ready' "$D/ferry.log" || { cat "$D/ferry.log" >&2; exit 1; }
printf 'x\n' | "$FERRY_BIN" user add bench --password-stdin --key "$D/id.pub" \
    --state "$D/ferry-state" >/dev/null || exit 1

# --- OpenSSH sshd + internal-sftp, own config, as the current user --------------------------------
SPORT=$(port)
ssh-keygen -q -t ed25519 -N "" -f "$D/sshd_host_key"
cp "$D/id.pub" "$D/authorized_keys"
cat >"$D/sshd_config" <<EOF
Port $SPORT
ListenAddress 127.0.0.1
HostKey $D/sshd_host_key
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
MaxStartups 100
MaxSessions 100
EOF
# sshd insists on its privilege separation directory (created by the Debian service).
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd 2>/dev/null ||
    { echo "bench/sftp: /run/sshd missing; create it as root" >&2; exit 2; }
$SSHD -D -e -f "$D/sshd_config" 2>"$D/sshd.log" &
SSHD_PID=$!
sleep 0.5
kill -0 $SSHD_PID 2>/dev/null || { cat "$D/sshd.log" >&2; exit 1; }

ME=$(id -un)
SFTP_BASE="sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
 -o BatchMode=yes -o Compression=no -i $D/id"
# target NAME -> "port user remote-dir server-pid server-side-dir"
target() {
    case $1 in
    ferry) echo "$FPORT bench / $FERRY_PID $D/ferry-root/bench" ;;
    openssh) echo "$SPORT $ME $D/sshd-root $SSHD_PID $D/sshd-root" ;;
    esac
}

# Both must work before anything is measured.
for name in ferry openssh; do
    read -r p u dir _ _ <<<"$(target $name)"
    printf 'cd %s\nls -l big.bin\n' "$dir" | $SFTP_BASE -P "$p" -b - "$u@127.0.0.1" >/dev/null 2>&1 ||
        die "cannot log in to $name"
done

# xfer NAME CIPHER OP PAR: one measurement of PAR clients at once (each moving the whole
# file), sets T (seconds) and C (server CPU ticks). Not called in $(...): T and C must
# survive.
xfer() {
    local name=$1 cipher=$2 op=$3 par=$4 p u dir pid sdir t0 t1 c0 c1 i cpids="" failed=0
    read -r p u dir pid sdir <<<"$(target "$name")"
    c0=$(cpu_ticks "$pid")
    t0=$(now)
    for i in $(seq "$par"); do
        case $op in
        get) printf '%s\n' "cd $dir" "get big.bin /dev/null" ;;
        put) printf '%s\n' "cd $dir" "put big.bin up$i.bin" ;;
        esac | (cd "$D/local" && exec $SFTP_BASE -c "$cipher" -P "$p" -b - "$u@127.0.0.1") \
            >/dev/null &
        cpids="$cpids $!"
    done
    for i in $cpids; do wait "$i" || failed=1; done # not a bare wait: servers are children
    t1=$(now)
    [ $failed = 0 ] || die "$op with $name ($cipher) failed"
    # Let the session processes exit and be reaped, so their time is in the parent's
    # (a Ferry session may still be finishing an upload's hash).
    for _ in $(seq 300); do
        [ -z "$(pgrep -P "$pid")" ] && break
        sleep 0.1
    done
    c1=$(cpu_ticks "$pid")
    rm -f "$sdir"/up*.bin
    T=$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')
    C=$((c1 - c0))
}

# measure KEY CIPHER OP PAR: BENCH_RUNS interleaved runs per side; keeps each side's best
# time and least CPU in BEST_T[side,KEY] and BEST_C[side,KEY].
declare -A BEST_T BEST_C
measure() {
    local key=$1 cipher=$2 op=$3 par=$4 r order name
    for r in $(seq "$RUNS"); do
        if [ $((r % 2)) = 1 ]; then order="ferry openssh"; else order="openssh ferry"; fi
        for name in $order; do
            xfer "$name" "$cipher" "$op" "$par"
            echo "bench/sftp: $key run $r $name ${T}s cpu $(awk -v c="$C" -v hz="$HZ" \
                'BEGIN { printf "%.2f", c / hz }')s" >&2
            if [ -z "${BEST_T[$name,$key]:-}" ] ||
                awk -v a="$T" -v b="${BEST_T[$name,$key]}" 'BEGIN { exit !(a < b) }'; then
                BEST_T[$name,$key]=$T
            fi
            if [ -z "${BEST_C[$name,$key]:-}" ] || [ "$C" -lt "${BEST_C[$name,$key]}" ]; then
                BEST_C[$name,$key]=$C
            fi
        done
    done
}

# One unmeasured get each: the file is in the page cache for both, and Ferry has hashed
# it once (it keeps the hash of a file it has read whole).
for name in ferry openssh; do
    xfer $name aes128-gcm@openssh.com get 1
done

KEYS=""
declare -A MB_OF
for cipher in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
    for op in get put; do
        key="$op ${cipher%%@*}"
        measure "$key" "$cipher" $op 1
        KEYS="$KEYS|$key"
        MB_OF[$key]=$SIZE_MB
    done
done
key="4 parallel gets aes128-gcm"
measure "$key" aes128-gcm@openssh.com get 4
KEYS="$KEYS|$key"
MB_OF[$key]=$((4 * SIZE_MB))

# RSS of one idle, logged-in session: the processes the server started for it.
idle_rss() {
    local name=$1 p u pid before kb=0 q cpid
    read -r p u _ pid _ <<<"$(target "$name")"
    before=" $(pgrep -d' ' -P "$pid") $(pgrep -d' ' -f "sshd: $u") "
    rm -f "$D/idle.fifo"
    mkfifo "$D/idle.fifo"
    $SFTP_BASE -P "$p" -b - "$u@127.0.0.1" <"$D/idle.fifo" >/dev/null 2>&1 &
    cpid=$!
    exec 8>"$D/idle.fifo"
    sleep 1.5
    for q in $(pgrep -P "$pid") $(pgrep -f "sshd: $u"); do
        case "$before" in *" $q "*) continue ;; esac
        [ "$q" = "$pid" ] && continue
        kb=$((kb + $(awk '/^VmRSS/ {print $2}' "/proc/$q/status" 2>/dev/null || echo 0)))
    done
    exec 8>&-
    wait $cpid 2>/dev/null
    rm -f "$D/idle.fifo"
    echo $kb
}
RSS_ferry=$(idle_rss ferry)
RSS_openssh=$(idle_rss openssh)

mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? mb / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
per_gib() { awk -v t="$1" -v hz="$HZ" -v mb="$2" 'BEGIN { printf "%.2f", (t / hz) / (mb / 1024) }'; }

printf '\nSFTP benchmark: %s MiB file, loopback, %s CPUs (load %s), %s, best of %s\n' \
    "$SIZE_MB" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(ssh -V 2>&1 | cut -d, -f1)" "$RUNS"
printf '%-28s %9s %9s %6s | %11s %11s %6s\n' "" "Ferry" "OpenSSH" "ratio" \
    "Ferry CPU" "OpenSSH CPU" "ratio"
printf '%-28s %9s %9s %6s | %11s %11s %6s\n' "" "MB/s" "MB/s" "" "s/GiB" "s/GiB" ""
TOT_C_ferry=0 TOT_C_openssh=0 TOT_MB=0
IFS='|' read -r -a keylist <<<"${KEYS#|}"
for key in "${keylist[@]}"; do
    mb=${MB_OF[$key]}
    tf=$(mbps "$mb" "${BEST_T[ferry,$key]}") to=$(mbps "$mb" "${BEST_T[openssh,$key]}")
    cf=$(per_gib "${BEST_C[ferry,$key]}" "$mb") co=$(per_gib "${BEST_C[openssh,$key]}" "$mb")
    printf '%-28s %9s %9s %6s | %11s %11s %6s\n' "$key" "$tf" "$to" "$(ratio "$tf" "$to")" \
        "$cf" "$co" "$(ratio "$cf" "$co")"
    TOT_C_ferry=$((TOT_C_ferry + BEST_C[ferry,$key]))
    TOT_C_openssh=$((TOT_C_openssh + BEST_C[openssh,$key]))
    TOT_MB=$((TOT_MB + mb))
done
cf=$(per_gib $TOT_C_ferry $TOT_MB) co=$(per_gib $TOT_C_openssh $TOT_MB)
printf '%-28s %9s %9s %6s | %11s %11s %6s\n' "server CPU, all of the above" "" "" "" "$cf" "$co" \
    "$(ratio "$cf" "$co")"
printf '%-28s %5s KiB %5s KiB %6s\n' "RSS of an idle session" "$RSS_ferry" "$RSS_openssh" \
    "$(ratio "$RSS_ferry" "$RSS_openssh")"
echo "(throughput ratio: higher is better for Ferry, aim get >= 1.5, put >= 1.2;"
echo " CPU and RSS ratios: lower is better for Ferry)"
