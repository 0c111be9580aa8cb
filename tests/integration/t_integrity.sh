#!/bin/bash
# `ferry hash` against coreutils (byte-identical stdout, same exit status) and
# `ferry verify` against keys and signatures made here by minisign, signify-openbsd,
# openssl and gpg: every case verified or rejected with the documented exit code.
. "$(dirname "$0")/lib.sh"

[ -x "$FERRY_BIN" ] || fail "no ferry binary at $FERRY_BIN"
K=$FERRY_DIR/keys
sh "$FERRY_SRC/tests/data/integrity/mkkeys.sh" "$K" >/dev/null || fail "mkkeys.sh"
cd "$K" || fail "cd $K"

# ---- ferry hash == coreutils -------------------------------------------------------
mkdir odd
printf a > 'odd/back\slash'
printf b > "odd/$(printf 'new\nline')"
printf c > "odd/$(printf 'cr\rname')"
printf d > 'odd/ lead'
printf e > 'odd/*star'
printf f > 'odd/(paren) = x'
head -c 3000000 /dev/urandom > big.bin   # several 256 KiB reads, a partial last one

for pair in sha256:sha256sum sha512:sha512sum sha1:sha1sum md5:md5sum blake2b:b2sum \
            sha224:sha224sum sha384:sha384sum; do
    algo=${pair%%:*} tool=${pair#*:}
    for flags in "" "--tag" "-b"; do
        # shellcheck disable=SC2086
        $tool $flags odd/* big.bin empty file.bin > want.out
        # shellcheck disable=SC2086
        "$FERRY_BIN" hash --algo "$algo" $flags odd/* big.bin empty file.bin > got.out
        cmp -s got.out want.out || {
            diff <(od -An -c got.out) <(od -An -c want.out) | head -n 20 >&2
            fail "ferry hash --algo $algo $flags differs from $tool $flags"
        }
    done
    assert_eq "$("$FERRY_BIN" hash --algo "$algo" < big.bin)" "$($tool < big.bin)" "$algo stdin"
    assert_eq "$("$FERRY_BIN" hash --algo "$algo" - < file.bin)" "$($tool - < file.bin)" \
        "$algo -"
done
assert_eq "$("$FERRY_BIN" hash file.bin)" "$(sha256sum file.bin)" "default algorithm"

# A missing file: same stdout for the others, exit 1 like coreutils.
want=$(sha256sum file.bin /nonexistent empty 2>/dev/null); want_rc=$?
got=$("$FERRY_BIN" hash file.bin /nonexistent empty 2>"$FERRY_DIR/err"); got_rc=$?
assert_eq "$got" "$want" "stdout with a missing file"
assert_eq "$got_rc" "$want_rc" "exit status with a missing file"
assert_contains "$(cat "$FERRY_DIR/err")" "/nonexistent: No such file or directory" "error line"
"$FERRY_BIN" hash --algo sha3 file.bin >/dev/null 2>&1
assert_eq "$?" 2 "unknown algorithm is a usage error"

# --check reads what coreutils writes, and reports like sha256sum -c.
sha256sum odd/* big.bin > odd.sums
assert_eq "$("$FERRY_BIN" hash --check odd.sums)" "$(sha256sum -c odd.sums)" "--check ok"
printf x >> big.bin
assert_eq "$("$FERRY_BIN" hash --check odd.sums 2>/dev/null)" \
    "$(sha256sum -c odd.sums 2>/dev/null)" "--check with a mismatch"
"$FERRY_BIN" hash --check odd.sums >/dev/null 2>&1
assert_eq "$?" 3 "--check mismatch exit status"

# ---- ferry verify --------------------------------------------------------------------
# expect CODE TEXT ARGS...: runs ferry verify ARGS, checks the exit code and that the
# one-line reason (stdout or stderr) contains TEXT.
expect() {
    local code=$1 text=$2 out rc
    shift 2
    out=$("$FERRY_BIN" verify "$@" 2>&1)
    rc=$?
    [ "$rc" = "$code" ] || fail "ferry verify $*: exit $rc, want $code: $out"
    assert_contains "$out" "$text" "ferry verify $*"
    [ "$(printf '%s\n' "$out" | wc -l)" -le 2 ] || fail "ferry verify $*: more than a line: $out"
}

cp file.bin bad.bin
printf 'X' | dd of=bad.bin bs=1 seek=5000 conv=notrunc 2>/dev/null
# file.bin is random: if that byte was an X already, change it to something else.
cmp -s file.bin bad.bin && printf 'Y' | dd of=bad.bin bs=1 seek=5000 conv=notrunc 2>/dev/null
cmp -s file.bin bad.bin && fail "bad.bin is not different from file.bin"
sha=$(sha256sum < file.bin | cut -c1-64)
b2=$(b2sum < file.bin | cut -c1-128)

expect 0 "sha256 matches" file.bin --sha256 "$sha"
expect 0 "blake2b matches" file.bin --blake2b "$b2" --sha256 "$sha"
expect 3 "sha256 mismatch: expected $sha got " bad.bin --sha256 "$sha"
expect 2 "needs 64 hex digits" file.bin --sha256 1234
expect 2 "nothing to verify against" file.bin
expect 2 "--sig needs --key" file.bin --sig file.bin.minisig

for case in "file.bin.minisig m.pub" "file.bin.legacy.minisig m.pub" "file.bin.sig s.pub" \
            "file.bin.rsa.sig rsa.pub" "file.bin.pss.sig rsa.pub" "file.bin.ec.sig ec.pub" \
            "file.bin.ed.sig ed.pub" "file.bin.p7s signer.crt" "file.bin.gpgsig pub.gpg" \
            "file.bin.asc pub.asc"; do
    set -- $case
    expect 0 "signature by " file.bin --sig "$1" --key "$2"
    expect 3 "" bad.bin --sig "$1" --key "$2"
done
expect 0 "signature by CN=Ferry-Test-Signer verified" file.bin --sig file.bin.p7s --ca ca.pem
expect 3 "unable to get local issuer certificate" file.bin --sig file.bin.p7s --ca ca2.pem
expect 3 "not by the given key" file.bin --sig file.bin.minisig --key m2.pub
expect 3 "not by the given key" file.bin --sig file.bin.sig --key s2.pub
expect 3 "wrong key" file.bin --sig file.bin.rsa.sig --key rsa2.pub
expect 3 "not a SHA-256 signature" file.bin --sig file.bin.rsa512.sig --key rsa.pub
expect 3 "not in the given keyring" file.bin --sig file.bin.gpgsig --key pub2.gpg
expect 3 "trusted comment verification failed" file.bin --sig <(sed 's/ferry test file/forged/' file.bin.minisig) --key m.pub
expect 3 "malformed minisign signature: truncated" file.bin --sig <(head -n 1 file.bin.minisig) --key m.pub --sig-type minisign
expect 1 "gpgv is not installed" file.bin --sig file.bin.asc --key pub.asc --gpgv /nonexistent/gpgv

# Signatures found beside the file or the manifest; --key without any fails.
expect 0 "signature by key" file.bin --key m.pub
expect 3 "no signature found and --key given" other.txt --key m.pub

# The usual chains: SHA256SUMS + signature, OpenBSD's signify -e SHA256.sig.
expect 0 "sha256 matches SHA256SUMS line 1" file.bin --manifest SHA256SUMS
expect 0 "verified (over the manifest); sha256 matches SHA256SUMS line 1" file.bin --manifest SHA256SUMS --sig SHA256SUMS.minisig --key m.pub
expect 0 "verified (over the manifest)" file.bin --manifest SHA256SUMS --sig SHA256SUMS.sig --key s.pub
expect 0 "verified (over the manifest)" file.bin --manifest SHA256SUMS --sig SHA256SUMS.asc --key pub.asc
expect 0 "verified (over the manifest)" file.bin --manifest SHA256SUMS --sig SHA256SUMS.p7s --ca ca.pem
expect 0 "sha256 matches manifest line 2" other.txt --sig SHA256.sig --key s.pub
expect 0 "blake2b matches B2SUMS line 1" file.bin --manifest B2SUMS
printf '%s\n' "$sha" > file.bin.sha256   # NAME.sha256 holding only the digest
expect 0 "sha256 matches file.bin.sha256 line 1" file.bin --manifest file.bin.sha256
expect 3 "sha256 mismatch" bad.bin --manifest file.bin.sha256
expect 3 "sha256 mismatch" bad.bin --manifest SHA256SUMS --name file.bin --sig SHA256SUMS.minisig --key m.pub
expect 3 "bad.bin is not listed in SHA256SUMS" bad.bin --manifest SHA256SUMS
sed "s/^[0-9a-f]*  file.bin/$(sha256sum < bad.bin | cut -c1-64)  file.bin/" SHA256SUMS > forged.sums
cp SHA256SUMS.minisig forged.sums.minisig
expect 3 "signature verification failed" file.bin --manifest forged.sums --key m.pub
printf 'garbage\n' > junk.sums
expect 3 "junk.sums has no valid checksum line (line 1: not a checksum line)" file.bin --manifest junk.sums
head -c 70000 /dev/zero | tr '\0' 'a' > huge.sums
printf '\n%s  file.bin\n' "$sha" >> huge.sums
expect 0 "sha256 matches huge.sums line 2" file.bin --manifest huge.sums

# --json: one object, for scripts.
json=$("$FERRY_BIN" verify file.bin --manifest SHA256SUMS --sig SHA256SUMS.minisig --key m.pub --json)
assert_eq "$?" 0 "--json exit status"
printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["verified"] is True and d["verdict"] == "verified", d
assert d["methods"] == ["manifest", "signature"], d
assert d["signature_type"] == "minisign" and d["trusted_comment"] and not d["weak"], d
' || fail "--json output: $json"
json=$("$FERRY_BIN" verify bad.bin --sha256 "$sha" --json 2>&1)
assert_eq "$?" 3 "--json failure exit status"
printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["verified"] is False and d["reason"].startswith("sha256 mismatch"), d
' || fail "--json failure output: $json"
echo "t_integrity: ok"
