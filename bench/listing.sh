#!/bin/sh
# Listing parser and encoding detection benchmarks (issue 4), run by bench/run.sh:
#   sh bench/listing.sh /path/to/release/ferry
# Prints, with ratios:
#   * parser MB/s and entries/s on a 1-million-line Unix listing (CPU time, in memory);
#   * the same listing served over FTP by pyftpdlib (bench/listing_ftpd.py) and fetched by
#     libcurl: bare transfer, + Ferry's parser in the write callback, and libcurl's own
#     listing parser (CURLOPT_WILDCARDMATCH with a CHUNK_BGN callback that skips every file);
#   * the parser on the mixed-format corpus of tests/data/listings (12 formats);
#   * `ferry parse-listing` end to end (JSON out) on the big listing;
#   * detection accuracy and speed against uchardet on tests/data/encodings.
# LINES overrides the size of the synthetic listing (default 1000000).
set -u
ferry=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lines=${LINES:-1000000}
out=$(dirname "${ferry:-$root/build/ferry}")/bench
mkdir -p "$out" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-listing.XXXXXX") || exit 1
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "== listing parser and encoding detection (bench/listing.sh)"
cc=${CC:-cc}
# shellcheck disable=SC2046
if ! $cc -std=c11 -D_GNU_SOURCE -O2 -I"$root" -o "$out/bench_listing" "$here/bench_listing.c" \
    "$root/ftp/listparse.c" "$root/ftp/encoding.c" $(pkg-config --cflags --libs libcurl uchardet); then
    echo "listing.sh: cannot build bench_listing (needs libcurl and uchardet)" >&2
    exit 1
fi
big="$tmp/unix-$lines.txt"
"$out/bench_listing" gen "$big" "$lines" || exit 1

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/ftproot/pub"
/usr/bin/python3 "$here/listing_ftpd.py" "$port" "$big" "$tmp/ftproot" > "$tmp/ftpd.log" 2>&1 &
pid=$!
up=""
for _ in $(seq 100); do
    if curl -s -o /dev/null --max-time 2 "ftp://127.0.0.1:$port/pub/x" 2>/dev/null ||
        /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
if [ -n "$up" ]; then
    "$out/bench_listing" parse "$big" "$port" || echo "listing.sh: FTP comparison failed" >&2
else
    echo "listing.sh: pyftpdlib did not start (python3-pyftpdlib missing?); in-memory figures only" >&2
    "$out/bench_listing" parse "$big"
fi
"$out/bench_listing" mixed "$root/tests/data/listings"

if [ -n "$ferry" ] && [ -x "$ferry" ] && "$ferry" parse-listing --help > /dev/null 2>&1; then
    size=$(wc -c < "$big")
    for enc in UTF-8 auto; do
        t0=$(date +%s%N)
        "$ferry" parse-listing --encoding "$enc" --now 2024-03-15T12:00 < "$big" > "$tmp/out.json"
        t1=$(date +%s%N)
        n=$(wc -l < "$tmp/out.json")
        awk -v b="$size" -v n="$n" -v ns=$((t1 - t0)) -v e="$enc" 'BEGIN {
            printf "ferry parse-listing --encoding %-5s %d entries in %.2f s: %.1f MB/s in, JSON out (wall clock)\n",
                e, n, ns / 1e9, b / 1e6 / (ns / 1e9) }'
    done
else
    echo "listing.sh: $ferry has no parse-listing yet; skipping the end-to-end run"
fi
"$out/bench_listing" detect "$root/tests/data/encodings"
