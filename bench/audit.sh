#!/bin/sh
# `ferry audit` and `ferry audit verify` on a generated 1 GB audit log, side by side with
# the tools an administrator would otherwise use on the same file (grep, wc -l,
# sha256sum): seconds, GB/s and the Ferry/peer throughput ratio.
#   sh bench/audit.sh PATH-TO-RELEASE-FERRY
# The log is written by bench/audit_gen.c (compiled here; chained records hashed with
# OpenSSL, independently of Ferry) into a temporary directory, read once to warm the
# page cache, and deleted at the end. Every command reads the same cached bytes on one
# core; "cpu GB/s" divides by user+sys time, which is what one core sustains even when
# the machine is busy. Each ferry query's record count is checked against its peer's.
# BENCH_AUDIT_MB sets the size (default 1000 MB = 10^9 bytes), BENCH_RUNS the runs per
# command (best kept, default 3). The goal (issue 9): >= 1 GB/s for queries.
set -u
ferry=${1:?usage: bench/audit.sh PATH-TO-RELEASE-FERRY}
size_mb=${BENCH_AUDIT_MB:-1000}
runs=${BENCH_RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-audit-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

cc -O2 -std=c11 -D_GNU_SOURCE -o "$tmp/gen" "$here/audit_gen.c" \
    $(pkg-config --cflags --libs libcrypto 2>/dev/null || echo -lcrypto) || exit 1
"$tmp/gen" "$tmp/audit.jsonl" "$size_mb" || exit 1
log=$tmp/audit.jsonl
bytes=$(stat -c %s "$log")
cat "$log" > /dev/null
"$ferry" audit verify --log "$log" > "$tmp/v" || { cat "$tmp/v"; echo "generated log does not verify"; exit 1; }
echo "audit: $(wc -l < "$log") records, $bytes bytes, best of $runs run(s), GB = 10^9 bytes"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) core(s)"

# best CMD...: runs CMD (output to $tmp/out) $runs times; sets wall and cpu (seconds)
# of the fastest run.
best() {
    wall="" cpu=""
    k=0
    while [ $k -lt "$runs" ]; do
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" > "$tmp/out" || return 1
            w=$(cut -d' ' -f1 "$tmp/t")
            c=$(awk '{ print $2 + $3 }' "$tmp/t")
        else
            t0=$(date +%s.%N)
            "$@" > "$tmp/out" || return 1
            t1=$(date +%s.%N)
            w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
            c=$w
        fi
        if [ -z "$wall" ] || awk -v a="$w" -v b="$wall" 'BEGIN { exit !(a < b) }'; then
            wall=$w cpu=$c
        fi
        k=$((k + 1))
    done
}

gbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { if (s <= 0) s = 0.001; printf "%.2f", b / s / 1e9 }'; }

status=0
printf '%-26s %8s %7s %7s   %-28s %8s %7s   %s\n' "ferry audit ..." "wall s" "GB/s" "cpu" \
    "peer" "wall s" "GB/s" "ratio"
# row NAME PEER-NAME FERRY-CMD... -- PEER-CMD...: times both, compares their line counts
# unless PEER-NAME starts with '=' (a floor, not the same answer).
row() {
    name=$1 pname=$2
    shift 2
    fcmd=""
    while [ "$1" != "--" ]; do
        fcmd="$fcmd '$1'"
        shift
    done
    shift
    eval "best $fcmd" || { echo "$name: ferry failed"; status=1; return; }
    fw=$wall fc=$cpu
    fn=$(wc -l < "$tmp/out")
    best "$@" || true # grep exits 1 when nothing matches
    pw=$wall
    pn=$(wc -l < "$tmp/out")
    printf '%-26s %8.2f %7s %7s   %-28s %8.2f %7s   %s\n' "$name" "$fw" "$(gbs "$fw")" \
        "$(gbs "$fc")" "$pname" "$pw" "$(gbs "$pw")" \
        "$(awk -v a="$fw" -v b="$pw" 'BEGIN { if (a <= 0) a = 0.001; printf "%.2f", b / a }')"
    case $pname in
    =*) ;;
    *) [ "$fn" = "$pn" ] || { echo "  MISMATCH: ferry found $fn records, $pname $pn"; status=1; } ;;
    esac
}

row "--user user07" 'grep "user":"user07"' \
    "$ferry" audit --log "$log" --format json --user user07 -- \
    grep -F '"user":"user07"' "$log"
row "--event login_failed" 'grep "event":"login_failed"' \
    "$ferry" audit --log "$log" --format json --event login_failed -- \
    grep -F '"event":"login_failed"' "$log"
row "--path '/in/*'" 'grep -E "path2?":"/in/' \
    "$ferry" audit --log "$log" --format json --path '/in/*' -- \
    grep -E '"path2?":"/in/' "$log"
row "--remote 10.0.0.0/8 --user" 'grep -E remote+user' \
    "$ferry" audit --log "$log" --format json --remote 10.0.0.0/8 --user user11 -- \
    grep -E '"user":"user11","remote":"10\.' "$log"
# the day of the record in the middle of the log: about half the records are after it
since=$(sed -n "$(( $(wc -l < "$log") / 2 ))p" "$log" | cut -c8-17)
row "--since $since" 'awk ts >= day' \
    "$ferry" audit --log "$log" --format json --since "$since" -- \
    awk -F'"' -v d="$since" '$4 >= d' "$log"
row "--stats (every record)" '= wc -l' \
    "$ferry" audit --log "$log" --stats -- \
    wc -l "$log"
row "--status failed (table)" '= grep "status":"failed"' \
    "$ferry" audit --log "$log" --status failed -- \
    grep -F '"status":"failed"' "$log"
row "verify (chain)" '= sha256sum' \
    "$ferry" audit verify --log "$log" -- \
    sha256sum "$log"
exit $status
