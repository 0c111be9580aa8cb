#!/bin/bash
# The session sandbox (gateway/sandbox.h): with `sandbox = yes` (the default) every
# session runs under a seccomp filter and, once logged in, a Landlock ruleset limited to
# the user's root. Checks, against the running server:
#  - the session process of a live connection is in seccomp filter mode with no_new_privs;
#  - through the FERRY_SANDBOX_PROBE test hook, a logged-in session can open its own files
#    but not another user's home, a file beside the server root, the state dir (users,
#    host key) or /etc/shadow, and cannot execve or ptrace - paths and calls the VFS
#    would never make, so only the sandbox can be what refuses them;
#  - the same probes with `sandbox = no` are allowed (the probe is not rigged);
#  - every front end still does its normal work inside the sandbox: FTP, SFTP and WebDAV
#    round trips (with cross-directory renames, WebDAV locks and dead properties in the
#    state dir), anonymous read-only access, and an upstream FTP mount reached by host
#    name (resolver files after login).
. tests/integration/lib.sh
. tests/peers/peers.sh

abi=$(/usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None); print(l.syscall(444, None, 0, 1))')
if [ "$abi" -lt 2 ]; then
    echo "t_sandbox: no usable Landlock on this kernel (ABI $abi), skipped"
    exit 0
fi
grep -q '^Seccomp:' /proc/self/status || { echo "t_sandbox: no seccomp, skipped"; exit 0; }

C="curl -sS --max-time 60"
W=$FERRY_DIR/work
mkdir -p "$W" "$FERRY_ROOT/alice/sub" "$FERRY_ROOT/bob" "$FERRY_ROOT/pub"
echo mine >"$FERRY_ROOT/alice/mine.txt"
echo bobs >"$FERRY_ROOT/bob/secret.txt"
echo beside >"$FERRY_DIR/outside.txt"
echo public >"$FERRY_ROOT/pub/readme.txt"
# Absolute paths: the probe runs in the session, whose working directory is the server's.
probes="$FERRY_ROOT/alice/mine.txt:$FERRY_ROOT/bob/secret.txt:$FERRY_DIR/outside.txt"
probes="$probes:$FERRY_STATE/users:$FERRY_STATE/ssh_host_ed25519_key:/etc/shadow:exec:ptrace"
export FERRY_SANDBOX_PROBE=$probes

# Logs in as alice on the test front end, then prints the session's pid and the
# Seccomp/NoNewPrivs lines of its /proc status while the connection is still open, and
# checks that it holds no descriptor into the state dir or another user's files.
tfe_login() {
    TEST_PORT=$TEST_PORT SERVE_LOG=$FERRY_DIR/serve.log FERRY_STATE=$FERRY_STATE \
        FERRY_ROOT=$FERRY_ROOT /usr/bin/python3 - <<'PY'
import os, re, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
c = TFE(int(os.environ["TEST_PORT"]))
rep = c.cmd("LOGIN alice alice-pw")
assert rep.startswith("OK alice /alice rw"), rep
assert c.put("/up.txt", b"sandboxed") == "OK 9", "upload"
rep, data = c.get("/up.txt")
assert data == b"sandboxed", (rep, data)
assert c.cmd("MKDIR /d") == "OK"
assert c.cmd("RENAME /up.txt /d/up.txt") == "OK", "rename across directories"
pid = None
for _ in range(50):
    m = re.findall(r"ferry\[(\d+)\]: sandbox probe ptrace", open(os.environ["SERVE_LOG"]).read())
    if m:
        pid = m[-1]
        break
    time.sleep(0.1)
assert pid, "no probe lines in serve.log"
status = open("/proc/%s/status" % pid).read()
# Landlock checks opens, not descriptors held from before: none may lead into the state
# dir (users, keys, audit log) or elsewhere outside the user's root.
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    assert not target.startswith(os.environ["FERRY_STATE"]), "fd %s: %s" % (fd, target)
    if target.startswith(os.environ["FERRY_ROOT"] + "/"):
        assert target.startswith(os.environ["FERRY_ROOT"] + "/alice"), "fd %s: %s" % (fd, target)
print(pid)
for l in status.splitlines():
    if l.startswith(("Seccomp:", "Seccomp_filters:", "NoNewPrivs:")):
        print(l.replace("\t", " "))
c.cmd("QUIT")
c.close()
PY
}

# probe_result PID ITEM: "allowed" or "denied (...)" as the session logged it.
probe_result() {
    grep -F "ferry[$1]: sandbox probe $2: " "$FERRY_DIR/serve.log" | tail -n 1 | sed 's/.*: sandbox probe [^ ]*: //'
}

# ---- sandbox on (the default) --------------------------------------------------------
TEST_PORT=$(free_port)
ferry_start --set test_port="$TEST_PORT" --set ftp_allow_plaintext=yes --anonymous
ferry_user_add alice alice-pw
ferry_user_add bob bob-pw
out=$(tfe_login) || fail "test front end session in the sandbox: $out"
pid=$(printf '%s\n' "$out" | head -n 1)
assert_contains "$out" "Seccomp: 2" "the session runs under a seccomp filter"
assert_contains "$out" "NoNewPrivs: 1" "the session has no_new_privs"
assert_eq "$(probe_result "$pid" "$FERRY_ROOT/alice/mine.txt")" allowed "own file"
for p in "$FERRY_ROOT/bob/secret.txt" "$FERRY_DIR/outside.txt" "$FERRY_STATE/users" \
    "$FERRY_STATE/ssh_host_ed25519_key" /etc/shadow; do
    assert_eq "$(probe_result "$pid" "$p")" "denied (Permission denied)" "Landlock on $p"
done
assert_eq "$(probe_result "$pid" exec)" "denied (Operation not permitted)" "execve"
assert_eq "$(probe_result "$pid" ptrace)" "denied (Operation not permitted)" "ptrace"
[ -f "$FERRY_ROOT/alice/d/up.txt" ] || fail "test front end upload missing"
n=$(grep -c 'sandbox probe' "$FERRY_DIR/serve.log")
echo "ok   test front end: seccomp mode 2, $n probes as expected"

# FTP: upload, list, download, rename into a directory, delete; anonymous read.
U="ftp://alice:alice-pw@127.0.0.1:$FTP_PORT"
head -c 300000 /dev/urandom >"$W/src.bin"
$C -T "$W/src.bin" "$U/f.bin" || fail "FTP upload"
$C "$U/f.bin" -o "$W/f.out" && cmp -s "$W/src.bin" "$W/f.out" || fail "FTP download"
$C "$U/" | grep -q ' f.bin$' || fail "FTP LIST"
$C "$U/" -Q "MKD ftpdir" -Q "RNFR f.bin" -Q "RNTO ftpdir/f.bin" >/dev/null || fail "FTP rename"
cmp -s "$W/src.bin" "$FERRY_ROOT/alice/ftpdir/f.bin" || fail "FTP rename result"
$C "$U/" -Q "DELE ftpdir/f.bin" -Q "RMD ftpdir" >/dev/null || fail "FTP delete"
[ ! -e "$FERRY_ROOT/alice/ftpdir" ] || fail "FTP RMD"
got=$($C "ftp://anonymous:a@127.0.0.1:$FTP_PORT/readme.txt") || fail "FTP anonymous download"
assert_eq "$got" public "anonymous download"
if $C -T "$W/src.bin" "ftp://anonymous:a@127.0.0.1:$FTP_PORT/x.bin" 2>/dev/null; then
    fail "anonymous upload accepted"
fi
echo "ok   FTP round trip (and anonymous read-only)"

# SFTP: key login, put, get, rename across directories, symlink, hard link, rm.
command -v sftp >/dev/null || fail "OpenSSH sftp client missing"
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_carol" || fail "ssh-keygen"
ferry_user_add carol carol-pw --key "$FERRY_DIR/id_carol.pub"
out=$(cd "$W" && sftp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o BatchMode=yes -i "$FERRY_DIR/id_carol" -P "$SFTP_PORT" -b - \
    carol@127.0.0.1 2>&1 <<EOF
put src.bin s.bin
mkdir sdir
rename s.bin sdir/s.bin
symlink sdir/s.bin l.bin
ln sdir/s.bin h.bin
get l.bin s.out
rm h.bin
rm l.bin
ls -l sdir
df
EOF
) || fail "SFTP batch: $out"
cmp -s "$W/src.bin" "$W/s.out" || fail "SFTP download"
cmp -s "$W/src.bin" "$FERRY_ROOT/carol/sdir/s.bin" || fail "SFTP rename result"
echo "ok   SFTP round trip"

# WebDAV: PUT, GET, PROPFIND, MKCOL, MOVE, COPY, PROPPATCH and LOCK/UNLOCK (both kept
# in the state dir), DELETE; anonymous GET.
B="https://127.0.0.1:$HTTPS_PORT"
D="$C -k -u alice:alice-pw"
code() { $D -o /dev/null -w '%{http_code}' "$@"; }
assert_eq "$(code -T "$W/src.bin" "$B/w.bin")" 201 "WebDAV PUT"
$D "$B/w.bin" -o "$W/w.out" && cmp -s "$W/src.bin" "$W/w.out" || fail "WebDAV GET"
assert_eq "$(code -X MKCOL "$B/col/")" 201 "MKCOL"
assert_eq "$(code -X MOVE -H "Destination: $B/col/w.bin" "$B/w.bin")" 201 "MOVE"
assert_eq "$(code -X COPY -H "Destination: $B/col/c.bin" "$B/col/w.bin")" 201 "COPY"
pp='<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:t"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>'
assert_eq "$(code -X PROPPATCH -H 'Content-Type: application/xml' --data "$pp" "$B/col/c.bin")" 207 \
    "PROPPATCH"
out=$($D -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' \
    --data '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' "$B/col/c.bin")
assert_contains "$out" "blue" "dead property read back"
lk='<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>'
tok=$($D -X LOCK -H 'Content-Type: application/xml' --data "$lk" -D - -o /dev/null "$B/col/c.bin" |
    tr -d '\r' | sed -n 's/^[Ll]ock-[Tt]oken: *//p')
[ -n "$tok" ] || fail "LOCK gave no token"
assert_eq "$(code -T "$W/src.bin" "$B/col/c.bin")" 423 "locked resource refuses a PUT without token"
assert_eq "$(code -X UNLOCK -H "Lock-Token: $tok" "$B/col/c.bin")" 204 "UNLOCK"
assert_eq "$(code -X DELETE "$B/col/")" 204 "DELETE"
got=$($C -k "$B/readme.txt") || fail "WebDAV anonymous GET"
assert_eq "$got" public "WebDAV anonymous GET"
echo "ok   WebDAV round trip (props and locks in the state dir)"

grep -q 'sandbox: cannot' "$FERRY_DIR/serve.log" && fail "a sandbox failed to install"
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
ferry_stop

# ---- an upstream mount, reached by host name, inside the sandbox ----------------------
up=$FERRY_DIR/up
mkdir -p "$up" && echo upstream >"$up/hello.txt"
if peer_start pyftpdlib "$up" user; then
    url=$(printf '%s' "$PEER_URL" | sed 's/@127\.0\.0\.1:/@localhost:/')
    printf '[mount /legacy]\nurl = %s\nread_only = no\ncache_ttl = 1s\n' "$url" >"$FERRY_DIR/ferry.conf"
    mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.1" # ferry_start waits for a new "ready"
    ferry_start --config "$FERRY_DIR/ferry.conf" --set ftp_allow_plaintext=yes \
        --set test_port="$(free_port)"
    M="ftp://alice:alice-pw@127.0.0.1:$FTP_PORT/legacy"
    got=$($C "$M/hello.txt") || fail "mount download"
    assert_eq "$got" upstream "mount download"
    $C -T "$W/src.bin" "$M/m.bin" || fail "mount upload"
    cmp -s "$W/src.bin" "$up/m.bin" || fail "mount upload content"
    $C "$M/" | grep -q ' m.bin$' || fail "mount listing"
    grep -q 'sandbox: cannot' "$FERRY_DIR/serve.log" && fail "a sandbox failed to install"
    ferry_stop
    echo "ok   upstream mount by host name"
else
    fail "pyftpdlib peer did not start"
fi

# ---- sandbox = no: the same probes are allowed ----------------------------------------
mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.2"
rm -rf "$FERRY_ROOT/alice/d"
TEST_PORT=$(free_port)
ferry_start --set test_port="$TEST_PORT" --set sandbox=no
out=$(tfe_login) || fail "test front end session without sandbox: $out"
pid=$(printf '%s\n' "$out" | head -n 1)
assert_contains "$out" "Seccomp: 0" "no seccomp filter with sandbox = no"
assert_eq "$(probe_result "$pid" "$FERRY_DIR/outside.txt")" allowed "sandbox = no: outside file"
assert_eq "$(probe_result "$pid" "$FERRY_ROOT/bob/secret.txt")" allowed "sandbox = no: other home"
assert_eq "$(probe_result "$pid" exec)" allowed "sandbox = no: execve"
ferry_stop
echo "ok   sandbox = no: the probes see no sandbox"
echo "t_sandbox: ok"
