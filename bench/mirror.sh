#!/bin/bash
# ferry mirror against lftp's mirror and wget -m, side by side on one run, from a local
# vsftpd (Debian's, unpacked by tests/peers/peers.sh): a tree of 10,000 small files and
# one 4 GiB file of random data (also fetched with curl, which has no mirror mode).
# Prints seconds and the Ferry/peer ratios (>1: Ferry faster). Ferry runs with its
# defaults (4 connections); lftp's mirror is shown with its default (one connection)
# and with --parallel=4, the like-for-like figure. Each tool runs ROUNDS times (default
# 3) interleaved, and the median is reported: the machine may be shared.
# SMALL_FILES and BIG_MB make it smaller for a quick look (e.g. SMALL_FILES=2000
# BIG_MB=256).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # bench/run.sh starts us with sh
set -u
FERRY_BIN=${1:?usage: bench/mirror.sh PATH-TO-FERRY}
cd "$(dirname "$0")/.."
export FERRY_BIN FERRY_TEST_TMP=${FERRY_TEST_TMP:-/tmp/ferry-bench}
. tests/integration/lib.sh
. tests/peers/peers.sh

SMALL_FILES=${SMALL_FILES:-10000}
BIG_MB=${BIG_MB:-4096}
TREE=$FERRY_DIR/tree
mkdir -p "$TREE/small" "$TREE/big"
/usr/bin/python3 - "$TREE/small" "$SMALL_FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.dat" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(200, 8000)))
PY
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom > "$TREE/big/big.bin"
peer_start vsftpd "$TREE" user || fail "vsftpd did not start"
HOSTPORT=127.0.0.1:$PEER_PORT

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

run() { # NAME SUBDIR -> prints seconds; leaves nothing behind
    local name=$1 sub=$2 dst=$FERRY_DIR/out-$1 t0 t1
    local url="ftp://$PEER_USER:$PEER_PASS@$HOSTPORT"
    rm -rf "$dst"
    sync
    t0=$(now)
    case "$name" in
    ferry) "$FERRY_BIN" mirror "${PEER_URL}$sub/" "$dst" --verify none --quiet || fail "ferry mirror" ;;
    lftp) lftp -u "$PEER_USER,$PEER_PASS" -e "set ftp:passive-mode on; mirror $sub $dst; quit" \
        "ftp://$HOSTPORT" >/dev/null 2>&1 || fail "lftp mirror" ;;
    lftp4) lftp -u "$PEER_USER,$PEER_PASS" \
        -e "set ftp:passive-mode on; mirror --parallel=4 $sub $dst; quit" \
        "ftp://$HOSTPORT" >/dev/null 2>&1 || fail "lftp mirror --parallel=4" ;;
    wget) wget -q -m -nH --cut-dirs=0 -P "$dst" "$url/$sub/" || fail "wget -m" ;;
    curl) mkdir -p "$dst" && curl -sS -o "$dst/big.bin" "$url/$sub/big.bin" || fail "curl" ;;
    esac
    t1=$(now)
    secs "$t0" "$t1"
    rm -rf "$dst"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ROUNDS=${ROUNDS:-3}

echo "mirror bench: $SMALL_FILES small files, one ${BIG_MB} MiB file, from vsftpd on loopback" \
    "(median of $ROUNDS)"
for sub in small big; do
    tools="ferry lftp lftp4 wget"
    [ "$sub" = big ] && tools="$tools curl"
    declare -A t=()
    for _ in $(seq "$ROUNDS"); do
        for tool in $tools; do t[$tool]="${t[$tool]:-} $(run "$tool" "$sub")"; done
    done
    declare -A m=()
    for tool in $tools; do m[$tool]=$(printf '%s\n' ${t[$tool]} | median); done
    line=$(printf '%-6s' "$sub")
    for tool in $tools; do line="$line $(printf '%s %6.2fs ' "$tool" "${m[$tool]}")"; done
    echo "$line"
    line="       "
    for tool in $tools; do
        [ "$tool" = ferry ] && continue
        line="$line $(printf 'ferry/%s %.2f ' "$tool" "$(echo "${m[$tool]} / ${m[ferry]}" | bc -l)")"
    done
    echo "$line"
    unset t m
done
