#!/bin/bash
# Prometheus metrics end to end: `ferry serve --metrics-port` answers GET /metrics with
# text format 0.0.4 that a strict parser accepts, refuses anything else with 404/405/
# 400, bounds slow or huge requests, and its counters (kept in memory shared by the
# parent and every session process) move when a user logs in through the test front end.
. tests/integration/lib.sh

METRICS_PORT=$(free_port)
TEST_PORT=$(free_port)
ferry_start --metrics-port "$METRICS_PORT" --set test_port="$TEST_PORT"
grep -q "metrics *http://127.0.0.1:$METRICS_PORT/" "$FERRY_DIR/serve.log" ||
    fail "the metrics endpoint is not listed among the endpoints"
URL=http://127.0.0.1:$METRICS_PORT/metrics

# A strict parser of the text exposition format 0.0.4: every line is HELP, TYPE or a
# sample of the family announced just before; prints "name{labels} value" per sample,
# sorted labels, so the shell can look values up. Exits 1 with a reason otherwise.
cat > "$FERRY_DIR/promparse.py" <<'PY'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r'^(' + NAME + r')(?:\{(' + LABEL + r'(?:,' + LABEL + r')*)?\})? (\S+)$')
def die(n, why, line):
    print("line %d: %s: %r" % (n, why, line)); sys.exit(1)
text = sys.stdin.buffer.read().decode("utf-8")
if not text.endswith("\n"):
    print("exposition does not end with a newline"); sys.exit(1)
families, family, ftype, out = set(), None, None, []
for n, line in enumerate(text[:-1].split("\n"), 1):
    if line.startswith("# HELP "):
        m = re.match(r'^# HELP (' + NAME + r') (.+)$', line)
        if not m: die(n, "bad HELP", line)
        if m.group(1) in families: die(n, "family repeated", line)
        families.add(m.group(1)); family, ftype = m.group(1), None
    elif line.startswith("# TYPE "):
        m = re.match(r'^# TYPE (' + NAME + r') (counter|gauge|histogram|summary|untyped)$', line)
        if not m or m.group(1) != family or ftype: die(n, "bad or misplaced TYPE", line)
        ftype = m.group(2)
        if ftype == "counter" and not family.endswith("_total"): die(n, "counter without _total", line)
    else:
        m = SAMPLE.match(line)
        if not m: die(n, "not a sample", line)
        if m.group(1) != family or not ftype: die(n, "sample outside its family", line)
        labels = dict(re.findall(LABEL, m.group(2) or ""))
        try: v = float(m.group(m.lastindex))
        except ValueError: die(n, "bad value", line)
        if ftype == "counter" and v < 0: die(n, "negative counter", line)
        key = m.group(1) + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
        out.append("%s %d" % (key, v))
if not families: print("no metrics"); sys.exit(1)
print("\n".join(out))
PY
scrape() {
    curl -sS --max-time 10 -D "$FERRY_DIR/headers" "$URL" > "$FERRY_DIR/metrics.txt" ||
        fail "curl $URL"
    /usr/bin/python3 "$FERRY_DIR/promparse.py" < "$FERRY_DIR/metrics.txt" > "$FERRY_DIR/samples" ||
        { cat "$FERRY_DIR/samples" >&2; fail "the exposition does not parse"; }
}
value() {
    local v
    v=$(grep -F "$1 " "$FERRY_DIR/samples" | awk '{print $2}')
    [ -n "$v" ] || fail "no sample $1"
    echo "$v"
}

scrape
grep -qi '^content-type: text/plain; version=0.0.4' "$FERRY_DIR/headers" || fail "content type"
head -n 1 "$FERRY_DIR/headers" | grep -q '^HTTP/1.1 200' || fail "status of GET /metrics"
logins0=$(value 'ferry_logins_total{proto="test",result="ok"}')
failed0=$(value 'ferry_logins_total{proto="test",result="failed"}')
total0=$(value 'ferry_sessions_total{proto="test"}')
in0=$(value 'ferry_transfer_bytes_total{direction="in",proto="test"}')
out0=$(value 'ferry_transfer_bytes_total{direction="out",proto="test"}')
ok0=$(value 'ferry_transfers_total{proto="test",status="ok"}')
resumed0=$(value 'ferry_resumed_transfers_total{proto="test"}')
assert_eq "$(value 'ferry_sessions{proto="test"}')" 0 "no test session open yet"
for f in ferry_transfer_bytes_total ferry_transfers_total ferry_resumed_transfers_total \
    ferry_verifications_total ferry_mirror_runs_total ferry_upstream_errors_total \
    ferry_listing_parse_errors_total ferry_start_time_seconds; do
    grep -q "^# TYPE $f " "$FERRY_DIR/metrics.txt" || fail "family $f missing"
done

# A session through the test front end: logins are counted by the parent, the open
# session is visible while it lasts.
export TEST_PORT ADMIN_PASS URL FERRY_DIR
/usr/bin/python3 - <<'PY' || fail "test front end session"
import os, subprocess, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
bad = TFE(port)
assert bad.cmd("LOGIN admin wrong-password").startswith("NO")
bad.cmd("QUIT"); bad.close()
c = TFE(port)
rep = c.cmd("LOGIN admin " + os.environ["ADMIN_PASS"])
assert rep.startswith("OK admin"), rep
assert c.put("/m.bin", b"x" * 1000) == "OK 1000"
rep, got = c.get("/m.bin", 100)  # a resumed download: 900 bytes
assert got == b"x" * 900, rep
# While this session is open, the gauge shows it.
out = subprocess.run(["curl", "-sS", "--max-time", "10", os.environ["URL"]],
                     capture_output=True, check=True).stdout.decode()
if 'ferry_sessions{proto="test"} 1\n' not in out:
    print("open session not counted:\n" + out); sys.exit(1)
c.cmd("QUIT"); c.close()
PY
sleep 0.5  # the parent reaps the session
scrape
assert_eq "$(value 'ferry_logins_total{proto="test",result="ok"}')" $((logins0 + 1)) "successful login counted"
assert_eq "$(value 'ferry_logins_total{proto="test",result="failed"}')" $((failed0 + 1)) "failed login counted"
assert_eq "$(value 'ferry_sessions_total{proto="test"}')" $((total0 + 2)) "sessions counted"
assert_eq "$(value 'ferry_sessions{proto="test"}')" 0 "the gauge goes back down"
# Transfers, counted by the parent from the sessions' audit records.
assert_eq "$(value 'ferry_transfers_total{proto="test",status="ok"}')" $((ok0 + 2)) "transfers counted"
assert_eq "$(value 'ferry_transfer_bytes_total{direction="in",proto="test"}')" $((in0 + 1000)) "bytes in"
assert_eq "$(value 'ferry_transfer_bytes_total{direction="out",proto="test"}')" $((out0 + 900)) "bytes out"
assert_eq "$(value 'ferry_resumed_transfers_total{proto="test"}')" $((resumed0 + 1)) "resumed transfer"
# Scrapes are not sessions.
grep -q 'proto="metrics"' "$FERRY_DIR/samples" && fail "scrapes counted as sessions"

# HEAD, wrong paths, wrong methods, malformed requests.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -I "$URL")
assert_eq "$code" 200 "HEAD /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$METRICS_PORT/")
assert_eq "$code" 404 "GET /"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/../etc/passwd" --path-as-is)
assert_eq "$code" 404 "path traversal"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -d x=1 "$URL")
assert_eq "$code" 405 "POST /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE "$URL")
assert_eq "$code" 405 "DELETE /metrics"
export METRICS_PORT
/usr/bin/python3 - <<'PY' || fail "hostile requests"
import os, socket, sys, time
port = int(os.environ["METRICS_PORT"])
def ask(data, wait_close=True, timeout=15):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if data:
        s.sendall(data)
    buf = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            print("no answer / no close for %r" % data[:40]); sys.exit(1)
        if not b:
            break
        buf += b
    s.close()
    return buf
r = ask(b"GARBAGE\r\n\r\n")
assert r.startswith(b"HTTP/1.1 400 "), r
r = ask(b"GET /metrics HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n")
assert r.startswith(b"HTTP/1.1 431 "), r[:80]
r = ask(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
assert r.startswith(b"HTTP/1.1 431 "), r[:80]
# A slow client that never finishes its request is answered 408 and dropped.
t0 = time.monotonic()
r = ask(b"GET /metrics HTTP/1.1\r\n")
dt = time.monotonic() - t0
assert r.startswith(b"HTTP/1.1 408 "), r
assert 3 < dt < 12, dt
# HTTP/1.0 and LF-only line ends are fine; the body of the answer is complete.
r = ask(b"GET /metrics HTTP/1.0\n\n")
head, _, body = r.partition(b"\r\n\r\n")
n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
assert r.startswith(b"HTTP/1.1 200 ") and len(body) == n, (len(body), n)
PY
kill -0 "$FERRY_PID" || fail "server died"

# Loopback by default: the endpoint listens on the listen address only.
# (127.0.0.2 is loopback too, but not the listen address: refused.)
curl -s --max-time 3 "http://127.0.0.2:$METRICS_PORT/metrics" >/dev/null 2>&1 &&
    fail "metrics answered on an address other than the listen address"
ferry_stop

# --check-config shows it, and metrics_port = 0 (the default) serves nothing.
out=$("$FERRY_BIN" serve --root "$FERRY_ROOT" --state "$FERRY_STATE" --metrics-port 9119 --check-config)
assert_contains "$out" "metrics_port = 9119" "check-config"
: > "$FERRY_DIR/serve.log"
ferry_start --set test_port="$TEST_PORT"
curl -s --max-time 3 "$URL" >/dev/null 2>&1 && fail "metrics served although disabled"
ferry_stop
echo "t_metrics: ok"
