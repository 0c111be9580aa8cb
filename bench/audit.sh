#!/bin/sh
# `ferry audit` and `ferry audit verify` on a generated 1 GB audit log, side by side with
# the tools an administrator would otherwise use on the same bytes (grep, awk, wc -l,
# sha256sum, openssl): seconds, GB/s and the Ferry/peer throughput ratio.
#   sh bench/audit.sh PATH-TO-RELEASE-FERRY
# The logs are written by bench/audit_gen.c (compiled here; chained records hashed with
# OpenSSL, independently of Ferry) into a temporary directory, read once to warm the
# page cache, and deleted at the end: a plain chain, a keyed one (HMAC-SHA256, for
# `verify --key`), and the plain one gzipped as a rotation (audit.jsonl.1.gz; inflating
# is slower, so those rows are reported apart). Every command reads the same cached
# bytes on one core; GB/s is always uncompressed log bytes per second. "cpu" divides by
# user+sys time, which is what one core sustains even when the machine is busy, and the
# cpu ratio compares those; "wall" ratios suffer from a busy machine. Each query's record
# count is checked against its peer's.
# BENCH_AUDIT_MB sets the size (default 1000 MB = 10^9 bytes), BENCH_RUNS the runs per
# command (best kept, default 3), BENCH_AUDIT_GZ=0 skips the gzip rows.
# The goal (issue 9): every mode >= 1 GB/s on one core on plain files; the last column
# says whether the cpu figure meets it.
set -u
ferry=${1:?usage: bench/audit.sh PATH-TO-RELEASE-FERRY}
size_mb=${BENCH_AUDIT_MB:-1000}
runs=${BENCH_RUNS:-3}
with_gz=${BENCH_AUDIT_GZ:-1}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-audit-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

cc -O2 -std=c11 -D_GNU_SOURCE -o "$tmp/gen" "$here/audit_gen.c" \
    $(pkg-config --cflags --libs libcrypto 2>/dev/null || echo -lcrypto) || exit 1
log=$tmp/audit.jsonl
klog=$tmp/keyed/audit.jsonl
key=$tmp/audit.key
mkdir -p "$tmp/keyed" "$tmp/gz" || exit 1
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$key" && echo >> "$key"
"$tmp/gen" "$log" "$size_mb" || exit 1
"$tmp/gen" "$klog" "$size_mb" 2 "$key" || exit 1
bytes=$(stat -c %s "$log")
kbytes=$(stat -c %s "$klog")
cat "$log" "$klog" > /dev/null
"$ferry" audit verify --log "$log" > "$tmp/v" || { cat "$tmp/v"; echo "generated log does not verify"; exit 1; }
"$ferry" audit verify --log "$klog" --key "$key" > "$tmp/v" ||
    { cat "$tmp/v"; echo "generated keyed log does not verify"; exit 1; }
echo "audit: $(wc -l < "$log") records, $bytes bytes, best of $runs run(s), GB = 10^9 bytes"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) core(s)"

# best CMD...: runs CMD (output to $tmp/out) $runs times; sets wall and cpu (seconds)
# of the fastest run (children included: a peer may be a pipeline).
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

# gbs SECONDS [BYTES]
gbs() {
    awk -v b="${2:-$bytes}" -v s="$1" 'BEGIN { if (s <= 0) s = 0.001; printf "%.2f", b / s / 1e9 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a <= 0) a = 0.001; printf "%.2f", b / a }'; }

status=0
missed=""
printf '%-28s %7s %6s %6s   %-28s %7s %6s %6s   %6s %6s  %s\n' "ferry audit ..." "wall s" "GB/s" \
    "cpu" "peer" "wall s" "GB/s" "cpu" "ratio" "cpu r." "goal"
# row NAME PEER-NAME FERRY-CMD... -- PEER-CMD...: times both, compares their line counts
# unless PEER-NAME starts with '=' (a floor, not the same answer). ROW_BYTES (default
# the plain log's size) is what GB/s divides; ROW_GOAL=no for rows outside the goal.
row() {
    name=$1 pname=$2
    shift 2
    fcmd=""
    while [ "$1" != "--" ]; do
        fcmd="$fcmd '$1'"
        shift
    done
    shift
    rb=${ROW_BYTES:-$bytes}
    eval "best $fcmd" || { echo "$name: ferry failed"; status=1; return; }
    fw=$wall fc=$cpu
    fn=$(wc -l < "$tmp/out")
    best "$@" || true # grep exits 1 when nothing matches
    pw=$wall pc=$cpu
    pn=$(wc -l < "$tmp/out")
    goal=-
    if [ "${ROW_GOAL:-yes}" = yes ]; then
        if awk -v g="$(gbs "$fc" "$rb")" 'BEGIN { exit !(g >= 1) }'; then
            goal=met
        else
            goal=MISSED missed="$missed, $name"
        fi
    fi
    printf '%-28s %7.2f %6s %6s   %-28s %7.2f %6s %6s   %6s %6s  %s\n' "$name" "$fw" \
        "$(gbs "$fw" "$rb")" "$(gbs "$fc" "$rb")" "$pname" "$pw" "$(gbs "$pw" "$rb")" \
        "$(gbs "$pc" "$rb")" "$(ratio "$fw" "$pw")" "$(ratio "$fc" "$pc")" "$goal"
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
row "--path '*.iso'" 'grep -E "path2?":"[^"]*\.iso"' \
    "$ferry" audit --log "$log" --format json --path '*.iso' -- \
    grep -E '"path2?":"[^"]*\.iso"' "$log"
row "--remote 10.0.0.0/8 --user" 'grep -E remote+user' \
    "$ferry" audit --log "$log" --format json --remote 10.0.0.0/8 --user user11 -- \
    grep -E '"user":"user11","remote":"10\.' "$log"
# the day of the record in the middle of the log: about half the records are after it
since=$(sed -n "$(($(wc -l < "$log") / 2))p" "$log" | cut -c8-17)
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
row "verify (chain), SHA floor" '= openssl sha256 (SHA-NI)' \
    "$ferry" audit verify --log "$log" -- \
    openssl dgst -sha256 "$log"
ROW_BYTES=$kbytes row "verify --key (HMAC chain)" '= sha256sum' \
    "$ferry" audit verify --log "$klog" --key "$key" -- \
    sha256sum "$klog"

if [ "$with_gz" != 0 ]; then
    # the plain log as its only, gzipped, rotation: audit.jsonl.1.gz
    gzip -1 -c "$log" > "$tmp/gz/audit.jsonl.1.gz" || exit 1
    zbytes=$(stat -c %s "$tmp/gz/audit.jsonl.1.gz")
    echo "gzip rotation ($zbytes bytes compressed; GB/s of the $bytes bytes inflated; no goal):"
    ROW_GOAL=no row "verify (gzip rotation)" '= gzip -dc | sha256sum' \
        "$ferry" audit verify --log "$tmp/gz/audit.jsonl" -- \
        sh -c 'gzip -dc "$1" | sha256sum' sh "$tmp/gz/audit.jsonl.1.gz"
    ROW_GOAL=no row "--user user07 (gzip)" 'gzip -dc | grep "user":...' \
        "$ferry" audit --log "$tmp/gz/audit.jsonl" --format json --user user07 -- \
        sh -c 'gzip -dc "$1" | grep -F "\"user\":\"user07\""' sh "$tmp/gz/audit.jsonl.1.gz"
    ROW_GOAL=no row "--stats (gzip)" '= gzip -dc | wc -l' \
        "$ferry" audit --log "$tmp/gz/audit.jsonl" --stats -- \
        sh -c 'gzip -dc "$1" | wc -l' sh "$tmp/gz/audit.jsonl.1.gz"
fi
if [ -n "$missed" ]; then
    echo "goal (>= 1 GB/s cpu on plain files) missed by:${missed#,}"
else
    echo "goal (>= 1 GB/s cpu on plain files): met by every mode"
fi
exit $status
