#!/bin/bash
# Fire-and-forget audit records keep their guarantees (issue #9): 8 concurrent sessions
# each do N quick operations (downloads and mkdirs, each one audit record sent without
# waiting), then hang up at once without QUIT, so each session process exits right
# after queueing its last records. For every session the log must hold login, then
# exactly its N records in the order it performed them, then logout: nothing lost,
# nothing reordered, and the logout written only after the parent read everything the
# session queued. The sessions outrun the parent (one audit write each), so the sends
# also meet back-pressure.
. tests/integration/lib.sh

TEST_PORT=$(free_port)
export TEST_PORT
A="$FERRY_STATE/audit.jsonl"
N=120
SESSIONS=8
export N SESSIONS

ferry_start --set test_port=$TEST_PORT
ferry_user_add alice alice-pw
mkdir -p "$FERRY_ROOT/alice"
for i in $(seq 0 9); do printf 'file %s\n' "$i" >"$FERRY_ROOT/alice/f$i"; done

/usr/bin/python3 - <<'PY' || fail "sessions"
import os, sys, threading
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"]); n = int(os.environ["N"])
errors = []
def work(k):
    try:
        c = TFE(port)
        rep = c.cmd("LOGIN alice alice-pw")
        if not rep.startswith("OK"):
            errors.append("login %d: %s" % (k, rep)); return
        for i in range(n):
            if i % 2:
                rep, data = c.get("/f%d" % (i % 10))
                if data is None:
                    errors.append("get %d/%d: %s" % (k, i, rep)); return
            else:
                rep = c.cmd("MKDIR /s%d-%d" % (k, i))
                if rep != "OK":
                    errors.append("mkdir %d/%d: %s" % (k, i, rep)); return
        c.sock.close()  # no QUIT: the session ends right after its last record
    except Exception as e:
        errors.append("%d: %r" % (k, e))
ts = [threading.Thread(target=work, args=(k,)) for k in range(int(os.environ["SESSIONS"]))]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print(errors); sys.exit(1)
PY

# Wait for every logout (the parent writes it when it reaps the session).
i=0
while [ "$(grep -c '"event":"logout"' "$A")" -lt "$SESSIONS" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
ferry_stop

/usr/bin/python3 - "$A" <<'PY' || fail "audit records per session"
import json, os, re, sys
n = int(os.environ["N"]); sessions = int(os.environ["SESSIONS"])
by = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("user") == "alice" and r.get("proto") == "test":
        by.setdefault(r["session"], []).append(r)
if len(by) != sessions:
    sys.exit("%d sessions in the log, want %d" % (len(by), sessions))
for sid, recs in by.items():
    ev = [r["event"] for r in recs]
    if ev[0] != "login" or ev[-1] != "logout" or ev.count("logout") != 1:
        sys.exit("session %s: events %s ... %s" % (sid, ev[:2], ev[-2:]))
    ops = recs[1:-1]
    if len(ops) != n:
        sys.exit("session %s: %d records between login and logout, want %d" % (sid, len(ops), n))
    k = None
    for i, r in enumerate(ops):
        if i % 2:
            want = ("download", "/f%d" % (i % 10))
        else:
            m = re.match(r"/s(\d+)-(\d+)$", r.get("path", ""))
            if not m:
                sys.exit("session %s record %d: %r" % (sid, i, r))
            k = m.group(1) if k is None else k
            want = ("mkdir", "/s%s-%d" % (k, i))
        got = (r["event"], r.get("path"))
        if got != want or r.get("status") != "ok":
            sys.exit("session %s record %d: got %s, want %s" % (sid, i, got, want))
print("%d sessions x %d records in order, each before its logout" % (sessions, n))
PY
out=$("$FERRY_BIN" audit verify --state "$FERRY_STATE") || fail "chain: $out"
echo "t_audit_order: ok"
