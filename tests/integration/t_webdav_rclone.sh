#!/bin/bash
# WebDAV with rclone's webdav backend (configured through RCLONE_CONFIG_* variables,
# --no-check-certificate for the self-signed certificate): copy a tree with nested
# directories, spaces and non-ASCII names up, check it with --download (content, not
# just sizes), sync after local deletions, additions and changes, then copy it back
# down and compare.
. tests/integration/lib.sh

ferry_start
ferry_user_add alice 'alice-pw'
W=$FERRY_DIR/work
L=$W/local
mkdir -p "$L/sub/deeper" "$L/empty dir" "$L/ünïcödé"
printf 'a\n' >"$L/a.txt"
head -c 5000000 /dev/urandom >"$L/sub/big.bin"
head -c 1000 /dev/urandom >"$L/sub/deeper/small one.bin"
printf 'grüße\n' >"$L/ünïcödé/файл.txt"
: >"$L/sub/empty.txt"
export RCLONE_CONFIG_FERRY_TYPE=webdav
export RCLONE_CONFIG_FERRY_URL="https://127.0.0.1:$HTTPS_PORT/"
export RCLONE_CONFIG_FERRY_VENDOR=other
export RCLONE_CONFIG_FERRY_USER=alice
RCLONE_CONFIG_FERRY_PASS=$(rclone obscure 'alice-pw') || fail "rclone obscure"
export RCLONE_CONFIG_FERRY_PASS
export RCLONE_CONFIG="$W/rclone.conf" # none: everything comes from the environment
R="timeout 120 rclone --no-check-certificate --retries 1 --low-level-retries 1"

$R copy "$L" ferry:tree || fail "rclone copy"
cmp -s "$L/sub/big.bin" "$FERRY_ROOT/alice/tree/sub/big.bin" || fail "big.bin differs on the server"
[ -f "$FERRY_ROOT/alice/tree/ünïcödé/файл.txt" ] || fail "non-ASCII names"
$R check --download "$L" ferry:tree || fail "rclone check after copy"

rm "$L/a.txt"
printf 'new\n' >"$L/sub/new.txt"
head -c 4000000 /dev/urandom >"$L/sub/big.bin"
$R sync "$L" ferry:tree || fail "rclone sync"
[ -e "$FERRY_ROOT/alice/tree/a.txt" ] && fail "sync did not delete a.txt"
$R check --download "$L" ferry:tree || fail "rclone check after sync"
out=$($R lsf -R ferry:tree) || fail "rclone lsf"
assert_contains "$out" "sub/deeper/small one.bin" "lsf lists nested names"

$R copy ferry:tree "$W/back" || fail "rclone copy down"
diff -r "$L" "$W/back" >/dev/null || {
    # rclone does not create empty directories on copy down; compare files only.
    (cd "$L" && find . -type f | sort) >"$W/l.lst"
    (cd "$W/back" && find . -type f | sort) >"$W/b.lst"
    cmp -s "$W/l.lst" "$W/b.lst" || fail "downloaded tree lists other files"
    while read -r f; do cmp -s "$L/$f" "$W/back/$f" || fail "downloaded $f differs"; done <"$W/l.lst"
}
$R purge ferry:tree || fail "rclone purge"
[ -e "$FERRY_ROOT/alice/tree" ] && fail "purge left the tree"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
