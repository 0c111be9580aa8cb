# The legacy FTP peers of tests/peers/peers.sh really start, list, serve and (with a login)
# accept uploads, so that a broken peer set-up fails here, loudly, rather than as a
# mysterious failure of the client tests. Needs no ferry binary; needs root (peers.sh
# creates the users vsftpd and pure-ftpd insist on).
. tests/integration/lib.sh
. tests/peers/peers.sh

[ "$(id -u)" = 0 ] || fail "t_peers needs root (peer users, chroot)"

latin1=$(printf 'latin1-\351.txt')
names=(" leading space.txt" "trailing space.txt " "café.txt" "日本語.txt" "$latin1"
    "arrow -> name.txt" "link-to-plain" "empty-dir" "nested" "sparse-5g.bin" "old-2001.txt"
    "last-week.txt" "plain.txt" "random.bin")

check_peer() { # KIND MODE
    local kind=$1 mode=$2 tree=$FERRY_DIR/tree-$1-$2 list n got
    bash tests/peers/make_tree.sh "$tree" || fail "make_tree $tree"
    peer_start "$kind" "$tree" "$mode" || fail "$kind ($mode) did not start"
    local url=$PEER_URL what="$kind ($mode)"

    list=$(curl -sS --max-time 20 "$url") || fail "$what: LIST failed"
    for n in "${names[@]}"; do
        # LIST lines end with the name (a link with " -> target").
        printf '%s\n' "$list" | grep -qF -- " $n" || fail "$what: '$n' missing from LIST: $list"
    done

    got=$(curl -sS --max-time 20 "${url}plain.txt" | sha256sum)
    assert_eq "$got" "$(sha256sum <"$tree/plain.txt")" "$what: plain.txt content"
    got=$(curl -sS --max-time 20 "${url}nested/a/b/deep.bin" | sha256sum)
    assert_eq "$got" "$(sha256sum <"$tree/nested/a/b/deep.bin")" "$what: nested download"
    got=$(curl -sS --max-time 20 "${url}latin1-%E9.txt")
    assert_eq "$got" "latin1" "$what: download by raw Latin-1 name"
    got=$(curl -sS --max-time 20 "${url}%20leading%20space.txt")
    assert_eq "$got" "leading" "$what: download of a name with a leading space"
    # REST above 4 GiB.
    got=$(curl -sS --max-time 20 -r 4294967313-4294967321 "${url}sparse-5g.bin")
    assert_eq "$got" "past-4GiB" "$what: ranged download above 4 GiB"

    if [ "$mode" = user ]; then
        head -c 70000 /dev/urandom >"$FERRY_DIR/up.bin"
        curl -sS --max-time 20 -T "$FERRY_DIR/up.bin" "${url}empty-dir/up.bin" ||
            fail "$what: upload failed"
        cmp -s "$FERRY_DIR/up.bin" "$tree/empty-dir/up.bin" || fail "$what: uploaded bytes differ"
        rm -f "$tree/empty-dir/up.bin"
    else
        if curl -sS --max-time 20 -T "$FERRY_DIR/up.bin" "${url}up.bin" 2>/dev/null; then
            fail "$what: anonymous upload was accepted"
        fi
    fi
    peer_stop
    echo "ok: $what"
}

head -c 10 /dev/urandom >"$FERRY_DIR/up.bin"
for kind in pyftpdlib vsftpd pure-ftpd proftpd; do
    check_peer "$kind" user
    check_peer "$kind" anon
done

# The integrity tree and its minisign key.
bash tests/peers/make_tree.sh "$FERRY_DIR/itree" --integrity "$FERRY_DIR/keys" ||
    fail "make_tree --integrity"
(cd "$FERRY_DIR/itree" && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1) &&
    fail "integrity tree: the tampered file should not match SHA256SUMS"
minisign -Vm "$FERRY_DIR/itree/SHA256SUMS" -p "$FERRY_DIR/keys/minisign.pub" -q ||
    fail "integrity tree: SHA256SUMS signature does not verify"
minisign -Vm "$FERRY_DIR/itree/signed.bin" -p "$FERRY_DIR/keys/minisign.pub" -q ||
    fail "integrity tree: signed.bin signature does not verify"
echo "ok: integrity tree"
