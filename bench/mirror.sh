#!/bin/bash
# ferry mirror against lftp's mirror and wget -m, side by side on one run, from a local
# vsftpd (Debian's, unpacked by tests/peers/peers.sh): a tree of 10,000 small files and
# one 4 GiB file of random data. Prints seconds and the Ferry/peer ratios (>1: Ferry
# faster). SMALL_FILES and BIG_MB make it smaller for a quick look.
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
    rm -rf "$dst"
    sync
    t0=$(now)
    case "$name" in
    ferry) "$FERRY_BIN" mirror "${PEER_URL}$sub/" "$dst" --verify none --quiet || fail "ferry mirror" ;;
    lftp) lftp -u "$PEER_USER,$PEER_PASS" -e "set ftp:passive-mode on; mirror $sub $dst; quit" \
        "ftp://$HOSTPORT" >/dev/null 2>&1 || fail "lftp mirror" ;;
    wget) wget -q -m -nH --cut-dirs=0 -P "$dst" "ftp://$PEER_USER:$PEER_PASS@$HOSTPORT/$sub/" ||
        fail "wget -m" ;;
    esac
    t1=$(now)
    secs "$t0" "$t1"
    rm -rf "$dst"
}

echo "mirror bench: $SMALL_FILES small files, one ${BIG_MB} MiB file, from vsftpd on loopback"
for sub in small big; do
    f=$(run ferry "$sub")
    l=$(run lftp "$sub")
    w=$(run wget "$sub")
    printf '%-6s ferry %7.2fs  lftp %7.2fs  wget %7.2fs  ferry/lftp %.2f  ferry/wget %.2f\n' \
        "$sub" "$f" "$l" "$w" "$(echo "$l / $f" | bc -l)" "$(echo "$w / $f" | bc -l)"
done
