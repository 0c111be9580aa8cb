#!/bin/bash
# ferry ls and ferry mirror against real legacy FTP servers from Debian (vsftpd,
# pure-ftpd, proftpd) and pyftpdlib, each serving the tricky tree of
# tests/peers/make_tree.sh: the listing shows exactly the tree, the mirror reproduces it
# byte for byte (the 5 GiB sparse file once, on vsftpd), a second run transfers nothing,
# and a connection cut mid-file (tests/integration/ftpcut.py) is resumed with REST.
. tests/integration/lib.sh
. tests/peers/peers.sh

PY=/usr/bin/python3
latin1=$(printf 'latin1-\351.txt')

check_server() { # KIND
    local kind=$1 tree=$FERRY_DIR/tree-$1 dst=$FERRY_DIR/dst-$1 out js
    bash tests/peers/make_tree.sh "$tree" >/dev/null || fail "make_tree"
    peer_start "$kind" "$tree" user || fail "$kind did not start"
    local url=$PEER_URL

    # The listing: every name, its type and size; dates to the day at least.
    out=$("$FERRY_BIN" ls --json "$url" 2>"$FERRY_DIR/ls.err") || fail "$kind: ferry ls: $(cat "$FERRY_DIR/ls.err")"
    printf '%s\n' "$out" | $PY -c '
import json, sys
kind = sys.argv[1]
rows = {r["name"]: r for r in map(json.loads, sys.stdin)}
want = {"plain.txt": ("file", 1000), "random.bin": ("file", 100000),
        " leading space.txt": ("file", None), "trailing space.txt ": ("file", None),
        "café.txt": ("file", None), "日本語.txt": ("file", None),
        "arrow -> name.txt": ("file", None), "link-to-plain": ("link", None),
        "empty-dir": ("dir", None), "nested": ("dir", None),
        "sparse-5g.bin": ("file", 5368709120), "old-2001.txt": ("file", None),
        "last-week.txt": ("file", None)}
for name, (typ, size) in want.items():
    r = rows.get(name)
    if r is None and name == "link-to-plain":
        continue  # some servers list the link as its target (followed)
    assert r, "%s: %r missing; got %r" % (kind, name, sorted(rows))
    if name == "link-to-plain":
        assert r["type"] in ("link", "file"), r
    else:
        assert r["type"] == typ, (kind, name, r)
    if size is not None:
        assert r["size"] == size, (kind, name, r)
assert rows["old-2001.txt"]["mtime"].startswith("2001-06-15"), rows["old-2001.txt"]
latin = [n for n in rows if n.startswith("latin1-")]
assert len(latin) == 1 and latin[0] != "latin1-.txt", latin
' "$kind" || fail "$kind: ferry ls does not show the tree: $out"

    # The mirror: byte for byte; the 5 GiB sparse file only once (it is 5 GiB of I/O).
    local ex=(--exclude sparse-5g.bin)
    [ "$kind" = vsftpd ] && ex=()
    "$FERRY_BIN" mirror "$url" "$dst" --verify none --quiet "${ex[@]}" ||
        fail "$kind: mirror failed"
    for f in plain.txt random.bin " leading space.txt" "trailing space.txt " café.txt \
        日本語.txt "arrow -> name.txt" nested/a/b/deep.bin old-2001.txt last-week.txt; do
        cmp -s "$tree/$f" "$dst/$f" || fail "$kind: mirrored '$f' differs"
    done
    ls "$dst" | grep -q '^latin1-' || fail "$kind: the Latin-1 name was not mirrored"
    [ -d "$dst/empty-dir" ] || fail "$kind: empty directory not mirrored"
    if [ "$kind" = vsftpd ]; then
        cmp -s "$tree/sparse-5g.bin" "$dst/sparse-5g.bin" || fail "sparse 5 GiB file differs"
        used=$(du -k "$dst/sparse-5g.bin" | cut -f1)
        [ "$used" -lt 65536 ] || fail "the mirrored sparse file is not sparse ($used KiB)"
    fi
    js=$("$FERRY_BIN" mirror "$url" "$dst" --verify none --json "${ex[@]}") || fail "$kind: second run"
    echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["transferred"]==0, s' ||
        fail "$kind: the second run transferred files: $js"

    # A connection cut mid-file resumes with REST on the next run, byte-identical.
    head -c 2000000 /dev/urandom > "$tree/cut.bin"
    chmod 644 "$tree/cut.bin"
    [ "$kind" = pure-ftpd ] || [ "$kind" = vsftpd ] && chown --reference="$tree/plain.txt" "$tree/cut.bin"
    local pport
    pport=$(free_port)
    $PY tests/integration/ftpcut.py "$pport" "$PEER_PORT" 700000 >/dev/null 2>&1 &
    local cutpid=$!
    _bg_pids="$_bg_pids $cutpid"
    for i in $(seq 50); do
        $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
            "$pport" 2>/dev/null && break
        sleep 0.1
    done
    local purl=${url/:$PEER_PORT\//:$pport/}
    "$FERRY_BIN" mirror "$purl" "$dst" --verify none --retries 0 --quiet "${ex[@]}" 2>"$FERRY_DIR/cut.err"
    assert_eq $? 75 "$kind: a cut connection is a temporary failure ($(cat "$FERRY_DIR/cut.err"))"
    [ ! -e "$dst/cut.bin" ] || fail "$kind: a cut download appeared under its real name"
    [ -s "$dst/cut.bin.ferry-part" ] || fail "$kind: no partial to resume: $(cat "$FERRY_DIR/cut.err")"
    js=$("$FERRY_BIN" mirror "$purl" "$dst" --verify none --json "${ex[@]}") ||
        fail "$kind: the resumed run failed"
    echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["resumed"]==1 and s["transferred"]==1, s' ||
        fail "$kind: not resumed: $js"
    cmp -s "$tree/cut.bin" "$dst/cut.bin" || fail "$kind: the resumed file differs"
    kill "$cutpid" 2>/dev/null
    peer_stop
    echo "$kind: ok"
}

for kind in vsftpd pure-ftpd proftpd pyftpdlib; do
    check_server "$kind"
done
echo "t_upstream: ok"
