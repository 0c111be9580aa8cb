#!/bin/bash
# Reliability: the session sandbox (gateway/sandbox.h) with run_as, and what it costs.
#  - run_as=nobody + sandbox: a file nobody may read by its permissions (0644 beside the
#    server root, owned by nobody) is still refused to a logged-in session: Landlock, not
#    the privilege drop, is what refuses it; with sandbox = no the same probe reads it.
#  - cost: SBX_LOGINS (200) sequential logins on the test front end and the best of
#    SBX_REPS (3) FTP downloads of SBX_MB (256) MiB, sandbox off then on; prints ms per
#    login, MB/s and the ratios (indicative on a shared machine).
# Only in `make reliability`; t_sandbox.sh is the short version in `make check`.
FERRY_TEST_TMP=/tmp # nobody must reach the root, whatever the checkout's parents allow
. tests/integration/lib.sh
PY=/usr/bin/python3
LOGINS=${SBX_LOGINS:-200} MB=${SBX_MB:-256}
[ "$(id -u)" = 0 ] || { echo "r_sandbox: needs root (run_as), skipped"; exit 0; }
abi=$($PY -c 'import ctypes; l = ctypes.CDLL(None); print(l.syscall(444, None, 0, 1))')
[ "$abi" -ge 2 ] || { echo "r_sandbox: no usable Landlock (ABI $abi), skipped"; exit 0; }

mkdir -p "$FERRY_ROOT/lou"
chown -R nobody: "$FERRY_ROOT"
chmod 755 "$FERRY_DIR"
echo "nobody may read this" >"$FERRY_DIR/nobodys.txt"
chown nobody: "$FERRY_DIR/nobodys.txt"
chmod 644 "$FERRY_DIR/nobodys.txt"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$FERRY_ROOT/lou/big.bin"
chown nobody: "$FERRY_ROOT/lou/big.bin"
export FERRY_SANDBOX_PROBE=$FERRY_DIR/nobodys.txt

# One pass: sandbox yes|no. Writes "PROBE|ms-per-login|MB/s" to $FERRY_DIR/result.yes|no.
pass() {
    local sbx=$1 port log
    port=$(free_port)
    [ -f "$FERRY_DIR/serve.log" ] && mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$sbx-prev"
    ferry_start --set test_port="$port" --set run_as=nobody --set sandbox="$sbx" \
        --set ftp_allow_plaintext=yes --set max_per_address=1000
    grep -q '^lou:' "$FERRY_STATE/users" || ferry_user_add lou 'lou-pw-9' --home /lou
    local ms
    ms=$(TEST_PORT=$port N=$LOGINS $PY - <<'PY'
import os, sys, time
sys.path.insert(0, "tests/integration")
from tfe import TFE
port, n = int(os.environ["TEST_PORT"]), int(os.environ["N"])
t = time.monotonic()
for _ in range(n):
    c = TFE(port)
    r = c.cmd("LOGIN lou lou-pw-9")
    assert r.startswith("OK lou"), r
    c.cmd("QUIT")
    c.close()
print("%.2f" % ((time.monotonic() - t) * 1000 / n))
PY
) || fail "logins with sandbox=$sbx"
    # Best of SBX_REPS downloads: the machine is shared, the best run is the stable figure.
    local best=0 r mbs t0 t1
    for r in $(seq "${SBX_REPS:-3}"); do
        t0=$(date +%s.%N)
        curl -sS --max-time 600 "ftp://lou:lou-pw-9@127.0.0.1:$FTP_PORT/big.bin" -o "$FERRY_DIR/big.out" ||
            fail "FTP download with sandbox=$sbx"
        t1=$(date +%s.%N)
        cmp -s "$FERRY_ROOT/lou/big.bin" "$FERRY_DIR/big.out" || fail "download differs (sandbox=$sbx)"
        rm -f "$FERRY_DIR/big.out"
        mbs=$($PY -c "print('%.0f' % ($MB * 1.048576 / ($t1 - $t0)))")
        [ "$mbs" -gt "$best" ] && best=$mbs
    done
    local probe
    probe=$(grep -F "sandbox probe $FERRY_DIR/nobodys.txt: " "$FERRY_DIR/serve.log" | tail -n 1 |
        sed 's/.*: sandbox probe [^ ]*: //')
    ! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
    ferry_stop
    echo "$probe|$ms|$best" >"$FERRY_DIR/result.$sbx"
}

sync # the file just written must not be flushed during the first timed pass
pass no
pass yes
IFS='|' read -r on_probe on_ms on_mbs <"$FERRY_DIR/result.yes"
IFS='|' read -r off_probe off_ms off_mbs <"$FERRY_DIR/result.no"
assert_eq "$on_probe" "denied (Permission denied)" "run_as + sandbox: nobody's own file beside the root"
assert_eq "$off_probe" allowed "run_as without sandbox: the same file is readable (DAC allows it)"
echo "login: ${on_ms} ms with the sandbox, ${off_ms} ms without ($LOGINS logins, run_as=nobody)"
echo "FTP download of $MB MiB: ${on_mbs} MB/s with the sandbox, ${off_mbs} MB/s without"
echo "ratio sandbox/none: login $($PY -c "print('%.2f' % ($on_ms / $off_ms))")," \
    "download $($PY -c "print('%.2f' % ($on_mbs / $off_mbs))")"
echo "r_sandbox: ok"
