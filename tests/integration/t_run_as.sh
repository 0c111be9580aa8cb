#!/bin/bash
# run_as: sessions drop to an unprivileged user after accepting; the parent stays root
# and keeps the state dir (users, keys, audit log) out of the sessions' reach.
# The unprivileged user must be able to reach the root: work under /tmp, whatever the
# permissions of the checkout's parent directories.
FERRY_TEST_TMP=/tmp
. tests/integration/lib.sh
[ "$(id -u)" = 0 ] || { echo "t_run_as: needs root, skipped"; exit 0; }
id nobody >/dev/null 2>&1 || fail "no user nobody"

mkdir -p "$FERRY_ROOT"
chown nobody: "$FERRY_ROOT"
chmod 755 "$FERRY_DIR"
TEST_PORT=$(free_port)
ferry_start --set test_port=$TEST_PORT --set run_as=nobody
ferry_user_add carol 'carol-pw'
export TEST_PORT
/usr/bin/python3 - <<'PY' || fail "session as nobody"
import os, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
c = TFE(port)
sid = c.greeting.split()[1]
assert c.cmd("LOGIN carol carol-pw").startswith("OK carol /carol rw"), "login"
assert c.put("/f.txt", b"hello") == "OK 5", "upload"
# The session process of this connection runs as nobody.
nobody = int(os.popen("id -u nobody").read())
mine = []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        status = open("/proc/%s/status" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read()
    except OSError:
        continue
    if b"ferry" in cmd and b"serve" in cmd:
        uid = int([l for l in status.splitlines() if l.startswith("Uid:")][0].split()[1])
        mine.append(uid)
assert 0 in mine, "the parent should stay root: %r" % mine
assert nobody in mine, "no session runs as nobody: %r" % mine
PY
owner=$(stat -c %U "$FERRY_ROOT/carol/f.txt") || fail "uploaded file missing"
assert_eq "$owner" nobody "files are written by the unprivileged session"
assert_eq "$(stat -c %U "$FERRY_ROOT/carol")" nobody "the home belongs to run_as"
assert_eq "$(stat -c %U "$FERRY_STATE/audit.jsonl")" root "the audit log stays the parent's"
ferry_stop
"$FERRY_BIN" audit verify --log "$FERRY_STATE/audit.jsonl" >/dev/null || fail "audit chain"
grep -q '"event":"upload"' "$FERRY_STATE/audit.jsonl" || fail "upload not audited"
echo "t_run_as: ok"
