#!/bin/sh
# `ferry hash` against coreutils (sha256sum, b2sum) on a 4 GiB file: MB/s and ratios.
#   sh bench/integrity.sh PATH-TO-RELEASE-FERRY
# The file is sparse by default (the kernel hands out zero pages: no disk in the
# measurement, only hashing and read(2)); BENCH_RANDOM=1 fills it from /dev/urandom
# instead. BENCH_SIZE_MIB changes the size, BENCH_ALGOS the algorithms
# (default "sha256 blake2b"; also sha512 sha1 md5), BENCH_RUNS the runs (best is kept).
set -u
ferry=${1:?usage: bench/integrity.sh PATH-TO-RELEASE-FERRY}
size_mib=${BENCH_SIZE_MIB:-4096}
algos=${BENCH_ALGOS:-sha256 blake2b}
runs=${BENCH_RUNS:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-integrity-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
file=$tmp/data

if [ "${BENCH_RANDOM:-0}" = 1 ]; then
    kind="random"
    head -c $((size_mib * 1048576)) /dev/urandom > "$file" || exit 1
else
    kind="sparse"
    truncate -s "${size_mib}M" "$file" || exit 1
fi

now() { date +%s.%N; }

# best_time CMD...: the shortest wall time of $runs runs, in seconds; the digest of the
# last run is left in $tmp/out.
best_time() {
    best=""
    i=0
    while [ $i -lt "$runs" ]; do
        t0=$(now)
        "$@" < "$file" > "$tmp/out" || return 1
        t1=$(now)
        best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
            'BEGIN { d = b - a; if (best == "" || d < best + 0) print d; else print best }')
        i=$((i + 1))
    done
    echo "$best"
}

echo "integrity: $size_mib MiB $kind file, best of $runs run(s), MB = 10^6 bytes"
status=0
for algo in $algos; do
    case $algo in
    blake2b) tool=b2sum ;;
    *) tool=${algo}sum ;;
    esac
    tf=$(best_time "$ferry" hash --algo "$algo") || { echo "  $algo: ferry hash failed"; status=1; continue; }
    df=$(cut -c1-128 "$tmp/out" | cut -d' ' -f1)
    tc=$(best_time "$tool") || { echo "  $algo: $tool failed"; status=1; continue; }
    dc=$(cut -c1-128 "$tmp/out" | cut -d' ' -f1)
    if [ "$df" != "$dc" ]; then
        echo "  $algo: DIGESTS DIFFER: ferry $df, $tool $dc"
        status=1
        continue
    fi
    awk -v n="$size_mib" -v tf="$tf" -v tc="$tc" -v a="$algo" -v tool="$tool" 'BEGIN {
        mb = n * 1048576 / 1e6
        printf "  %-8s ferry hash %7.0f MB/s (%.2f s)   %-9s %7.0f MB/s (%.2f s)   ratio %.2fx\n",
               a, mb / tf, tf, tool, mb / tc, tc, tc / tf
    }'
done
exit $status
