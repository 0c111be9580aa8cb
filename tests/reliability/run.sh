#!/bin/sh
# Runs every tests/reliability/r_*.sh (`make reliability`) against the debug binary:
#   sh tests/reliability/run.sh FERRY_BIN TMP_DIR [NAME...]
# Each script's output goes to TMP_DIR/logs/NAME.log and is shown as it runs; the last
# line is "N passed, N failed". Exit status 1 when any failed.
set -u
bin=${1:?usage: run.sh FERRY_BIN TMP_DIR [NAME...]}
tmp=${2:?usage: run.sh FERRY_BIN TMP_DIR [NAME...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$tmp/logs"
pass=0 failed=0 names=
for s in "$root"/tests/reliability/r_*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh)
    if [ $# -gt 0 ]; then
        case " $* " in *" $n "* | *" ${n#r_} "*) ;; *) continue ;; esac
    fi
    echo "== $n"
    start=$(date +%s)
    (cd "$root" && FERRY_BIN=$bin FERRY_SRC=$root FERRY_TEST_TMP=$tmp \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout -k 10 1800 bash "$s") >"$tmp/logs/$n.log" 2>&1
    rc=$?
    grep -v "^Socket exception" "$tmp/logs/$n.log"
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        echo "== $n: passed in $(( $(date +%s) - start )) s"
    else
        failed=$((failed + 1))
        names="$names $n"
        echo "== $n: FAILED (exit $rc; log $tmp/logs/$n.log)"
    fi
done
[ $failed -eq 0 ] || echo "failed:$names"
echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
