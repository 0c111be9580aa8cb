#!/bin/bash
# `ferry doctor`: a fresh directory (warnings only), a running server (its own ports are
# fine), and one broken deployment per check, each reported as FAIL or WARN with a fix;
# exit 0 without failures, 1 with; --json is one JSON object.
. tests/integration/lib.sh

"$FERRY_BIN" doctor --help | grep -q -- '--json' || fail "doctor --help"
"$FERRY_BIN" doctor --bogus 2>/dev/null; assert_eq $? 2 "unknown flag"

D="$FERRY_BIN doctor --state $FERRY_STATE --root $FERRY_ROOT"
doctor() { # doctor ARGS... -> output in $out, status in $rc
    rc=0
    out=$($D "$@" 2>&1) || rc=$?
}
json() { # json ARGS... -> checks that the output is one JSON object; prints status counts
    $D --json "$@" > "$FERRY_DIR/doctor.json"
    /usr/bin/python3 - "$FERRY_DIR/doctor.json" <<'PY' || fail "doctor --json output"
import json, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, "one line"
d = json.loads(text)
for c in d["checks"]:
    assert set(c) == {"check", "status", "message", "fix"}, c
    assert c["status"] in ("ok", "warn", "fail"), c
    assert (c["fix"] is None) == (c["status"] == "ok"), c
for s in ("ok", "warn", "fail"):
    assert d[s] == sum(1 for c in d["checks"] if c["status"] == s)
print(d["ok"], d["warn"], d["fail"])
PY
}

# Nothing exists yet: warnings that say what first start will do, no failure.
FTP_PORT=$(free_port) SFTP_PORT=$(free_port) HTTPS_PORT=$(free_port) TEST_PORT=$(free_port)
PORTS="--set ftp_port=$FTP_PORT --set sftp_port=$SFTP_PORT --set https_port=$HTTPS_PORT"
doctor $PORTS
assert_eq $rc 0 "fresh deployment: warnings only"
assert_contains "$out" "WARN  state" "missing state dir"
assert_contains "$out" "fix: start ferry serve once" "says what to do"
assert_contains "$out" "ftp_port $FTP_PORT on 127.0.0.1 is free" "port check"
assert_contains "$out" "openat2" "kernel check"
# This kernel has seccomp and Landlock (ABI >= 2): both layers are reported; off is a warning.
assert_contains "$out" "OK    sandbox   sessions run under seccomp filter, Landlock ABI" "sandbox check"
doctor $PORTS --set sandbox=no
assert_contains "$out" "WARN  sandbox   sessions are not fully sandboxed: off (sandbox = no)" "sandbox off"

# A running server: its ports are held by ferry, which is fine; every state file checks.
TFE_PORT=$(free_port)
ferry_start --set test_port="$TFE_PORT"
ferry_user_add alice 'pw-alice'
export TFE_PORT
/usr/bin/python3 - <<'PY' || fail "login through the test front end"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
c = TFE(int(os.environ["TFE_PORT"]))
assert c.cmd("LOGIN alice pw-alice").startswith("OK alice"), "login"
c.cmd("QUIT")
PY
sleep 0.3
doctor $PORTS --set test_port="$TFE_PORT"
printf '%s\n' "$out"
assert_eq $rc 0 "healthy deployment"
assert_contains "$out" "ftp_port $FTP_PORT on 127.0.0.1 is held by ferry" "own port recognised"
assert_contains "$out" "OK    state" "state dir"
assert_contains "$out" "OK    tls       certificate $FERRY_STATE/tls.crt valid until" "certificate"
assert_contains "$out" "names the listen address 127.0.0.1" "SAN"
assert_contains "$out" "OK    host-key" "host key"
assert_contains "$out" "2 user(s)" "users file"
assert_contains "$out" "2 record(s) in 1 file(s), hash chain intact" "audit chain (login, logout)"
read -r ok warn nfail < <(json $PORTS)
assert_eq "$nfail" 0 "json: no failure"

# A port taken by another program.
/usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$TEST_PORT" &
squatter=$!
_bg_pids="$_bg_pids $squatter"
sleep 0.5
doctor $PORTS --set test_port="$TEST_PORT"
assert_eq $rc 1 "port in use fails"
assert_contains "$out" "test_port $TEST_PORT on 127.0.0.1 is in use by python3 (pid $squatter)" "names the squatter"
assert_contains "$out" "fix: stop what listens there" "port fix"
kill "$squatter"; wait "$squatter" 2>/dev/null
ferry_stop

# Broken state, one problem at a time.
chmod 755 "$FERRY_STATE"
doctor $PORTS
assert_eq $rc 0 "loose state mode is a warning"
assert_contains "$out" "has mode 0755, not 0700" "state mode"
chmod 700 "$FERRY_STATE"

cp "$FERRY_STATE/users" "$FERRY_DIR/users.bak"
echo 'broken line without colons' >> "$FERRY_STATE/users"
doctor $PORTS
assert_eq $rc 1 "broken users file fails"
assert_contains "$out" "FAIL  users" "users failure"
cp "$FERRY_DIR/users.bak" "$FERRY_STATE/users"

cp "$FERRY_STATE/audit.jsonl" "$FERRY_DIR/audit.bak"
sed -i '1s/"alice"/"mallo"/' "$FERRY_STATE/audit.jsonl"
grep -q mallo "$FERRY_STATE/audit.jsonl" || fail "no login record to tamper with"
doctor $PORTS
assert_eq $rc 1 "tampered audit log fails"
assert_contains "$out" "FAIL  audit" "audit failure"
assert_contains "$out" "line 1" "names the line"
cp "$FERRY_DIR/audit.bak" "$FERRY_STATE/audit.jsonl"

cp "$FERRY_STATE/tls.crt" "$FERRY_DIR/tls.crt.bak"; cp "$FERRY_STATE/tls.key" "$FERRY_DIR/tls.key.bak"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$FERRY_STATE/tls.key" \
    -out "$FERRY_STATE/tls.crt" -days 7 -subj /CN=elsewhere -addext subjectAltName=DNS:elsewhere.example 2>/dev/null ||
    fail "openssl req"
doctor $PORTS
assert_eq $rc 0 "certificate warnings only"
assert_contains "$out" "expires in" "expiry warning"
assert_contains "$out" "but not the listen address 127.0.0.1" "SAN warning"
cp "$FERRY_DIR/tls.key.bak" "$FERRY_STATE/tls.key"
doctor $PORTS
assert_eq $rc 1 "mismatched key fails"
assert_contains "$out" "does not match the certificate" "key mismatch"
cp "$FERRY_DIR/tls.crt.bak" "$FERRY_STATE/tls.crt"

echo garbage > "$FERRY_STATE/ssh_host_ed25519_key.new"
mv "$FERRY_STATE/ssh_host_ed25519_key" "$FERRY_DIR/hostkey.bak"
mv "$FERRY_STATE/ssh_host_ed25519_key.new" "$FERRY_STATE/ssh_host_ed25519_key"
doctor $PORTS
assert_eq $rc 1 "broken host key fails"
assert_contains "$out" "FAIL  host-key" "host key failure"
mv "$FERRY_DIR/hostkey.bak" "$FERRY_STATE/ssh_host_ed25519_key"

doctor $PORTS --set run_as=no-such-ferry-user
assert_eq $rc 1 "missing run_as user fails"
assert_contains "$out" "run_as user 'no-such-ferry-user' does not exist" "run_as"

doctor $PORTS --listen 192.0.2.1 2>/dev/null
assert_eq $rc 2 "doctor has no --listen flag (use --set listen=)"
doctor $PORTS --set listen=192.0.2.1
assert_eq $rc 1 "foreign listen address fails"
assert_contains "$out" "is not an address of this host" "listen address"

printf '[server]\nftp_port = 21\nfrobnicate = yes\n' > "$FERRY_DIR/bad.conf"
doctor --config "$FERRY_DIR/bad.conf"
assert_eq $rc 1 "bad config fails"
assert_contains "$out" "bad.conf:3: unknown key 'frobnicate'" "config error with file:line"

# Healthy again after the repairs.
doctor $PORTS
assert_eq $rc 0 "repaired deployment"
echo "t_doctor: ok"
