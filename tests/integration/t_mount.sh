# Mounts: legacy FTP servers re-exposed inside `ferry serve` ([mount /PATH], DESIGN.md),
# seen through Ferry's FTP front end with curl. Two upstreams from tests/peers/peers.sh,
# each serving the tricky tree of tests/peers/make_tree.sh:
#   /legacy  pyftpdlib with a login, read-write, encoding detected, MLSD
#   /old     vsftpd anonymous, read-only, encoding forced to UTF-8 (LIST only)
# Checks: the mounts are listed; names arrive decoded (the undecodable Latin-1 byte as its
# %HH escape, and reachable under it); downloads are byte-identical, also resumed (REST)
# and above 4 GiB; uploads land on the upstream whole and without partials; namespace
# commands pass through; the read-only mount refuses writes; a dead upstream fails only
# its mount. Needs root (peers.sh makes the users vsftpd wants).
. tests/integration/lib.sh
. tests/peers/peers.sh

[ "$(id -u)" = 0 ] || fail "t_mount needs root (peer users, chroot)"
C="curl -sS --max-time 60"
W=$FERRY_DIR/work
mkdir -p "$W"

up=$FERRY_DIR/up-rw
bash tests/peers/make_tree.sh "$up" || fail "make_tree $up"
# A directory of UTF-8 names only: detection must decode it exactly.
mkdir "$up/utf8only" && echo u1 >"$up/utf8only/café.txt" && echo u2 >"$up/utf8only/日本語.txt"
peer_start pyftpdlib "$up" user || fail "pyftpdlib did not start"
RW_URL=$PEER_URL RW_PID=$PEER_PID
ro=$FERRY_DIR/up-ro
bash tests/peers/make_tree.sh "$ro" || fail "make_tree $ro"
peer_start vsftpd "$ro" anon || fail "vsftpd did not start"
RO_URL=$PEER_URL

cat >"$FERRY_DIR/ferry.conf" <<EOF
[mount /legacy]
url = $RW_URL
encoding = auto
cache_ttl = 2s
read_only = no

[mount /old]
url = $RO_URL
encoding = UTF-8
read_only = yes
# Anonymous upstreams default to verify = auto (t_mount_verify.sh); this test is about
# names and transfers, so it takes the unverified files explicitly.
verify = none
EOF
"$FERRY_BIN" serve --config "$FERRY_DIR/ferry.conf" --check-config >/dev/null 2>&1 ||
    fail "ferry serve --check-config refuses the [mount] sections"
ferry_start --config "$FERRY_DIR/ferry.conf" --set ftp_allow_plaintext=yes
ferry_user_add carol 'carol-pw' --home /
U="ftp://carol:carol-pw@127.0.0.1:$FTP_PORT"

# The mount points appear in their parent's listing.
out=$($C "$U/") || fail "LIST /"
case "$out" in *" legacy"*" old"* | *" old"*" legacy"*) ;;
*) fail "mount points missing from LIST / (is the mount factory wired into ferry serve?): $out" ;;
esac

# Names arrive decoded: UTF-8, spaces kept, " -> " inside a plain name, sizes above 4 GiB.
for m in legacy old; do
    out=$($C "$U/$m/") || fail "LIST /$m"
    for n in " leading space.txt" "trailing space.txt " "arrow -> name.txt" "empty-dir" \
        "nested" "old-2001.txt" "last-week.txt" "random.bin"; do
        printf '%s\n' "$out" | grep -qF -- " $n" || fail "/$m: '$n' missing from LIST: $out"
    done
    printf '%s\n' "$out" | grep -q '5368709120 .* sparse-5g.bin' ||
        fail "/$m: sparse-5g.bin is not listed with its 5 GiB size: $out"
    printf '%s\n' "$out" | grep -q ' 2001 old-2001.txt' ||
        fail "/$m: old-2001.txt is not listed as of 2001: $out"
    printf '%s\n' "$out" | grep -q '^d.* empty-dir' || fail "/$m: empty-dir is not a directory"
done
# Forced UTF-8 on /old: UTF-8 names exact, the raw Latin-1 byte as its escape, reachable.
out=$($C "$U/old/") || fail "LIST /old"
for n in "café.txt" "日本語.txt" "latin1-%E9.txt"; do
    printf '%s\n' "$out" | grep -qF -- " $n" || fail "/old: '$n' missing from LIST: $out"
done
assert_eq "$($C "$U/old/latin1-%25E9.txt")" "latin1" "/old: download by the escaped name"
assert_eq "$($C "$U/old/caf%C3%A9.txt")" "cafe" "/old: download of café.txt"
# Detected on /legacy: a directory of UTF-8 names decodes exactly.
out=$($C "$U/legacy/utf8only/") || fail "LIST /legacy/utf8only"
for n in "café.txt" "日本語.txt"; do
    printf '%s\n' "$out" | grep -qF -- " $n" || fail "/legacy/utf8only: '$n' missing: $out"
done
# In the mixed top directory, whatever each name was decoded to downloads its own bytes.
quote() { /usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.buffer.read()))'; }
$C -l "$U/legacy/" >"$W/names" || fail "/legacy: NLST"
for pair in "latin1-:latin1" "caf:cafe" "arrow:arrow"; do
    name=$(grep "^${pair%%:*}" "$W/names") || fail "/legacy: no ${pair%%:*}* name in NLST"
    assert_eq "$($C "$U/legacy/$(printf '%s' "$name" | quote)")" "${pair#*:}" \
        "/legacy: download of '$name'"
done

# Byte-identical downloads through both mounts, resumed downloads, ranges above 4 GiB.
for m in legacy old; do
    src=$up
    [ $m = old ] && src=$ro
    for f in random.bin plain.txt nested/a/b/deep.bin; do
        $C "$U/$m/$f" -o "$W/got" || fail "/$m/$f: download failed"
        cmp -s "$W/got" "$src/$f" || fail "/$m/$f: downloaded bytes differ"
    done
    assert_eq "$($C "$U/$m/%20leading%20space.txt")" "leading" "/$m: leading-space name"
    assert_eq "$($C "$U/$m/trailing%20space.txt%20")" "trailing" "/$m: trailing-space name"
    $C "$U/$m/link-to-plain" -o "$W/got" && cmp -s "$W/got" "$src/plain.txt" ||
        fail "/$m: the symlink does not download its target"
    head -c 33333 "$src/random.bin" >"$W/part"
    $C -C - "$U/$m/random.bin" -o "$W/part" || fail "/$m: resumed download failed"
    cmp -s "$W/part" "$src/random.bin" || fail "/$m: resumed download differs"
    assert_eq "$($C -r 4294967313-4294967321 "$U/$m/sparse-5g.bin")" "past-4GiB" \
        "/$m: range above 4 GiB"
done

# Writes through the read-write mount reach the upstream whole, without partials left.
head -c 2500000 /dev/urandom >"$W/src.bin"
$C -T "$W/src.bin" "$U/legacy/empty-dir/up.bin" || fail "/legacy: upload failed"
cmp -s "$W/src.bin" "$up/empty-dir/up.bin" || fail "/legacy: uploaded bytes differ upstream"
leftover=$(ls -A "$up/empty-dir" | grep -v '^up.bin$')
assert_eq "$leftover" "" "/legacy: files left beside the upload"
out=$($C "$U/legacy/empty-dir/") || fail "LIST after upload"
assert_contains "$out" " up.bin" "/legacy: the upload is listed at once (cache dropped)"
$C "$U/legacy/empty-dir/up.bin" -o "$W/got" && cmp -s "$W/got" "$W/src.bin" ||
    fail "/legacy: the upload does not read back"
# An upload resumed with APPE (curl -C -) continues the upstream file.
head -c 1000000 "$W/src.bin" >"$W/head"
$C -T "$W/head" "$U/legacy/resume.bin" || fail "/legacy: first part upload"
$C -C - -T "$W/src.bin" "$U/legacy/resume.bin" || fail "/legacy: resumed upload"
cmp -s "$W/src.bin" "$up/resume.bin" || fail "/legacy: resumed upload differs upstream"

$C "$U/" -Q "MKD /legacy/made" >/dev/null || fail "/legacy: MKD"
[ -d "$up/made" ] || fail "/legacy: MKD did not reach the upstream"
$C "$U/" -Q "RNFR /legacy/resume.bin" -Q "RNTO /legacy/made/renamed.bin" >/dev/null ||
    fail "/legacy: RNFR/RNTO"
[ -f "$up/made/renamed.bin" ] && [ ! -e "$up/resume.bin" ] || fail "/legacy: rename upstream"
$C "$U/" -Q "DELE /legacy/made/renamed.bin" -Q "RMD /legacy/made" >/dev/null ||
    fail "/legacy: DELE + RMD"
[ ! -e "$up/made" ] || fail "/legacy: RMD did not reach the upstream"

# The read-only mount refuses every change and the upstream stays as it was.
before=$(cd "$ro" && find . -printf '%p %s\n' | sort)
$C -T "$W/head" "$U/old/up.bin" 2>/dev/null && fail "/old: upload accepted on a read-only mount"
$C "$U/" -Q "MKD /old/x" >/dev/null 2>&1 && fail "/old: MKD accepted on a read-only mount"
$C "$U/" -Q "DELE /old/plain.txt" >/dev/null 2>&1 && fail "/old: DELE accepted on a read-only mount"
after=$(cd "$ro" && find . -printf '%p %s\n' | sort)
assert_eq "$after" "$before" "/old: the read-only upstream changed"

# A dead upstream fails its own mount only; the server and the other mount go on.
peer_stop "$RW_PID"
sleep 2.5 # past cache_ttl
$C "$U/legacy/nested/" >/dev/null 2>&1 && fail "/legacy: listing succeeded with the upstream down"
$C "$U/old/plain.txt" -o "$W/got" && cmp -s "$W/got" "$ro/plain.txt" ||
    fail "/old stopped working when /legacy's upstream died"
$C "$U/" >/dev/null || fail "LIST / failed with an upstream down"

ferry_stop
echo "ok: mounts"
