#!/bin/bash
# The FTPS client options of ferry ls / get / mirror against a real TLS upstream
# (vsftpd with AUTH TLS, tests/peers/peers.sh PEER_TLS): a certificate from a test CA
# is accepted with --ca, refused without it or with another CA (clear error, exit 1),
# accepted with --insecure (and a warning), and with a matching --pin; a pin of another
# key is refused.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/peers/peers.sh

P=$FERRY_DIR/pki
mkdir -p "$P"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $1 failed"; }
# A test CA, a server certificate it signs (SAN 127.0.0.1 and localhost), another CA.
for ca in ca other; do
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=ferry test $ca" -keyout "$P/$ca.key" -out "$P/$ca.pem"
done
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$P/srv.key" -out "$P/srv.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$P/ext"
ossl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
    -extfile "$P/ext" -out "$P/srv.pem"
pin_of() { # PEM certificate or key -> curl's sha256//BASE64 of its public key
    openssl pkey -in "$1" -pubout -outform der 2>/dev/null | openssl dgst -sha256 -binary |
        base64 | sed 's|^|sha256//|'
}
PIN=$(pin_of "$P/srv.key")
BADPIN=$(pin_of "$P/other.key")

src=$FERRY_DIR/src
mkdir -p "$src/sub"
printf 'over tls\n' >"$src/hello.txt"
head -c 200000 /dev/urandom >"$src/sub/data.bin"
PEER_TLS=$P/srv.pem:$P/srv.key peer_start vsftpd "$src" user || fail "vsftpd (TLS) did not start"
case "$PEER_URL" in ftpes://*) ;; *) fail "PEER_TLS did not give an ftpes:// URL: $PEER_URL" ;; esac
URL=$PEER_URL

# A certificate from a CA we name: accepted.
out=$("$FERRY_BIN" ls "$URL" --ca "$P/ca.pem" --json) || fail "ferry ls --ca"
assert_contains "$out" '"name": "hello.txt"' "listing over FTPS"
"$FERRY_BIN" get "${URL}hello.txt" --ca "$P/ca.pem" -o "$FERRY_DIR/hello.txt" --quiet ||
    fail "ferry get --ca"
cmp -s "$src/hello.txt" "$FERRY_DIR/hello.txt" || fail "get over FTPS differs"
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/m" --ca "$P/ca.pem" --quiet || fail "ferry mirror --ca"
diff -r "$src" "$FERRY_DIR/m" -x .ferry-mirror.lock >/dev/null || fail "mirror over FTPS differs"

# Not trusted: the system store does not know the test CA; another CA is not it either.
for args in "" "--ca $P/other.pem"; do
    # shellcheck disable=SC2086
    "$FERRY_BIN" ls "$URL" $args >/dev/null 2>"$FERRY_DIR/err"
    assert_eq $? 1 "untrusted certificate ($args) exit code"
    grep -q "certificate" "$FERRY_DIR/err" || fail "no clear certificate error: $(cat "$FERRY_DIR/err")"
    grep -q -- "--ca FILE" "$FERRY_DIR/err" || fail "the error does not say what to do"
done
"$FERRY_BIN" get "${URL}hello.txt" -o "$FERRY_DIR/nope.txt" --quiet 2>/dev/null
assert_eq $? 1 "get with an untrusted certificate"
[ ! -e "$FERRY_DIR/nope.txt" ] || fail "a file arrived over an untrusted connection"

# --insecure: accepted, with a warning on stderr (none with --quiet).
"$FERRY_BIN" ls "$URL" --insecure >/dev/null 2>"$FERRY_DIR/err" || fail "ferry ls --insecure"
grep -q "warning: --insecure" "$FERRY_DIR/err" || fail "--insecure gave no warning"

# A pinned public key: the self-signed case; no CA needed when the pin matches.
"$FERRY_BIN" ls "$URL" --pin "$PIN" >/dev/null || fail "ferry ls --pin (matching)"
"$FERRY_BIN" get "${URL}sub/data.bin" --pin "$PIN" -o "$FERRY_DIR/data.bin" --quiet ||
    fail "ferry get --pin"
cmp -s "$src/sub/data.bin" "$FERRY_DIR/data.bin" || fail "get with --pin differs"
"$FERRY_BIN" ls "$URL" --pin "$BADPIN" >/dev/null 2>"$FERRY_DIR/err"
assert_eq $? 1 "pin mismatch exit code"
grep -q "pinned" "$FERRY_DIR/err" || fail "pin mismatch not explained: $(cat "$FERRY_DIR/err")"
echo "t_ftps_client: ok"
