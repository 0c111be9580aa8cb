#!/bin/bash
# The audit trail end to end: concurrent sessions through the test front end produce
# records that `ferry audit` finds by every filter and prints as table, JSON Lines,
# xferlog (checked by an independent parser of the documented field order) and stats;
# logrotate-style rotation (rename + SIGHUP, then gzip) keeps one chain across files,
# and so do `ferry audit rotate` and logrotate's create/nocreate/copytruncate styles
# with no signal at all (and logrotate itself with doc/logrotate.ferry, when
# installed); the server's xferlog has one line per transfer; `ferry audit verify`
# finds each kind of tampering with its line; a keyed chain needs its key; a server
# killed with SIGKILL while 50 sessions upload leaves only whole lines (bar a
# truncated tail, which verify reports with its line) and continues the chain when
# restarted.
. tests/integration/lib.sh

TEST_PORT=$(free_port)
export TEST_PORT
A="$FERRY_STATE/audit.jsonl"

"$FERRY_BIN" audit --help | grep -q -- '--format' || fail "audit --help"
"$FERRY_BIN" audit verify --help | grep -q -- '--key' || fail "audit verify --help"
"$FERRY_BIN" audit --bogus 2>/dev/null; assert_eq $? 2 "unknown flag"
"$FERRY_BIN" audit --event uplod --state "$FERRY_STATE" 2>/dev/null; assert_eq $? 2 "unknown event"

ferry_start --set test_port=$TEST_PORT
ferry_user_add alice alice-pw
ferry_user_add bob bob-pw

# Load: concurrent sessions from two users; N uploads, downloads, one failed login each.
run_sessions() {
    /usr/bin/python3 - "$1" <<'PY' || fail "sessions ($1)"
import os, sys, threading, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"]); tag = sys.argv[1]
errors = []
def work(i):
    try:
        user = ("alice", "alice-pw") if i % 2 == 0 else ("bob", "bob-pw")
        # the failed logins below make the server throttle this address for a while:
        # a refused login is retried (its login_failed record stays in the log)
        for attempt in range(10):
            c = TFE(port)
            if c.cmd("LOGIN %s %s" % user).startswith("OK"):
                break
            c.close()
            time.sleep(1)
        else:
            errors.append("login %d" % i); return
        data = os.urandom(1000 + i)
        if c.put("/%s-%d.bin" % (tag, i), data) != "OK %d" % len(data):
            errors.append("put %d" % i)
        rep, got = c.get("/%s-%d.bin" % (tag, i))
        if got != data:
            errors.append("get %d" % i)
        c.cmd("QUIT")
        c.close()
        bad = TFE(port)
        bad.cmd("LOGIN %s wrong" % user[0])
        bad.close()
    except Exception as e:
        errors.append("%d: %r" % (i, e))
ts = [threading.Thread(target=work, args=(i,)) for i in range(12)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print(errors); sys.exit(1)
PY
}
run_sessions first
# logrotate `create` style: rename, SIGHUP (the server reopens), more records, compress.
mv "$A" "$A.1"
kill -HUP "$FERRY_PID"
sleep 0.5
run_sessions second
gzip "$A.1"
sleep 0.5
ferry_stop

[ -f "$A.1.gz" ] && [ -f "$A" ] || fail "rotated files missing"
assert_eq "$(stat -c %a "$A")" 600 "audit log mode"
out=$("$FERRY_BIN" audit verify --state "$FERRY_STATE") || fail "verify after rotation: $out"
assert_contains "$out" "chain intact (2 files)" "verify reads the rotation"
# The first record of the new file chains to the last of the rotated one.
last_old=$(zcat "$A.1.gz" | tail -n 1 | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["hash"])')
first_new=$(head -n 1 "$A" | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["prev"])')
assert_eq "$first_new" "$last_old" "chain continues across rotation"

# Every line of every file is a complete JSON object.
zcat "$A.1.gz" | cat - "$A" > "$FERRY_DIR/all.jsonl"
/usr/bin/python3 - "$FERRY_DIR/all.jsonl" <<'PY' || fail "log lines are JSON"
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    json.loads(line)
PY

# Filters: counts from `ferry audit` equal counts computed independently in Python.
q() { "$FERRY_BIN" audit --state "$FERRY_STATE" --format json "$@"; }
count_py() {
    /usr/bin/python3 - "$FERRY_DIR/all.jsonl" "$1" <<'PY'
import fnmatch, json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
print(sum(1 for r in recs if eval(sys.argv[2])))
PY
}
check_count() {
    local want got
    want=$(count_py "$1"); shift
    got=$(q "$@" | wc -l)
    assert_eq "$got" "$want" "ferry audit $*"
    [ "$got" -gt 0 ] || fail "ferry audit $* found nothing"
}
check_count 'r.get("user") == "alice"' --user alice
check_count 'r["event"] == "upload"' --event upload
check_count 'r["event"] in ("upload", "download") and r.get("user") == "bob"' --event upload,download --user bob
check_count 'r["event"] == "login_failed"' --event login_failed --status failed
check_count 'r.get("proto") == "test"' --proto test
check_count 'r.get("remote", "").startswith("127.0.0.1:")' --remote 127.0.0.1
check_count 'r.get("remote", "").startswith("127.0.0.1:")' --remote 127.0.0.0/8
check_count 'fnmatch.fnmatchcase(r.get("path", ""), "*/second-1*")' --path '*/second-1*'
check_count 'True' --since 1h
assert_eq "$(q --until 1h | wc -l)" 0 "--until 1h"
assert_eq "$(q --user nobody | wc -l)" 0 "unknown user"

# Table output has a header and one row per record.
rows=$("$FERRY_BIN" audit --state "$FERRY_STATE" --user bob --event download | wc -l)
assert_eq "$rows" $(( $(q --user bob --event download | wc -l) + 1 )) "table rows"

# xferlog: checked against the documented field order by an independent parser.
"$FERRY_BIN" audit --state "$FERRY_STATE" --format xferlog > "$FERRY_DIR/xferlog" ||
    fail "xferlog output"
/usr/bin/python3 - "$FERRY_DIR/xferlog" "$FERRY_DIR/all.jsonl" <<'PY' || fail "xferlog format"
import json, sys, time
lines = open(sys.argv[1]).read().splitlines()
recs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
transfers = [r for r in recs if r["event"] in ("upload", "download")]
assert len(lines) == len(transfers) > 0, (len(lines), len(transfers))
for line, r in zip(lines, transfers):
    f = line.split()
    # current-time (5 fields) transfer-time remote-host file-size filename transfer-type
    # special-action direction access-mode username service-name auth-method auth-user-id
    # completion-status
    assert len(f) == 18, line
    time.strptime(" ".join(f[0:5]), "%a %b %d %H:%M:%S %Y")
    assert int(f[5]) >= 1, line
    assert f[6] == r["remote"].rsplit(":", 1)[0], line
    assert int(f[7]) == r.get("bytes", 0), line
    assert f[8] == r["path"].replace(" ", "_"), line
    assert f[9] == "b" and f[10] == "_", line
    assert f[11] == ("i" if r["event"] == "upload" else "o"), line
    assert f[12] == "r" and f[13] == r["user"], line
    assert f[14] == r["proto"] and f[15] == "0" and f[16] == "*", line
    assert f[17] == ("c" if r["status"] == "ok" else "i"), line
PY

# --stats: totals agree with the records.
"$FERRY_BIN" audit --state "$FERRY_STATE" --stats --format json > "$FERRY_DIR/stats.json" ||
    fail "--stats"
/usr/bin/python3 - "$FERRY_DIR/stats.json" "$FERRY_DIR/all.jsonl" <<'PY' || fail "--stats totals"
import json, sys
st = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
up = [r for r in recs if r["event"] == "upload"]
assert st["total"]["uploads"] == len(up), st["total"]
assert st["total"]["bytes_in"] == sum(r.get("bytes", 0) for r in up), st["total"]
assert st["by_user"]["alice"]["uploads"] == sum(1 for r in up if r["user"] == "alice")
assert st["total"]["login_failed"] == sum(1 for r in recs if r["event"] == "login_failed")
PY
"$FERRY_BIN" audit --state "$FERRY_STATE" --stats | grep -q '^total ' || fail "--stats table"

# Tampering, each on a fresh copy of the plain log: exit 3 and the right line.
cp "$A" "$FERRY_DIR/orig.jsonl"
T="$FERRY_DIR/t.jsonl"
tamper() { # description, expected text, python snippet editing list `L` of lines (bytes)
    cp "$FERRY_DIR/orig.jsonl" "$T"
    /usr/bin/python3 - "$T" "$3" <<'PY' || fail "tamper script: $1"
import sys
p = sys.argv[1]
data = open(p, "rb").read()
L = data.splitlines(keepends=True)
exec(sys.argv[2])
open(p, "wb").write(b"".join(L) if isinstance(L, list) else L)
PY
    local out rc=0
    out=$("$FERRY_BIN" audit verify --log "$T") || rc=$?
    assert_eq "$rc" 3 "$1: exit status"
    assert_contains "$out" "$2" "$1"
}
tamper "edit a byte" "line 5: record edited (hash mismatch)" \
    'i = L[4].index(b"\"user\":\"") + 9; L[4] = L[4][:i] + bytes([L[4][i] ^ 1]) + L[4][i+1:]'
tamper "delete a line" "line 7: chain broken: record(s) missing" 'del L[6]'
tamper "swap two lines" "line 3: record out of order" 'L[2], L[3] = L[3], L[2]'
tamper "truncate mid-line" "truncated tail" 'L = b"".join(L)[:-30]'
tamper "junk line" "line 4: not an audit record" 'L.insert(3, b"{oops\n")'
# A removed rotated file: the newer one no longer continues the chain.
mkdir "$FERRY_DIR/rot"
zcat "$A.1.gz" | head -n 10 > "$FERRY_DIR/rot/audit.jsonl.2"
zcat "$A.1.gz" | sed -n '11,$p' > "$FERRY_DIR/rot/audit.jsonl.1"
cp "$A" "$FERRY_DIR/rot/audit.jsonl"
"$FERRY_BIN" audit verify --log "$FERRY_DIR/rot/audit.jsonl" >/dev/null ||
    fail "split rotation should verify"
rm "$FERRY_DIR/rot/audit.jsonl.1"
out=$("$FERRY_BIN" audit verify --log "$FERRY_DIR/rot/audit.jsonl"); rc=$?
assert_eq $rc 3 "removed rotation: exit status"
assert_contains "$out" "audit.jsonl: line 1: does not continue" "removed rotation"

# Keyed chain: verify needs the key; the server and verify read the key file alike.
KS="$FERRY_DIR/keyed-state"
openssl rand -hex 32 > "$FERRY_DIR/audit.key"
chmod 600 "$FERRY_DIR/audit.key"
mkdir -p "$KS"
FERRY_STATE_SAVE=$FERRY_STATE
FERRY_STATE=$KS
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port=$TEST_PORT --set audit_key="$FERRY_DIR/audit.key"
/usr/bin/python3 - <<'PY' || fail "keyed session"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
c = TFE(int(os.environ["TEST_PORT"]))
c.cmd("LOGIN admin wrong")
c.close()
PY
ferry_stop
out=$("$FERRY_BIN" audit verify --state "$KS" --key "$FERRY_DIR/audit.key") ||
    fail "keyed log should verify with its key: $out"
"$FERRY_BIN" audit verify --state "$KS" >/dev/null; assert_eq $? 3 "keyed log without the key"
FERRY_STATE=$FERRY_STATE_SAVE

# Rotation without a signal, under a running server writing an xferlog: `ferry audit
# rotate`, then logrotate's styles done by hand (rename + new file = `create`, rename
# alone = `nocreate`, copy + truncate = `copytruncate`) and, when logrotate is
# installed, logrotate itself with the shipped doc/logrotate.ferry. After each, more
# sessions; at the end one chain across every file, no record lost or torn, and one
# xferlog line for every transfer, checked by an independent parser.
RS=$FERRY_DIR/rot-state
RA=$RS/audit.jsonl
XL=$FERRY_DIR/serve-xferlog
mkdir -p "$RS"
FERRY_STATE_SAVE=$FERRY_STATE
FERRY_STATE=$RS
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port=$TEST_PORT --set xferlog="$XL"
ferry_user_add alice alice-pw
ferry_user_add bob bob-pw
# like run_sessions, without the failed logins (the server throttles an address that
# fails too often, and this part runs many rounds against one server)
rot_sessions() {
    /usr/bin/python3 - "$1" <<'PY' || fail "sessions ($1)"
import os, sys, threading
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"]); tag = sys.argv[1]
errors = []
def work(i):
    try:
        c = TFE(port)
        if not c.cmd("LOGIN %s" % ("alice alice-pw" if i % 2 else "bob bob-pw")).startswith("OK"):
            errors.append("login %d" % i); return
        data = os.urandom(500 + i)
        if c.put("/%s-%d.bin" % (tag, i), data) != "OK %d" % len(data):
            errors.append("put %d" % i)
        if c.get("/%s-%d.bin" % (tag, i))[1] != data:
            errors.append("get %d" % i)
        c.cmd("QUIT")
        c.close()
    except Exception as e:
        errors.append("%d: %r" % (i, e))
ts = [threading.Thread(target=work, args=(i,)) for i in range(12)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print(errors); sys.exit(1)
PY
}
settle() { # waits until the server has written every record (the log stops growing):
    # sessions send their records without waiting, and a logout is written when the
    # session is reaped, so records may still be arriving when the clients are done.
    # Rotating by hand under a writer races like logrotate's own copytruncate does.
    local a b i
    b=$(stat -c %s "$RA" 2>/dev/null)
    for i in $(seq 40); do
        sleep 0.25
        a=$(stat -c %s "$RA" 2>/dev/null)
        [ "$a" = "$b" ] && return 0
        b=$a
    done
}
shift_rotations() { # logrotate's renames (.N -> .N+1, oldest first) and delaycompress
    local n
    for n in $(ls "$RS" | sed -n 's/^audit\.jsonl\.\([0-9]*\)\(\.gz\)\{0,1\}$/\1/p' | sort -rn | uniq); do
        if [ -e "$RA.$n" ]; then mv "$RA.$n" "$RA.$((n + 1))"; fi
        if [ -e "$RA.$n.gz" ]; then mv "$RA.$n.gz" "$RA.$((n + 1)).gz"; fi
    done
    if [ -e "$RA.2" ]; then gzip "$RA.2"; fi
}
rot_sessions rot1
"$FERRY_BIN" audit rotate --state "$RS" --compress --quiet || fail "audit rotate"
rot_sessions rot2
out=$("$FERRY_BIN" audit rotate --state "$RS" --compress) || fail "audit rotate 2: $out"
assert_contains "$out" "rotated to $RA.1" "audit rotate says what it did"
[ -f "$RA.2.gz" ] && [ -f "$RA.1" ] || fail "audit rotate --compress: $(ls "$RS")"
rot_sessions rot3
settle
shift_rotations; mv "$RA" "$RA.1"; : > "$RA"; chmod 600 "$RA"   # create
rot_sessions rot4
settle
shift_rotations; mv "$RA" "$RA.1"                               # nocreate
rot_sessions rot5
settle
shift_rotations; cp "$RA" "$RA.1"; : > "$RA"                    # copytruncate
rot_sessions rot6
settle
nrot=6
if PATH=$PATH:/usr/sbin command -v logrotate >/dev/null 2>&1; then
    # the shipped snippet, pointed at this state dir, run by logrotate itself
    sed -e "s|/var/lib/ferry|$RS|; s|/var/log/ferry/xferlog|$FERRY_DIR/xferlog-unused|" \
        -e '/^ *su /d' doc/logrotate.ferry > "$FERRY_DIR/logrotate.conf"
    settle
    before=$(ls "$RS" | grep -c '^audit\.jsonl\.')
    PATH=$PATH:/usr/sbin logrotate -f -s "$FERRY_DIR/logrotate.status" "$FERRY_DIR/logrotate.conf" ||
        fail "logrotate with doc/logrotate.ferry"
    # one rotation more (the server may already have started the new file: the
    # logout records of the last sessions arrive when they are reaped)
    assert_eq "$(ls "$RS" | grep -c '^audit\.jsonl\.')" $((before + 1)) "logrotate rotated"
    rot_sessions rot7
    nrot=7
else
    echo "NOTE: logrotate is not installed: doc/logrotate.ferry not run"
fi
ferry_stop
out=$("$FERRY_BIN" audit verify --state "$RS") || fail "verify across rotations: $out"
nfiles=$(ls "$RS" | grep -c '^audit\.jsonl')
assert_contains "$out" "chain intact ($nfiles files)" "verify across every rotation"
# every line of every file is one whole record, and every upload is there
for f in $(ls "$RS" | grep '^audit\.jsonl\.' | sort -t. -k3,3rn) audit.jsonl; do
    case $f in *.gz) zcat "$RS/$f" ;; *) cat "$RS/$f" ;; esac
done > "$FERRY_DIR/rot-all.jsonl"
/usr/bin/python3 - "$FERRY_DIR/rot-all.jsonl" "$nrot" <<'PY' || fail "records across rotations"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for k in range(1, int(sys.argv[2]) + 1):
    ups = [r for r in recs if r["event"] == "upload" and r["path"].startswith("/rot%d-" % k)]
    assert len(ups) == 12, (k, len(ups))
PY
recs=$(wc -l < "$FERRY_DIR/rot-all.jsonl")
assert_contains "$out" "$recs records" "verify counts every line"
assert_eq "$("$FERRY_BIN" audit --state "$RS" --format json | wc -l)" "$recs" "query reads every rotation"
assert_eq "$("$FERRY_BIN" audit --state "$RS" --format json --event upload --path '/rot5-*' | wc -l)" 12 \
    "uploads after a nocreate rotation"
# The server's xferlog: one line per transfer record, in the documented field order.
if [ -f "$XL" ]; then
    /usr/bin/python3 tests/data/audit/check_xferlog.py "$XL" "$FERRY_DIR/rot-all.jsonl" ||
        fail "the server's xferlog"
elif grep -q audit_set_outputs gateway/serve.c 2>/dev/null; then
    fail "xferlog = $XL is configured, but the server wrote no xferlog"
else
    echo "NOTE: ferry serve does not call audit_set_outputs yet: its xferlog is not checked"
fi
FERRY_STATE=$FERRY_STATE_SAVE

# Crash safety: SIGKILL the server while 50 sessions upload. Every line but the last
# is whole; verify says intact or "truncated tail" with the line, never anything else.
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port=$TEST_PORT
/usr/bin/python3 - <<'PY' &
import os, sys, threading
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
def work(i):
    try:
        for k in range(8):
            c = TFE(port)
            c.cmd("LOGIN alice alice-pw")
            c.put("/crash-%d-%d.bin" % (i, k), os.urandom(20000))
            c.close()
    except Exception:
        pass
ts = [threading.Thread(target=work, args=(i,)) for i in range(50)]
for t in ts: t.start()
for t in ts: t.join()
PY
load=$!
_bg_pids="$_bg_pids $load"
sleep 1.5
kill -KILL "$FERRY_PID"
wait "$FERRY_PID" 2>/dev/null
FERRY_PID=
wait "$load" 2>/dev/null
sleep 0.5 # sessions notice their parent is gone and exit
out=$("$FERRY_BIN" audit verify --state "$FERRY_STATE"); rc=$?
if [ $rc -ne 0 ]; then
    assert_eq $rc 3 "verify after SIGKILL: exit status"
    assert_contains "$out" "line $(( $(wc -l < "$A") + 1 )): truncated tail" "verify after SIGKILL"
fi
# A record torn by the crash (rare: one write(2) per record): verify says so, with its
# line number, and exits 3.
cp "$A" "$FERRY_DIR/crash-copy.jsonl"
tail -n 1 "$A" | head -c 57 >> "$FERRY_DIR/crash-copy.jsonl"
out=$("$FERRY_BIN" audit verify --log "$FERRY_DIR/crash-copy.jsonl"); rc=$?
assert_eq $rc 3 "torn last record: exit status"
assert_contains "$out" "line $(( $(wc -l < "$A") + 1 )): truncated tail" "torn last record"
/usr/bin/python3 - "$A" <<'PY' || fail "after SIGKILL, a line other than the last is not JSON"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
for l in lines[:-1]:
    json.loads(l)
PY
# Restarted, the server continues the chain from the last complete record.
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port=$TEST_PORT
/usr/bin/python3 - <<'PY' || fail "session after restart"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
c = TFE(int(os.environ["TEST_PORT"]))
c.cmd("LOGIN bob bob-pw")
c.cmd("QUIT")
PY
ferry_stop
out=$("$FERRY_BIN" audit verify --state "$FERRY_STATE"); rc=$?
if [ $rc -ne 0 ]; then
    assert_eq $rc 3 "verify after restart: exit status"
    assert_contains "$out" "truncated record" "only a torn record may remain"
fi
"$FERRY_BIN" audit --state "$FERRY_STATE" --user bob --event login --since 5m --format json |
    grep -q '"event":"login"' || fail "record after restart found"
echo "t_audit: ok"
