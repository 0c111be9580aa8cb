#!/bin/bash
# SFTP benchmark: Ferry's SFTP front end against OpenSSH sshd + internal-sftp, side by
# side in one run on loopback, with the same client (OpenSSH sftp), the same key, the
# same files and the same cipher for both:
#   - 2 GiB get and put with aes128-gcm@openssh.com and chacha20-poly1305@openssh.com
#   - 4 parallel gets of the 2 GiB file
#   - server CPU seconds per GiB moved (parent + reaped session processes)
#   - RSS of one idle, logged-in session
# Prints a table and Ferry/OpenSSH ratios (throughput: higher is better for Ferry;
# CPU and RSS: lower is better for Ferry). Not part of `make check`.
#
# Usage: bench/sftp.sh [FERRY_BINARY]   (default build/ferry; BENCH_SIZE_MB=2048)
set -u
FERRY_BIN=${1:-${FERRY_BIN:-build/ferry}}
SIZE_MB=${BENCH_SIZE_MB:-2048}
SSHD=/usr/sbin/sshd
[ -x "$FERRY_BIN" ] || { echo "bench/sftp: no ferry binary at $FERRY_BIN" >&2; exit 2; }
[ -x $SSHD ] || { echo "bench/sftp: $SSHD missing (apt-get install openssh-server)" >&2; exit 2; }
command -v sftp >/dev/null || { echo "bench/sftp: sftp client missing" >&2; exit 2; }
FERRY_BIN=$(realpath "$FERRY_BIN")

D=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-sftp-XXXXXX")
FERRY_PID= SSHD_PID=
cleanup() {
    trap - EXIT INT TERM
    [ -n "$FERRY_PID" ] && kill -TERM "$FERRY_PID" 2>/dev/null
    [ -n "$SSHD_PID" ] && kill -TERM "$SSHD_PID" 2>/dev/null
    rm -rf "$D"
    wait
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# utime+stime+cutime+cstime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
now() { date +%s.%N; }

ssh-keygen -q -t ed25519 -N "" -f "$D/id" || exit 1
echo "bench/sftp: creating a ${SIZE_MB} MiB test file" >&2
mkdir -p "$D/ferry-root/bench" "$D/sshd-root" "$D/local"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$D/local/big.bin" || exit 1
cp "$D/local/big.bin" "$D/ferry-root/bench/big.bin"
cp "$D/local/big.bin" "$D/sshd-root/big.bin"

# --- Ferry -----------------------------------------------------------------------------------
FPORT=$(port)
"$FERRY_BIN" serve --root "$D/ferry-root" --state "$D/ferry-state" --listen 127.0.0.1 \
    --ftp-port 0 --https-port 0 --sftp-port "$FPORT" --set max_per_address=64 \
    >"$D/ferry.log" 2>&1 &
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
# target NAME -> "port user remote-dir server-pid"
target() {
    case $1 in
    ferry) echo "$FPORT bench / $FERRY_PID $D/ferry-root/bench" ;;
    openssh) echo "$SPORT $ME $D/sshd-root $SSHD_PID $D/sshd-root" ;;
    esac
}

# run NAME CIPHER BATCH: sets T (seconds); adds the server's CPU ticks to CPU_<NAME>.
# Not called in $(...): the counters must survive.
CPU_ferry=0
CPU_openssh=0
run() {
    local name=$1 cipher=$2 batch=$3 p u dir pid local t0 t1 c0 c1
    read -r p u dir pid local <<<"$(target "$name")"
    c0=$(cpu_ticks "$pid")
    t0=$(now)
    (cd "$D/local" && printf '%s\n' "cd $dir" "$batch" |
        $SFTP_BASE -c "$cipher" -P "$p" -b - "$u@127.0.0.1" >/dev/null) || echo "FAILED $name" >&2
    t1=$(now)
    sleep 0.3 # let the session process exit and be reaped
    c1=$(cpu_ticks "$pid")
    eval "CPU_$name=\$(( CPU_$name + c1 - c0 ))"
    T=$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')
}

mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? mb / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

declare -A R
TOTAL_MB_ferry=0
TOTAL_MB_openssh=0
for cipher in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
    for name in ferry openssh; do
        run $name $cipher "get big.bin /dev/null"
        R[$name,get,$cipher]=$(mbps $SIZE_MB "$T")
        run $name $cipher "put big.bin up.bin"
        R[$name,put,$cipher]=$(mbps $SIZE_MB "$T")
        eval "TOTAL_MB_$name=\$(( TOTAL_MB_$name + 2 * SIZE_MB ))"
        read -r _ _ _ _ local <<<"$(target $name)"
        rm -f "$local/up.bin"
    done
done

# 4 parallel gets (aes128-gcm).
for name in ferry openssh; do
    read -r p u dir pid local <<<"$(target "$name")"
    c0=$(cpu_ticks "$pid")
    t0=$(now)
    cpids=""
    for i in 1 2 3 4; do
        printf '%s\n' "cd $dir" "get big.bin /dev/null" |
            $SFTP_BASE -c aes128-gcm@openssh.com -P "$p" -b - "$u@127.0.0.1" >/dev/null &
        cpids="$cpids $!"
    done
    wait $cpids # not a bare wait: the servers are children too
    t1=$(now)
    sleep 0.3
    c1=$(cpu_ticks "$pid")
    eval "CPU_$name=\$(( CPU_$name + c1 - c0 ))"
    eval "TOTAL_MB_$name=\$(( TOTAL_MB_$name + 4 * SIZE_MB ))"
    R[$name,par4]=$(mbps $((4 * SIZE_MB)) "$(echo "$t0 $t1" | awk '{print $2 - $1}')")
done

# RSS of one idle, logged-in session: the processes the server started for it.
idle_rss() {
    local name=$1 p u dir pid before after kb=0
    read -r p u dir pid _ <<<"$(target "$name")"
    before=$(pgrep -d' ' -P "$pid"; pgrep -d' ' -f "sshd: $u" 2>/dev/null)
    mkfifo "$D/idle.fifo"
    $SFTP_BASE -P "$p" -b - "$u@127.0.0.1" <"$D/idle.fifo" >/dev/null 2>&1 &
    local cpid=$!
    exec 8>"$D/idle.fifo"
    sleep 1.5
    for q in $(pgrep -P "$pid") $(pgrep -f "sshd: $u"); do
        case " $before " in *" $q "*) continue ;; esac
        [ "$q" = "$pid" ] && continue
        kb=$((kb + $(awk '/^VmRSS/ {print $2}' "/proc/$q/status" 2>/dev/null || echo 0)))
    done
    exec 8>&-
    wait $cpid 2>/dev/null
    rm -f "$D/idle.fifo"
    echo $kb
}
R[ferry,rss]=$(idle_rss ferry)
R[openssh,rss]=$(idle_rss openssh)

HZ=$(getconf CLK_TCK)
cpu_per_gib() { awk -v t="$1" -v hz="$HZ" -v mb="$2" 'BEGIN { printf "%.2f", (t / hz) / (mb / 1024) }'; }
R[ferry,cpu]=$(cpu_per_gib "$CPU_ferry" "$TOTAL_MB_ferry")
R[openssh,cpu]=$(cpu_per_gib "$CPU_openssh" "$TOTAL_MB_openssh")

printf '\nSFTP benchmark: %s MiB file, loopback, %s CPUs, OpenSSH %s\n' "$SIZE_MB" "$(nproc)" \
    "$(ssh -V 2>&1 | cut -d, -f1)"
printf '%-34s %10s %10s %8s\n' "measure" "Ferry" "OpenSSH" "ratio"
for cipher in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
    for op in get put; do
        f=${R[ferry,$op,$cipher]} o=${R[openssh,$op,$cipher]}
        printf '%-34s %7s MB/s %5s MB/s %8s\n' "$op ${cipher%%@*}" "$f" "$o" "$(ratio "$f" "$o")"
    done
done
printf '%-34s %7s MB/s %5s MB/s %8s\n' "4 parallel gets aes128-gcm" "${R[ferry,par4]}" \
    "${R[openssh,par4]}" "$(ratio "${R[ferry,par4]}" "${R[openssh,par4]}")"
printf '%-34s %10s %10s %8s\n' "server CPU s per GiB" "${R[ferry,cpu]}" "${R[openssh,cpu]}" \
    "$(ratio "${R[ferry,cpu]}" "${R[openssh,cpu]}")"
printf '%-34s %7s KiB %6s KiB %8s\n' "RSS of an idle session" "${R[ferry,rss]}" \
    "${R[openssh,rss]}" "$(ratio "${R[ferry,rss]}" "${R[openssh,rss]}")"
echo "(aim: get ratio >= 1.5, put ratio >= 1.2)"
