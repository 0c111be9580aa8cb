#!/bin/sh
# The cluster tests (`make cluster-test`, not part of make check): every
# tests/cluster/c_*.sh against FERRY_BIN, with Debian's HAProxy and PostgreSQL 15 started
# by the tests themselves on loopback ports.
#   sh tests/cluster/run.sh FERRY_BIN TMPDIR [NAME...]
# A script's output goes to TMPDIR/logs/NAME.log; its tail is printed when it fails.
set -u
bin=${1:?usage: run.sh FERRY_BIN TMPDIR [NAME...]}
tmp=${2:?usage: run.sh FERRY_BIN TMPDIR [NAME...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$tmp/logs"
status=0
for t in "$root"/tests/cluster/c_*.sh; do
    name=$(basename "$t" .sh)
    if [ $# -gt 0 ]; then
        case " $* " in *" ${name#c_} "*|*" $name "*) ;; *) continue ;; esac
    fi
    log=$tmp/logs/$name.log
    if (cd "$root" && FERRY_BIN=$bin FERRY_SRC=$root FERRY_TEST_TMP=$tmp \
        timeout -k 10 600 bash "tests/cluster/$name.sh") >"$log" 2>&1; then
        echo "cluster: $name ok"
    else
        echo "cluster: $name FAILED (log: $log)"
        tail -n 30 "$log"
        status=1
    fi
done
exit $status
