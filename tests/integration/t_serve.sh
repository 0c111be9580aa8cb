#!/bin/bash
# ferry serve end to end through the test front end: first start (state, keys, admin),
# process per session, authentication and throttling in the parent, the VFS upload and
# resume rules, confinement, audit records and their chain, limits, signals.
. tests/integration/lib.sh

# Command line: --help, usage errors, config errors with file:line.
"$FERRY_BIN" serve --help | grep -q -- '--check-config' || fail "serve --help"
"$FERRY_BIN" serve --bogus 2>/dev/null; assert_eq $? 2 "unknown flag exit code"
"$FERRY_BIN" --help | grep -q 'parse-listing' || fail "ferry --help lists commands"
"$FERRY_BIN" frobnicate 2>/dev/null; assert_eq $? 2 "unknown command exit code"
printf '[server]\nftp_port = 21\nbogus_key = 1\n' > "$FERRY_DIR/bad.conf"
out=$("$FERRY_BIN" serve --config "$FERRY_DIR/bad.conf" --check-config 2>&1); rc=$?
assert_eq $rc 2 "bad config exit code"
assert_contains "$out" "bad.conf:3: unknown key 'bogus_key'" "config error names file:line"
printf '[server]\nftp_port = 2100\n' > "$FERRY_DIR/good.conf"
out=$("$FERRY_BIN" serve --config "$FERRY_DIR/good.conf" --ftp-port 2101 --check-config) ||
    fail "good config rejected"
assert_contains "$out" "ftp_port = 2101" "flags override the config file"

TEST_PORT=$(free_port)
ferry_start --set test_port=$TEST_PORT --set max_per_address=4
log=$(cat "$FERRY_DIR/serve.log")
assert_contains "$log" "first start" "first start announced"
assert_contains "$log" "host key SHA256:" "host key fingerprint printed"
[ -n "$ADMIN_PASS" ] || fail "admin password printed once"
assert_eq "$(stat -c %a "$FERRY_STATE")" 700 "state dir mode"
for f in ssh_host_ed25519_key tls.crt tls.key users audit.jsonl; do
    [ -f "$FERRY_STATE/$f" ] || fail "state file $f missing"
done
assert_eq "$(stat -c %a "$FERRY_STATE/tls.key")" 600 "TLS key mode"
assert_eq "$(stat -c %a "$FERRY_STATE/users")" 600 "users file mode"
openssl x509 -in "$FERRY_STATE/tls.crt" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
    fail "certificate SAN lacks the listen address"
ssh-keygen -l -f "$FERRY_STATE/ssh_host_ed25519_key" | grep -q ED25519 || fail "host key is not Ed25519"
fp=$(ssh-keygen -l -E sha256 -f "$FERRY_STATE/ssh_host_ed25519_key" | awk '{print $2}')
assert_contains "$log" "$fp" "printed fingerprint matches ssh-keygen"
ferry_user_add alice 'first-pw'

export TEST_PORT ADMIN_PASS FERRY_ROOT
/usr/bin/python3 - <<'PY' || fail "test front end session checks"
import os, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"]); root = os.environ["FERRY_ROOT"]
def check(cond, msg):
    if not cond:
        print("check failed:", msg); sys.exit(1)

c = TFE(port)
check(c.greeting.startswith("FERRY-TEST "), "greeting")
check(c.cmd("STAT /") == "ERR login first", "nothing before login")
check(c.cmd("LOGIN admin wrong").startswith("NO"), "wrong password refused")
check(c.cmd("LOGIN admin " + os.environ["ADMIN_PASS"]).startswith("OK admin / rw"), "admin login")
data = os.urandom(300000)
check(c.put("/a.bin", data) == "OK 300000", "upload")
rep, got = c.get("/a.bin")
check(got == data, "download matches")
rep, got = c.get("/a.bin", 299990)
check(got == data[299990:], "download resumes at an offset")
check(c.cmd("GET /../../../../etc/passwd 0").startswith("ERR"), "no escape above the root")
check(c.cmd("MKDIR /dir") == "OK", "mkdir")
check(c.cmd("RENAME /a.bin /dir/b.bin") == "OK", "rename")
check(open(root + "/dir/b.bin", "rb").read() == data, "file on disk")
c.cmd("QUIT")

# An interrupted upload is invisible to everyone, shadows for its owner, and resumes.
big = os.urandom(1 << 20)
c = TFE(port)
c.cmd("LOGIN admin " + os.environ["ADMIN_PASS"])
c.put("/big.bin", big, send=400000)
time.sleep(0.5)
c = TFE(port)
c.cmd("LOGIN admin " + os.environ["ADMIN_PASS"])
check(c.cmd("STAT /big.bin").startswith("ERR"), "partial invisible without shadow")
rep = c.cmd("STAT /big.bin shadow")
check(rep.startswith("OK 400000 ") and rep.endswith(" 1"), "partial shadows for its owner: " + rep)
rep, names = c.listing("/")
check(not any(n.startswith(".ferry~") for n in names), "listing hides partials: %r" % names)
check(not os.path.exists(root + "/big.bin"), "no complete-looking file on disk")
check(c.put("/big.bin", big[400000:], mode="resume", offset=400000) == "OK %d" % (len(big) - 400000), "resume")
rep, got = c.get("/big.bin")
check(got == big, "resumed upload is byte-identical")
c.cmd("QUIT")

PY
printf 'alicepw\n' | "$FERRY_BIN" user passwd alice --password-stdin --state "$FERRY_STATE" ||
    fail "user passwd"
/usr/bin/python3 - <<'PY' || fail "second user checks"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"]); root = os.environ["FERRY_ROOT"]
def check(cond, msg):
    if not cond:
        print("check failed:", msg); sys.exit(1)
a = TFE(port)
check(a.cmd("LOGIN alice alicepw") == "OK alice /alice rw", "alice logs in to her home")
check(os.path.isdir(root + "/alice"), "home created on first login")
check(a.cmd("GET /dir/b.bin 0").startswith("ERR"), "alice cannot see admin's files")
check(a.put("/../../x.txt", b"hello") == "OK 5", "upload with .. stays in the home")
check(os.path.exists(root + "/alice/x.txt") and not os.path.exists(root + "/x.txt"), "confined upload")
check(a.cmd("ANON x").startswith("NO"), "no second login")
a.cmd("QUIT")
n = TFE(port)
check(n.cmd("ANON guest@").startswith("NO"), "anonymous refused when disabled")
# Per-address limit: 4 sessions allowed, the 5th is refused.
conns = [TFE(port) for _ in range(3)]
extra = TFE(port)
check(extra.greeting == "BUSY", "max_per_address enforced: %r" % extra.greeting)
PY

# The parent remembers verified passwords briefly (yescrypt once per client), but a
# changed users file drops them: the old password stops working at once.
/usr/bin/python3 - <<'PY' || fail "credential cache"
import os, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
t0 = time.monotonic()
for i in range(3):
    c = TFE(port)
    assert c.cmd("LOGIN alice alicepw").startswith("OK"), "alice login %d" % i
    c.cmd("QUIT")
    c.close()
    time.sleep(0.2)  # let the session end: max_per_address is 4 here
print("3 logins in %.2fs" % (time.monotonic() - t0))
PY
printf 'newpw\n' | "$FERRY_BIN" user passwd alice --password-stdin --state "$FERRY_STATE" >/dev/null ||
    fail "user passwd"
/usr/bin/python3 - <<'PY' || fail "a changed password must invalidate the cache"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
c = TFE(port)
rep = c.cmd("LOGIN alice alicepw")
assert rep.startswith("NO"), "old password still accepted: " + rep
c = TFE(port)
assert c.cmd("LOGIN alice newpw").startswith("OK"), "new password"
PY

# Throttling: repeated failures are delayed by the parent.
/usr/bin/python3 - <<'PY' || fail "throttling"
import os, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
t0 = time.monotonic()
for i in range(6):
    c = TFE(port)
    c.cmd("LOGIN mallory nope%d" % i)
    c.close()
elapsed = time.monotonic() - t0
if elapsed < 2.0:
    print("six failed logins took only %.2fs: no throttling" % elapsed); sys.exit(1)
PY

# Audit: every event recorded, chain intact; SIGHUP reopens and keeps serving.
kill -HUP "$FERRY_PID"
sleep 0.3
kill -0 "$FERRY_PID" || fail "server died on SIGHUP"
ferry_stop
a="$FERRY_STATE/audit.jsonl"
for ev in '"event":"login"' '"event":"login_failed"' '"event":"upload"' '"event":"download"' \
    '"event":"rename"' '"event":"mkdir"' '"event":"logout"' '"status":"aborted"'; do
    grep -q "$ev" "$a" || fail "audit log lacks $ev"
done
grep '"event":"upload"' "$a" | grep -q '"sha256":"' || fail "upload record lacks sha256"
grep '"event":"upload"' "$a" | grep '"status":"ok"' | grep -q '"offset":400000' ||
    fail "resumed upload record lacks its offset"
"$FERRY_BIN" audit verify --log "$a" || fail "audit chain should verify"

# Restart: no new admin password, same host key.
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port=$TEST_PORT
grep -q 'admin password' "$FERRY_DIR/serve.log" && fail "admin password printed again"
grep -q "$fp" "$FERRY_DIR/serve.log" || fail "host key changed across restarts"
ferry_stop
echo "t_serve: ok"
