# SFTP with other real clients: curl's sftp:// (libssh2; key and password logins, -C -
# resume both ways, quote commands) and rclone's sftp backend (copy, sync, check with
# --download, lsl, deletes).
. tests/integration/lib.sh
command -v curl >/dev/null || fail "curl missing"
curl -V | grep -q '^Protocols:.* sftp' || fail "this curl lacks sftp://"

ferry_start
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_bob" || fail "ssh-keygen"
ferry_user_add bob 'bob-Secret-2' --key "$FERRY_DIR/id_bob.pub"
HOME_DIR=$FERRY_ROOT/bob
W=$FERRY_DIR/work
mkdir -p "$W"
cd "$W" || fail "cd"
URL=sftp://127.0.0.1:$SFTP_PORT
# -k: curl would otherwise look the host key up in ~/.ssh/known_hosts.
CURL_KEY="curl -sS -k -u bob: --key $FERRY_DIR/id_bob --pubkey $FERRY_DIR/id_bob.pub"
CURL_PASS="curl -sS -k -u bob:bob-Secret-2"

# --- curl, password ---------------------------------------------------------------------
head -c 2500000 /dev/urandom >a.bin
$CURL_PASS -T a.bin "$URL/a.bin" || fail "curl password upload"
cmp a.bin "$HOME_DIR/a.bin" || fail "curl upload differs"
$CURL_PASS -o a.back "$URL/a.bin" || fail "curl password download"
cmp a.bin a.back || fail "curl download differs"
if curl -sS -k -u bob:wrong "$URL/a.bin" -o /dev/null 2>/dev/null; then
    fail "curl logged in with a wrong password"
fi
listing=$($CURL_PASS "$URL/") || fail "curl directory listing"
assert_contains "$listing" "a.bin" "curl lists the directory (long names)"
assert_contains "$listing" "-rw-r--r--" "curl's listing is ls -l style"

# --- curl, key; -C - both ways -------------------------------------------------------------
head -c 1000000 a.bin >part.bin
$CURL_KEY -C - -o part.bin "$URL/a.bin" || fail "curl key resumed download"
cmp a.bin part.bin || fail "curl -C - download differs"

head -c 3300000 /dev/urandom >b.bin
head -c 777777 b.bin >"$HOME_DIR/b.bin"
$CURL_KEY -C - -T b.bin "$URL/b.bin" || fail "curl key resumed upload"
cmp b.bin "$HOME_DIR/b.bin" || fail "curl -C - upload differs"

# Directories created on the way, quote commands (rename, rm, rmdir).
$CURL_KEY --ftp-create-dirs -T b.bin "$URL/x/y/b.bin" || fail "curl --ftp-create-dirs"
cmp b.bin "$HOME_DIR/x/y/b.bin" || fail "nested upload differs"
$CURL_KEY -Q "rename /x/y/b.bin /x/y/c.bin" -Q "rm /x/y/c.bin" -Q "rmdir /x/y" \
    -o /dev/null "$URL/a.bin" || fail "curl quote commands"
[ -d "$HOME_DIR/x" ] && [ ! -e "$HOME_DIR/x/y" ] || fail "quote commands not applied"

# --- rclone ------------------------------------------------------------------------------
if command -v rclone >/dev/null; then
    export RCLONE_CONFIG=$FERRY_DIR/rclone.conf
    : >"$RCLONE_CONFIG"
    R=":sftp,host=127.0.0.1,port=$SFTP_PORT,user=bob,key_file=$FERRY_DIR/id_bob:"
    RC="rclone --retries 1 --low-level-retries 1 -q"
    mkdir -p src/sub
    for i in 1 2 3 4 5; do head -c $((i * 100000)) /dev/urandom >src/f$i.bin; done
    head -c 12345 /dev/urandom >src/sub/deep.bin
    $RC copy src "${R}r" || fail "rclone copy"
    for f in f1.bin f5.bin sub/deep.bin; do
        cmp "src/$f" "$HOME_DIR/r/$f" || fail "rclone copy: $f differs"
    done
    $RC check --download src "${R}r" || fail "rclone check --download after copy"
    out=$($RC lsl "${R}r") || fail "rclone lsl"
    assert_contains "$out" "500000" "rclone lsl shows sizes"
    # sync: a changed file, a deleted one, a new one.
    head -c 4242 /dev/urandom >src/f1.bin
    rm src/f2.bin
    head -c 999 /dev/urandom >src/new.bin
    $RC sync src "${R}r" || fail "rclone sync"
    [ ! -e "$HOME_DIR/r/f2.bin" ] || fail "rclone sync did not delete f2.bin"
    cmp src/f1.bin "$HOME_DIR/r/f1.bin" || fail "rclone sync: f1 differs"
    cmp src/new.bin "$HOME_DIR/r/new.bin" || fail "rclone sync: new.bin differs"
    $RC check --download src "${R}r" || fail "rclone check --download after sync"
    # check must notice a difference made behind its back.
    printf 'tampered' >"$HOME_DIR/r/f3.bin"
    if $RC check --download src "${R}r" 2>/dev/null; then
        fail "rclone check missed a changed file"
    fi
    # Downloads through rclone.
    $RC copy "${R}r" back || fail "rclone copy down"
    cmp src/f5.bin back/f5.bin || fail "rclone download differs"
    $RC purge "${R}r" || fail "rclone purge"
    [ ! -e "$HOME_DIR/r" ] || fail "rclone purge left r"
else
    echo "note: rclone missing, rclone part skipped"
fi

# --- paramiko (Python scripts) ---------------------------------------------------------------
if /usr/bin/python3 -c 'import paramiko' 2>/dev/null; then
    head -c 700000 /dev/urandom >p.bin
    cat >"$FERRY_DIR/pm.py" <<'EOF'
import hashlib, os, stat, sys
import paramiko
t = paramiko.Transport(("127.0.0.1", int(os.environ["PORT"])))
t.connect(username="bob", pkey=paramiko.Ed25519Key.from_private_key_file(os.environ["KEY"]))
sf = paramiko.SFTPClient.from_transport(t)
home = os.environ["HOMEDIR"]
sf.mkdir("py")
sf.put("p.bin", "py/p.bin")
assert sf.stat("py/p.bin").st_size == 700000
sf.get("py/p.bin", "p.back")
assert open("p.bin", "rb").read() == open("p.back", "rb").read()
# Server-side hash without downloading (the check-file extension).
with sf.open("py/p.bin", "r") as f:
    digest = f.check("sha256")
assert digest == hashlib.sha256(open("p.bin", "rb").read()).digest(), "check-file digest"
sf.symlink("p.bin", "py/l.bin")
assert sf.readlink("py/l.bin") == "p.bin"
assert stat.S_ISLNK(sf.lstat("py/l.bin").st_mode)
sf.posix_rename("py/p.bin", "py/q.bin")
names = sorted(a.filename for a in sf.listdir_attr("py"))
assert names == ["l.bin", "q.bin"], names
sf.chmod("py/q.bin", 0o600)
assert stat.S_IMODE(sf.stat("py/q.bin").st_mode) == 0o600
with sf.open("py/w.txt", "w") as f:
    f.write(b"written by paramiko\n")
assert open(os.path.join(home, "py/w.txt"), "rb").read() == b"written by paramiko\n"
try:
    sf.open("../../../../etc/passwd").read()
    sys.exit("read outside the root")
except IOError:
    pass
for n in ("l.bin", "q.bin", "w.txt"):
    sf.remove("py/" + n)
sf.rmdir("py")
sf.close()
t.close()
EOF
    KEY=$FERRY_DIR/id_bob PORT=$SFTP_PORT HOMEDIR=$HOME_DIR /usr/bin/python3 "$FERRY_DIR/pm.py" ||
        fail "paramiko checks"
else
    echo "note: python3-paramiko missing, paramiko part skipped"
fi

# Nothing left half-written: no partials after clean transfers.
[ -z "$(find "$HOME_DIR" -name '.ferry~*')" ] || fail "partials left after clean transfers"
grep '"proto":"sftp"' "$FERRY_STATE/audit.jsonl" | grep -q '"event":"upload"' ||
    fail "no upload audit records"

cd "$FERRY_SRC" || fail "cd back"
ferry_stop
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "ok"
