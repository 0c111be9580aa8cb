#!/bin/bash
# WebDAV with cadaver (neon): a scripted session doing mkcol, put, get, move, lock, a
# listing that shows the lock, and unlock. cadaver only asks about an untrusted
# certificate on a terminal, so it runs under script(1) and the first answer is "y";
# credentials come from a .netrc in a temporary HOME. The pty's echo is off: readline
# echoes each line itself when it reads it, so commands typed ahead are not echoed into
# the middle of an earlier command's output.
. tests/integration/lib.sh

ferry_start
ferry_user_add alice 'alice-pw'
W=$FERRY_DIR/work
mkdir -p "$W/home"
printf 'machine 127.0.0.1 login alice password alice-pw\n' >"$W/home/.netrc"
chmod 600 "$W/home/.netrc"
head -c 200000 /dev/urandom >"$W/local.bin"
cd "$W" || fail "cd"
out=$({
    sleep 2
    printf 'y\n'
    sleep 1
    printf 'mkcol coll\ncd coll\nput local.bin\nget local.bin got.bin\nmove local.bin moved.bin\n'
    printf 'lock moved.bin\ndiscover moved.bin\nls\nunlock moved.bin\ndiscover moved.bin\nquit\n'
    sleep 3
} | HOME="$W/home" timeout 60 script -qec "stty -echo; cadaver https://127.0.0.1:$HTTPS_PORT/" /dev/null 2>&1 |
    tr -d '\r')
echo "$out"
cd "$FERRY_SRC" || fail "cd back"
assert_contains "$out" "Creating \`coll': succeeded." "mkcol"
assert_contains "$out" "to \`/coll/local.bin':" "put"
assert_contains "$out" "Moving \`/coll/local.bin' to \`/coll/moved.bin':  succeeded." "move"
assert_contains "$out" "Locking \`moved.bin': succeeded." "lock"
assert_contains "$out" "Lock token <urn:uuid:" "discover shows the lock"
assert_contains "$out" "Unlocking \`moved.bin': succeeded." "unlock"
[ "$(printf '%s\n' "$out" | grep -c 'Lock token <')" = 1 ] || fail "lock still listed after unlock"
cmp -s "$W/local.bin" "$W/got.bin" || fail "get content"
cmp -s "$W/local.bin" "$FERRY_ROOT/alice/coll/moved.bin" || fail "moved content"
[ -e "$FERRY_ROOT/alice/coll/local.bin" ] && fail "move left the source"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
