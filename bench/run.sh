#!/bin/sh
# Runs every benchmark (bench/*.sh except this one) against the release binary given as
# $1, side by side with its peer, on loopback. BENCH=name runs only bench/name.sh.
# Each prints its own figures and the Ferry/peer ratios.
set -u
ferry=${1:?usage: bench/run.sh PATH-TO-RELEASE-FERRY}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/*.sh; do
    name=$(basename "$b" .sh)
    [ "$name" = run ] && continue
    [ -n "${BENCH:-}" ] && [ "$BENCH" != "$name" ] && continue
    echo "== bench: $name"
    sh "$b" "$ferry" || { echo "== bench $name failed"; status=1; }
done
exit $status
