#!/bin/bash
# The integrity policy of mounts (issue 8): an anonymous pyftpdlib upstream serving good,
# tampered and unsigned files, mounted three times in `ferry serve`:
#   /req   verify = required, key = minisign public key (SHA256SUMS.minisig)
#   /auto  verify left to its default (auto for an anonymous URL), same key
#   /weak  verify = required, no key: the same-channel SHA256SUMS is the evidence
#   /none  verify = none: everything, as the server gives it
# Checked through FTP (curl), WebDAV (curl) and SFTP (sftp batch): good files arrive
# byte-identical, tampered ones are refused and then absent from listings, unsigned ones
# are absent (required) or listed as NAME.unverified (auto), never under their own name.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/peers/peers.sh

C="curl -sS --max-time 60"
command -v minisign >/dev/null || fail "minisign is not installed"

up=$FERRY_DIR/up
mkdir -p "$up/sub"
printf 'good content\n' >"$up/good.txt"
head -c 300000 /dev/urandom >"$up/big.bin"
printf 'original\n' >"$up/tampered.txt"
printf 'no evidence at all\n' >"$up/orphan.txt"
printf 'nested good\n' >"$up/sub/nested.txt"
printf 'hidden\n' >"$up/.dotfile"
(cd "$up" && sha256sum good.txt big.bin tampered.txt >SHA256SUMS)
(cd "$up/sub" && sha256sum nested.txt >nested.txt.sha256)
printf 'evil\n' >"$up/tampered.txt" # substituted after the manifest was made
minisign -G -W -p "$FERRY_DIR/mini.pub" -s "$FERRY_DIR/mini.key" >/dev/null 2>&1 || fail "minisign -G"
minisign -S -s "$FERRY_DIR/mini.key" -m "$up/SHA256SUMS" >/dev/null 2>&1 || fail "minisign -S"
peer_start pyftpdlib "$up" anon || fail "pyftpdlib did not start"

cat >"$FERRY_DIR/ferry.conf" <<EOF
[mount /req]
url = $PEER_URL
verify = required
key = $FERRY_DIR/mini.pub
cache_ttl = 1s

[mount /auto]
url = $PEER_URL
key = $FERRY_DIR/mini.pub
cache_ttl = 1s

[mount /weak]
url = $PEER_URL
verify = required
cache_ttl = 1s

[mount /none]
url = $PEER_URL
verify = none
EOF
"$FERRY_BIN" serve --config "$FERRY_DIR/ferry.conf" --check-config >/dev/null 2>&1 ||
    fail "--check-config refuses verify/key in [mount]"
# A key with verify = none is a configuration error.
printf '[mount /x]\nurl = %s\nverify = none\nkey = %s\n' "$PEER_URL" "$FERRY_DIR/mini.pub" \
    >"$FERRY_DIR/bad.conf"
"$FERRY_BIN" serve --config "$FERRY_DIR/bad.conf" --check-config >/dev/null 2>&1
assert_eq $? 2 "key with verify = none is refused"

ferry_start --config "$FERRY_DIR/ferry.conf" --set ftp_allow_plaintext=yes
ferry_user_add vera 'vera-pw' --home /
U="ftp://vera:vera-pw@127.0.0.1:$FTP_PORT"
D="https://127.0.0.1:$HTTPS_PORT"
DC="$C -k -u vera:vera-pw"

names() { $C --list-only "$1" | sort | tr '\n' ' '; }

# ---- listings before any download ----
l=$(names "$U/req/")
case "$l" in *"orphan"*) fail "/req lists the unverifiable orphan.txt: $l" ;; esac
case "$l" in *"good.txt "*"tampered.txt "*) ;; *) fail "/req: files with evidence missing: $l" ;; esac
case "$l" in *".dotfile"*) fail "/req lists the unlisted dot file: $l" ;; esac
l=$(names "$U/auto/")
case "$l" in *"orphan.txt.unverified "*) ;; *) fail "/auto: orphan.txt not marked: $l" ;; esac
case "$l" in *"orphan.txt "*) fail "/auto: orphan.txt listed under its own name: $l" ;; esac
l=$(names "$U/none/")
case "$l" in *"orphan.txt "*"tampered.txt "*) ;; *) fail "/none: plain listing: $l" ;; esac

# ---- FTP: good files byte-identical, tampered refused then gone ----
for m in req auto weak; do
    $C "$U/$m/good.txt" -o "$FERRY_DIR/g.$m" || fail "/$m: RETR good.txt"
    cmp -s "$up/good.txt" "$FERRY_DIR/g.$m" || fail "/$m: good.txt differs"
    $C "$U/$m/big.bin" -o "$FERRY_DIR/b.$m" || fail "/$m: RETR big.bin"
    cmp -s "$up/big.bin" "$FERRY_DIR/b.$m" || fail "/$m: big.bin differs"
    # A resumed download of a verified file (REST) still comes from the verified copy.
    head -c 1000 "$up/big.bin" >"$FERRY_DIR/r.$m"
    $C -C - "$U/$m/big.bin" -o "$FERRY_DIR/r.$m" || fail "/$m: resumed RETR big.bin"
    cmp -s "$up/big.bin" "$FERRY_DIR/r.$m" || fail "/$m: resumed big.bin differs"
    # One curl, one FTP session: the failed RETR, then the listing, which must hide it.
    $C "$U/$m/tampered.txt" -o "$FERRY_DIR/t.$m" --next --list-only "$U/$m/" -o "$FERRY_DIR/l.$m" \
        2>/dev/null
    [ ! -s "$FERRY_DIR/t.$m" ] || fail "/$m: bytes of the tampered file arrived"
    grep -q good.txt "$FERRY_DIR/l.$m" || fail "/$m: no listing after the refusal"
    ! grep -q tampered "$FERRY_DIR/l.$m" || fail "/$m: tampered.txt listed after failing"
done
$C "$U/weak/sub/nested.txt" -o "$FERRY_DIR/n.weak" || fail "/weak: nested.txt (NAME.sha256)"
cmp -s "$up/sub/nested.txt" "$FERRY_DIR/n.weak" || fail "/weak: nested.txt differs"
# With a key, a bare same-channel NAME.sha256 is not enough: nested.txt has no signature.
l=$(names "$U/req/sub/")
case "$l" in *"nested.txt "*) fail "/req: nested.txt listed with only a same-channel hash: $l" ;; esac
# The unlisted name of a marked file is not reachable; the marked one is, as it is.
if $C "$U/auto/orphan.txt" -o /dev/null 2>/dev/null; then fail "/auto: orphan.txt by its own name"; fi
assert_eq "$($C "$U/auto/orphan.txt.unverified")" "no evidence at all" "/auto: marked file"
if $C "$U/req/orphan.txt" -o /dev/null 2>/dev/null; then fail "/req: orphan.txt served"; fi
if $C "$U/req/.dotfile" -o /dev/null 2>/dev/null; then fail "/req: unlisted dot file served"; fi
# Evidence files are listed and served as they are: they are the evidence, not payload.
$C "$U/req/SHA256SUMS" | cmp -s - "$up/SHA256SUMS" || fail "/req: SHA256SUMS"
# verify = none is the explicit opt-out.
assert_eq "$($C "$U/none/tampered.txt")" "evil" "/none serves what the server has"
echo "ok   FTP"

# ---- WebDAV: a fresh session (each has its own failure memory) ----
code=$($DC -o "$FERRY_DIR/w.good" -w '%{http_code}' "$D/req/good.txt")
assert_eq "$code" 200 "WebDAV GET /req/good.txt"
cmp -s "$up/good.txt" "$FERRY_DIR/w.good" || fail "WebDAV: good.txt differs"
code=$($DC -o "$FERRY_DIR/w.bad" -w '%{http_code}' "$D/req/tampered.txt")
case "$code" in 2*) fail "WebDAV served the tampered file ($code)" ;; esac
case "$(cat "$FERRY_DIR/w.bad" 2>/dev/null)" in *evil*) fail "WebDAV: tampered bytes arrived" ;; esac
code=$($DC -o /dev/null -w '%{http_code}' -r 5-9 "$D/auto/big.bin")
assert_eq "$code" 206 "WebDAV range GET of a verified file"
prop=$($DC -X PROPFIND -H 'Depth: 1' "$D/req/")
case "$prop" in *orphan*) fail "WebDAV PROPFIND lists orphan.txt under /req" ;; esac
prop=$($DC -X PROPFIND -H 'Depth: 1' "$D/auto/")
case "$prop" in *orphan.txt.unverified*) ;; *) fail "WebDAV: /auto lacks orphan.txt.unverified" ;; esac
echo "ok   WebDAV"

# ---- SFTP (OpenSSH's sftp, key login): one session gets both files ----
if command -v sftp >/dev/null; then
    ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_sam" || fail "ssh-keygen"
    ferry_user_add sam 'sam-pw-123' --home / --key "$FERRY_DIR/id_sam.pub"
    printf -- '-get /req/tampered.txt %s/s.bad\nget /req/good.txt %s/s.good\nls -1 /req\n' \
        "$FERRY_DIR" "$FERRY_DIR" |
        sftp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            -o BatchMode=yes -i "$FERRY_DIR/id_sam" -P "$SFTP_PORT" -b - sam@127.0.0.1 \
            >"$FERRY_DIR/sftp.out" 2>&1 || fail "sftp batch: $(cat "$FERRY_DIR/sftp.out")"
    cmp -s "$up/good.txt" "$FERRY_DIR/s.good" || fail "SFTP: good.txt differs"
    case "$(cat "$FERRY_DIR/s.bad" 2>/dev/null)" in *evil*) fail "SFTP: tampered bytes arrived" ;; esac
    grep -q good.txt "$FERRY_DIR/sftp.out" || fail "SFTP: no listing: $(cat "$FERRY_DIR/sftp.out")"
    ! grep -q '^/req/tampered.txt' "$FERRY_DIR/sftp.out" || fail "SFTP: tampered.txt listed after failing"
    echo "ok   SFTP"
fi

grep -q 'tampered.txt refused' "$FERRY_DIR/serve.log" ||
    fail "the refusal is not logged"
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "t_mount_verify: ok"
