#!/bin/bash
# Builds the Debian package (dpkg-buildpackage -us -uc -b) from a copy of the tree,
# checks it with lintian (no errors allowed), installs it with dpkg -i, checks what the
# maintainer scripts made (user ferry, /var/lib/ferry 0700, /srv/ferry, the conffile's
# mode), verifies the installed systemd unit, starts `ferry serve` as the user ferry
# (runuser: there is no systemd to start the unit in a container) with the packaged
# paths on free loopback ports, logs in through WebDAV with curl and through the test
# front end, stops it, and purges the package. Needs root; slow (a release build).
# Not part of `make check`: run it with `make deb`. Leaves the machine as it found it,
# except for Debian build tools it installs when missing.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i, runuser)"
if dpkg -s ferry >/dev/null 2>&1; then
    fail "a ferry package is already installed here; refusing to replace it"
fi

need=""
for p in build-essential debhelper devscripts lintian fakeroot curl; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    echo "deb: installing$need" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $need >&2; } || fail "apt-get install$need"
fi
# Build dependencies, from debian/control.
builddeps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$src/debian/control" | sed '$d' |
    sed 's/^Build-Depends://' | tr ',' '\n' | sed 's/(.*)//; s/ //g' | grep -v '^$' |
    grep -v '^debhelper-compat')
missing=""
for p in $builddeps; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $missing >&2 || fail "apt-get install$missing"

tmp=$(mktemp -d "${FERRY_TEST_TMP:-/tmp}/ferry-deb-XXXXXX")
had_user=no had_srv=no serve_pid=""
getent passwd ferry >/dev/null && had_user=yes
[ -e /srv/ferry ] && had_srv=yes
cleanup() {
    local rc=$?
    [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null
    if dpkg -s ferry >/dev/null 2>&1; then
        dpkg --purge ferry >/dev/null 2>&1 || echo "deb: could not purge ferry" >&2
    fi
    [ "$had_srv" = yes ] || rm -rf /srv/ferry
    if [ "$had_user" = no ] && getent passwd ferry >/dev/null; then
        deluser --system --quiet ferry >/dev/null 2>&1 || true
        getent group ferry >/dev/null && delgroup --system --quiet ferry >/dev/null 2>&1
    fi
    [ $rc -ne 0 ] && [ -f "$tmp/serve.log" ] && tail -n 30 "$tmp/serve.log" >&2
    [ -n "${FERRY_KEEP:-}" ] || rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Build from a clean copy (dpkg-buildpackage writes into debian/ and the parent dir).
echo "deb: copying the tree to $tmp/ferry"
mkdir "$tmp/ferry"
tar -C "$src" --exclude='./build*' --exclude='./.git' --exclude='./ferry-data' \
    --exclude='./ferry-state' --exclude='./debian/ferry' --exclude='./debian/.debhelper' \
    --exclude='*.log' -cf - . | tar -C "$tmp/ferry" -xf - || fail "copying the tree"
echo "deb: dpkg-buildpackage -us -uc -b (log: $tmp/build.log)"
(cd "$tmp/ferry" && dpkg-buildpackage -us -uc -b -jauto) > "$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log" >&2; fail "dpkg-buildpackage"; }
deb=$(ls "$tmp"/ferry_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no .deb built"
echo "deb: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# 2. lintian: no errors (warnings are printed for the record).
lintian --tag-display-limit 0 "$tmp"/ferry_*.changes > "$tmp/lintian.txt" 2>&1
cat "$tmp/lintian.txt"
grep -q '^E: ' "$tmp/lintian.txt" && fail "lintian reports errors"
echo "deb: lintian: $(grep -c '^E: ' "$tmp/lintian.txt") errors, $(grep -c '^W: ' "$tmp/lintian.txt") warnings"

# 3. Contents.
dpkg-deb -c "$deb" > "$tmp/contents.txt"
for f in ./usr/bin/ferry ./usr/share/man/man1/ferry.1.gz ./usr/share/man/man5/ferry.conf.5.gz \
    ./lib/systemd/system/ferry.service ./etc/ferry/ferry.conf \
    ./usr/share/doc/ferry/ferry.conf.example; do
    grep -q " $f\$" "$tmp/contents.txt" || fail "package lacks $f"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/ferry/ferry.conf || fail "ferry.conf is not a conffile"

# 4. Install.
dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i"; }
getent passwd ferry >/dev/null || fail "postinst did not create the user ferry"
[ "$(stat -c '%U %a' /var/lib/ferry)" = "ferry 700" ] || fail "/var/lib/ferry is not 0700 ferry"
[ "$(stat -c '%U' /srv/ferry)" = ferry ] || [ "$had_srv" = yes ] || fail "/srv/ferry not owned by ferry"
[ "$(stat -c '%U %G %a' /etc/ferry/ferry.conf)" = "root ferry 640" ] ||
    fail "/etc/ferry/ferry.conf is $(stat -c '%U %G %a' /etc/ferry/ferry.conf), want root ferry 640"
/usr/bin/ferry --version | grep -q '^ferry ' || fail "installed ferry does not run"
man -w ferry.conf >/dev/null 2>&1 || fail "man ferry.conf not found"
out=$(systemd-analyze verify /lib/systemd/system/ferry.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "deb: installed; systemd-analyze verify accepts the unit (man pages included)"

# 5. Run it as ferry with the packaged paths, on free ports.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FTP=$(port) SFTP=$(port) HTTPS=$(port) TFE=$(port)
conf=$tmp/ferry.conf
sed -e "s/^ftp_port = .*/ftp_port = $FTP/" -e "s/^sftp_port = .*/sftp_port = $SFTP/" \
    -e "s/^https_port = .*/https_port = $HTTPS/" /etc/ferry/ferry.conf > "$conf"
printf 'test_port = %s\n' "$TFE" >> "$conf"
chmod 0644 "$conf"
chmod 0755 "$tmp"
runuser -u ferry -- /usr/bin/ferry serve --config "$conf" --check-config >/dev/null ||
    fail "the packaged configuration does not load"
printf 'alice-pw-123\n' | runuser -u ferry -- /usr/bin/ferry user add alice --password-stdin \
    --state /var/lib/ferry >/dev/null || fail "ferry user add as ferry"
runuser -u ferry -- /usr/bin/ferry serve --config "$conf" > "$tmp/serve.log" 2>&1 &
runuser_pid=$!
for _ in $(seq 100); do
    grep -q '^ferry: ready' "$tmp/serve.log" && break
    kill -0 "$runuser_pid" 2>/dev/null || fail "ferry serve exited"
    sleep 0.1
done
serve_pid=$(sed -n 's/^ferry: ready (pid \([0-9]*\)).*/\1/p' "$tmp/serve.log")
[ -n "$serve_pid" ] || fail "ferry serve did not become ready"
[ "$(stat -c %U "/proc/$serve_pid")" = ferry ] || fail "ferry serve does not run as ferry"
grep -q 'admin password' "$tmp/serve.log" && fail "an admin password was printed (to the journal)"
[ -f /var/lib/ferry/tls.crt ] && [ -f /var/lib/ferry/ssh_host_ed25519_key ] ||
    fail "first start did not create the keys in /var/lib/ferry"

# Log in with curl over WebDAV (HTTPS, self-signed: --cacert the generated cert).
cacert=/var/lib/ferry/tls.crt
printf 'hello from the deb test\n' > "$tmp/hello.txt"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$cacert" -u alice:wrong \
    "https://127.0.0.1:$HTTPS/") || fail "curl (wrong password)"
[ "$code" = 401 ] || fail "wrong password: HTTP $code, want 401"
curl -sS -f --cacert "$cacert" -u alice:alice-pw-123 -T "$tmp/hello.txt" \
    "https://127.0.0.1:$HTTPS/hello.txt" >/dev/null || fail "curl PUT as alice"
got=$(curl -sS -f --cacert "$cacert" -u alice:alice-pw-123 "https://127.0.0.1:$HTTPS/hello.txt") ||
    fail "curl GET as alice"
[ "$got" = "hello from the deb test" ] || fail "downloaded [$got]"
[ -f /srv/ferry/alice/hello.txt ] || fail "upload not in /srv/ferry/alice"
[ "$(stat -c %U /srv/ferry/alice/hello.txt)" = ferry ] || fail "uploaded file not owned by ferry"
echo "deb: curl logged in over WebDAV, uploaded and downloaded as alice"

# And through the test front end (the parent's authentication, the audit log).
TFE_PORT=$TFE /usr/bin/python3 - "$src/tests/integration" <<'PY' || fail "test front end login"
import os, sys
sys.path.insert(0, sys.argv[1])
from tfe import TFE
c = TFE(int(os.environ["TFE_PORT"]))
rep = c.cmd("LOGIN alice alice-pw-123")
assert rep.startswith("OK alice /alice"), rep
c.cmd("QUIT")
PY
if /usr/bin/ferry --help | grep -q '^  doctor'; then
    runuser -u ferry -- /usr/bin/ferry doctor --config "$conf" > "$tmp/doctor.txt" 2>&1
    rc=$?
    cat "$tmp/doctor.txt"
    [ $rc = 0 ] || fail "ferry doctor found failures in the packaged deployment"
fi
kill -TERM "$serve_pid"
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$serve_pid" 2>/dev/null && fail "ferry serve did not stop on SIGTERM"
serve_pid=""
wait "$runuser_pid" 2>/dev/null
runuser -u ferry -- /usr/bin/ferry audit verify --state /var/lib/ferry >/dev/null ||
    fail "audit chain does not verify"
grep -q '"event":"login","proto":"webdav"' /var/lib/ferry/audit.jsonl || fail "no webdav login audited"

# 6. Purge: state and logs go, users' data stays.
dpkg --purge ferry > "$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "dpkg --purge"; }
[ ! -e /usr/bin/ferry ] || fail "purge left /usr/bin/ferry"
[ ! -e /var/lib/ferry ] || fail "purge left /var/lib/ferry"
[ ! -e /etc/ferry/ferry.conf ] || fail "purge left /etc/ferry/ferry.conf"
[ -f /srv/ferry/alice/hello.txt ] || fail "purge removed users' data"
dpkg-statoverride --list /etc/ferry/ferry.conf >/dev/null && fail "purge left the stat override"
echo "deb: ok (built, lintian clean of errors, installed, served as ferry, purged)"
