# SFTP with OpenSSH's sftp client in batch mode: listing, transfers, directory and link
# operations, df, reget/reput byte-identical, a sparse file above 4 GiB listed with its
# true size and resumed at offsets above 4 GiB both ways, password and key logins, and
# the audit records of all of it.
. tests/integration/lib.sh
command -v sftp >/dev/null || fail "OpenSSH sftp client missing (apt-get install openssh-client)"

ferry_start
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_alice" || fail "ssh-keygen"
ferry_user_add alice 'alice-Secret-1' --key "$FERRY_DIR/id_alice.pub"
HOME_DIR=$FERRY_ROOT/alice
W=$FERRY_DIR/work
mkdir -p "$W"
cd "$W" || fail "cd"

SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
# Key login; batch from stdin. Prints the session's output; fails the test on error.
sftp_key() {
    sftp $SSH_OPTS -o BatchMode=yes -o PasswordAuthentication=no -i "$FERRY_DIR/id_alice" \
        -P "$SFTP_PORT" -b - alice@127.0.0.1
}

# --- password login (sshpass when present) -----------------------------------------
if command -v sshpass >/dev/null; then
    out=$(printf 'pwd\n' | SSHPASS='alice-Secret-1' sshpass -e sftp $SSH_OPTS -o BatchMode=no \
        -o PubkeyAuthentication=no -P "$SFTP_PORT" -b - alice@127.0.0.1 2>&1) ||
        fail "password login: $out"
    assert_contains "$out" "Remote working directory: /" "pwd after password login"
    if printf 'pwd\n' | SSHPASS='wrong' sshpass -e sftp $SSH_OPTS -o BatchMode=no \
        -o PubkeyAuthentication=no -P "$SFTP_PORT" -b - alice@127.0.0.1 >/dev/null 2>&1; then
        fail "a wrong password logged in"
    fi
else
    echo "note: sshpass missing, password login is tested by t_sftp_clients.sh (curl)"
fi

# --- basic batch ----------------------------------------------------------------------
head -c 3000000 /dev/urandom >data.bin
printf 'hello\n' >small.txt
out=$(sftp_key 2>&1 <<EOF
mkdir docs
put data.bin docs/data.bin
put small.txt
chmod 640 small.txt
rename small.txt docs/readme.txt
ln -s readme.txt docs/link.txt
ls -l docs
get docs/data.bin back.bin
get docs/link.txt via-link.txt
df
EOF
) || fail "batch failed: $out"
cmp data.bin back.bin || fail "get returned different bytes"
cmp small.txt via-link.txt || fail "get through the symlink returned different bytes"
cmp data.bin "$HOME_DIR/docs/data.bin" || fail "uploaded bytes differ on disk"
assert_contains "$out" "-rw-r-----    1 alice    alice           6 " "ls -l shows mode and size"
assert_contains "$out" "readme.txt" "ls -l lists the renamed file"
assert_contains "$out" "lrwxrwxrwx" "ls -l shows the symlink"
assert_contains "$out" "3000000 " "ls -l shows the upload's size"
assert_contains "$out" "Avail" "df prints the statvfs numbers"
[ "$(stat -c %a "$HOME_DIR/docs/readme.txt")" = 640 ] || fail "chmod not applied"
[ "$(readlink "$HOME_DIR/docs/link.txt")" = readme.txt ] || fail "symlink target"

out=$(sftp_key 2>&1 <<EOF
rm docs/link.txt
rm docs/readme.txt
rm docs/data.bin
rmdir docs
ls -l
EOF
) || fail "cleanup batch failed: $out"
[ ! -e "$HOME_DIR/docs" ] || fail "rmdir did not remove docs"

# Errors are reported, not fatal to the session (leading '-' keeps sftp going).
out=$(sftp_key 2>&1 <<EOF
-get nothing-here.bin
-rmdir nothing-here
-rename nothing-here other
pwd
EOF
) || fail "error batch failed: $out"
assert_contains "$out" "not found" "missing file reported"

# --- reget / reput byte-identical ---------------------------------------------------
head -c 5000000 /dev/urandom >"$HOME_DIR/resume.bin"
head -c 1234567 "$HOME_DIR/resume.bin" >partial.bin
printf 'reget resume.bin partial.bin\n' | sftp_key >/dev/null 2>&1 || fail "reget failed"
cmp partial.bin "$HOME_DIR/resume.bin" || fail "reget result differs"

head -c 4000000 /dev/urandom >up.bin
head -c 1500000 up.bin >"$HOME_DIR/up.bin"
printf 'reput up.bin up.bin\n' | sftp_key >/dev/null 2>&1 || fail "reput failed"
cmp up.bin "$HOME_DIR/up.bin" || fail "reput result differs"

# --- a sparse file above 4 GiB --------------------------------------------------------
BIG=$((4 * 1024 * 1024 * 1024 + 64 * 1024 * 1024)) # 4 GiB + 64 MiB
TAIL=$((BIG - 4 * 1024 * 1024 * 1024 - 1024 * 1024)) # bytes after 4 GiB + 1 MiB
truncate -s $BIG "$HOME_DIR/big.img" || fail "truncate"
head -c 4096 /dev/urandom >mark.bin
# A marker 2 MiB past 4 GiB, so a wrong offset shows.
dd if=mark.bin of="$HOME_DIR/big.img" bs=4096 seek=$(((4 * 1024 + 2) * 256)) conv=notrunc \
    status=none || fail "dd"
out=$(printf 'ls -l big.img\n' | sftp_key 2>&1) || fail "ls big: $out"
assert_contains "$out" " $BIG " "ls -l shows the true size above 4 GiB"

# Download resumed at 4 GiB + 1 MiB: only the tail travels.
truncate -s $((BIG - TAIL)) big.local || fail "truncate local"
printf 'reget big.img big.local\n' | sftp_key >/dev/null 2>&1 || fail "reget above 4 GiB"
[ "$(stat -c %s big.local)" = $BIG ] || fail "reget size $(stat -c %s big.local)"
tail -c $TAIL big.local | cmp - <(tail -c $TAIL "$HOME_DIR/big.img") ||
    fail "reget above 4 GiB: tail differs"

# Upload resumed at 4 GiB + 1 MiB: the server's copy grows to the local one.
rm -f big.local
truncate -s $BIG big.local
dd if=mark.bin of=big.local bs=4096 seek=$(((4 * 1024 + 40) * 256)) conv=notrunc status=none
truncate -s $((BIG - TAIL)) "$HOME_DIR/big2.img"
printf 'reput big.local big2.img\n' | sftp_key >/dev/null 2>&1 || fail "reput above 4 GiB"
[ "$(stat -c %s "$HOME_DIR/big2.img")" = $BIG ] || fail "reput size"
tail -c $TAIL big.local | cmp - <(tail -c $TAIL "$HOME_DIR/big2.img") ||
    fail "reput above 4 GiB: tail differs"
rm -f big.local "$HOME_DIR/big.img" "$HOME_DIR/big2.img"

# --- an upload answered before its hash is done ---------------------------------------
# CLOSE is answered once the file is committed; the record, with the SHA-256 of what was
# sent, may follow, but before the session's next record (the rename) and its logout.
head -c 64000000 /dev/urandom >settle.bin
printf 'put settle.bin settle.bin\nrename settle.bin settled.bin\n' | sftp_key >/dev/null 2>&1 ||
    fail "put + rename"
cmp settle.bin "$HOME_DIR/settled.bin" || fail "settled upload differs"
/usr/bin/python3 - "$FERRY_STATE/audit.jsonl" "$(sha256sum settle.bin | cut -d' ' -f1)" <<'PY' ||
import json, sys, time
log, want = sys.argv[1], sys.argv[2]
for _ in range(200):  # the session may still be ending
    recs = [json.loads(l) for l in open(log)]
    up = [r for r in recs if r.get("event") == "upload" and r.get("path") == "/settle.bin"]
    mine = [r["event"] for r in recs if up and r.get("session") == up[0]["session"]]
    if "logout" in mine:
        break
    time.sleep(0.1)
else:
    sys.exit("no upload record and logout for /settle.bin")
if up[0].get("sha256") != want or up[0].get("status") != "ok":
    sys.exit("upload record: %r" % up[0])
if mine[-3:] != ["upload", "rename", "logout"]:
    sys.exit("records out of order: %r" % mine)
PY
    fail "records of the settled upload"
rm -f settle.bin "$HOME_DIR/settled.bin"

# --- audit ------------------------------------------------------------------------------
AUDIT=$FERRY_STATE/audit.jsonl
for ev in '"event":"upload"' '"event":"download"' '"event":"mkdir"' '"event":"rename"' \
    '"event":"delete"' '"event":"rmdir"'; do
    grep '"proto":"sftp"' "$AUDIT" | grep -q "$ev" || fail "no sftp audit record with $ev"
done
grep '"event":"upload"' "$AUDIT" | grep '"path":"/docs/data.bin"' | grep -q '"bytes":3000000' ||
    fail "upload record lacks path or bytes"
grep '"event":"download"' "$AUDIT" | grep '"path":"/big.img"' | grep -q '"offset":4296015872' ||
    fail "resumed download record lacks its offset above 4 GiB"
grep '"event":"rename"' "$AUDIT" | grep -q '"path2":"/docs/readme.txt"' || fail "rename path2"

cd "$FERRY_SRC" || fail "cd back"
ferry_stop
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "ok"
