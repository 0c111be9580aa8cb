#!/bin/bash
# ferry ls / get / mirror against a real FTP server (pyftpdlib): exact listing, byte-for-
# byte mirror, nothing transferred twice, resume after the server dies mid-file, the
# cron lock, --dry-run, --delete to the trash, anonymous verification and quarantine.
. tests/integration/lib.sh

PY=/usr/bin/python3
SRC=$FERRY_DIR/src
mkdir -p "$SRC/sub/deeper" "$SRC/empty"
head -c 700000 /dev/urandom > "$SRC/big.bin"
printf 'hello\n' > "$SRC/ with spaces "
printf 'x' > "$SRC/sub/deeper/one.txt"
printf 'caf\xc3\xa9\n' > "$SRC/café.txt"
touch -d '2001-02-03 04:05' "$SRC/sub/deeper/one.txt"

port=$(free_port)
start_ftp() { # [bytes per second]
    $PY tests/integration/pyftpd_mirror.py "$port" "$SRC" "$@" >>"$FERRY_DIR/ftpd.log" 2>&1 &
    FTPD=$!
    _bg_pids="$_bg_pids $FTPD"
    for i in $(seq 50); do curl -s "ftp://127.0.0.1:$port/" >/dev/null && return 0; sleep 0.1; done
    fail "pyftpdlib did not start"
}
start_ftp
URL="ftp://u:p@127.0.0.1:$port/"

# ferry ls: names (spaces kept), types, sizes, dates to the minute, UTF-8.
out=$("$FERRY_BIN" ls --json "$URL") || fail "ferry ls"
echo "$out" | $PY -c '
import json, sys, os, time
rows = {r["name"]: r for r in map(json.loads, sys.stdin)}
want = {" with spaces ": ("file", 6), "big.bin": ("file", 700000), "café.txt": ("file", 6),
        "sub": ("dir", None), "empty": ("dir", None)}
for name, (typ, size) in want.items():
    r = rows.get(name)
    assert r, "missing %r in %r" % (name, sorted(rows))
    assert r["type"] == typ, (name, r)
    if size is not None:
        assert r["size"] == size, (name, r)
m = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(os.stat(sys.argv[1] + "/big.bin").st_mtime))
assert rows["big.bin"]["mtime"] == m, (rows["big.bin"]["mtime"], m)
' "$SRC" || fail "ferry ls --json does not match the tree"
"$FERRY_BIN" ls "ftp://u:p@127.0.0.1:$port/sub/deeper/" | grep -q '2001-02-03 04:05  one.txt' ||
    fail "ferry ls table lacks the 2001 date"
"$FERRY_BIN" ls "ftp://u:wrong@127.0.0.1:$port/" 2>/dev/null; assert_eq $? 1 "bad login exit code"
"$FERRY_BIN" ls "ftp://u:p@127.0.0.1:1/" 2>/dev/null; assert_eq $? 75 "connection refused is temporary"
"$FERRY_BIN" ls "http://x/" 2>/dev/null; assert_eq $? 2 "usage error exit code"

# ferry mirror: byte for byte; a second run transfers nothing.
DST=$FERRY_DIR/dst
"$FERRY_BIN" mirror "$URL" "$DST" --quiet || fail "first mirror"
diff -r "$SRC" "$DST" -x .ferry-mirror.lock >/dev/null || fail "mirror differs from the source"
assert_eq "$(stat -c %Y "$DST/sub/deeper/one.txt")" "$(stat -c %Y "$SRC/sub/deeper/one.txt")" \
    "mirror keeps modification times"
js=$("$FERRY_BIN" mirror "$URL" "$DST" --json) || fail "second mirror"
echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["transferred"]==0 and s["skipped"]==4, s' ||
    fail "second run transferred something: $js"
[ -z "$("$FERRY_BIN" mirror "$URL" "$DST" --quiet)" ] || fail "--quiet printed on success"
# One connection or several: the same tree, no part left behind, every file counted once.
for p in 1 8; do
    js=$("$FERRY_BIN" mirror "$URL" "$FERRY_DIR/par$p" --parallel $p --json) ||
        fail "mirror --parallel $p"
    echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["transferred"]==4 and s["failed"]==0, s' ||
        fail "mirror --parallel $p summary: $js"
    diff -r "$SRC" "$FERRY_DIR/par$p" -x .ferry-mirror.lock >/dev/null ||
        fail "mirror --parallel $p differs from the source"
    [ -z "$(find "$FERRY_DIR/par$p" -name '*.ferry-part')" ] || fail "--parallel $p left parts"
done
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/par0" --parallel 0 2>/dev/null
assert_eq $? 2 "--parallel 0 is a usage error"

# --dry-run plans without changing; --delete moves to the trash.
printf 'new' > "$SRC/new.txt"
echo "stale" > "$DST/gone.txt"
plan=$("$FERRY_BIN" mirror "$URL" "$DST" --dry-run --delete)
assert_contains "$plan" "get new.txt" "dry-run plans the new file"
assert_contains "$plan" "delete gone.txt" "dry-run plans the deletion"
[ ! -e "$DST/new.txt" ] && [ -e "$DST/gone.txt" ] || fail "dry-run changed something"
"$FERRY_BIN" mirror "$URL" "$DST" --delete --quiet || fail "mirror --delete"
[ -e "$DST/new.txt" ] && [ ! -e "$DST/gone.txt" ] || fail "--delete did not apply"
ls "$DST"/.ferry-trash/*/gone.txt >/dev/null 2>&1 || fail "deleted file not kept in the trash"

# Cron lock: a second run while one holds the lock exits 4 at once.
exec 9>"$DST/.ferry-mirror.lock"
flock 9
"$FERRY_BIN" mirror "$URL" "$DST" 2>/dev/null; assert_eq $? 4 "concurrent mirror exit code"
flock -u 9
exec 9>&-

# Resume: the server dies mid-file; the next run continues with REST, byte-identical.
kill "$FTPD"; wait "$FTPD" 2>/dev/null
head -c 3000000 /dev/urandom > "$SRC/slow.bin"
start_ftp 400000
DST2=$FERRY_DIR/dst2
"$FERRY_BIN" mirror "$URL" "$DST2" --retries 0 --quiet 2>/dev/null &
mpid=$!
sleep 2.5
kill -9 "$FTPD"
wait "$mpid"; rc=$?
assert_eq $rc 75 "mirror cut off by a dead server exits 75"
[ ! -e "$DST2/slow.bin" ] || fail "a partial download appeared under its real name"
part=$(stat -c %s "$DST2/slow.bin.ferry-part" 2>/dev/null || echo 0)
[ "$part" -gt 0 ] && [ "$part" -lt 3000000 ] || fail "no resumable partial ($part bytes)"
start_ftp
js=$("$FERRY_BIN" mirror "$URL" "$DST2" --json) || fail "resumed mirror failed"
echo "$js" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["resumed"]==1, s' ||
    fail "the partial was not resumed: $js"
cmp -s "$SRC/slow.bin" "$DST2/slow.bin" || fail "resumed file differs"
[ ! -e "$DST2/slow.bin.ferry-part" ] || fail "partial left behind"

# ferry get: one file, -o, resume not needed, progress silent when not a TTY.
"$FERRY_BIN" get "ftp://u:p@127.0.0.1:$port/sub/deeper/one.txt" -o "$FERRY_DIR/one.txt" --quiet ||
    fail "ferry get"
cmp -s "$SRC/sub/deeper/one.txt" "$FERRY_DIR/one.txt" || fail "ferry get content"
"$FERRY_BIN" get "ftp://u:p@127.0.0.1:$port/nope.txt" -o "$FERRY_DIR/nope" 2>/dev/null
assert_eq $? 1 "get of a missing file"

# Anonymous: nothing unverified is exposed. Evidence: SHA256SUMS signed with minisign.
PUB=$FERRY_DIR/src-pub
mkdir -p "$PUB"
printf 'good content\n' > "$PUB/good.txt"
printf 'original\n' > "$PUB/tampered.txt"
printf 'no evidence\n' > "$PUB/orphan.txt"
(cd "$PUB" && sha256sum good.txt tampered.txt > SHA256SUMS)
printf 'evil\n' > "$PUB/tampered.txt"
minisign -G -W -p "$FERRY_DIR/mini.pub" -s "$FERRY_DIR/mini.key" >/dev/null 2>&1 || fail "minisign -G"
minisign -S -s "$FERRY_DIR/mini.key" -m "$PUB/SHA256SUMS" >/dev/null 2>&1 || fail "minisign -S"
kill "$FTPD"; wait "$FTPD" 2>/dev/null
SRC=$PUB start_ftp
ANON="ftp://127.0.0.1:$port/"
DST3=$FERRY_DIR/dst3
"$FERRY_BIN" mirror "$ANON" "$DST3" --key "$FERRY_DIR/mini.pub" --quiet 2>"$FERRY_DIR/m.err"
assert_eq $? 3 "anonymous mirror with a tampered file exits 3"
cmp -s "$PUB/good.txt" "$DST3/good.txt" || fail "verified file not exposed"
[ ! -e "$DST3/tampered.txt" ] || fail "tampered file exposed"
[ ! -e "$DST3/orphan.txt" ] || fail "unverifiable file exposed"
[ -e "$DST3/.ferry-quarantine/tampered.txt" ] || fail "tampered file not quarantined"
grep -q 'mismatch' "$DST3/.ferry-quarantine/tampered.txt.reason" || fail "quarantine reason"
grep -q 'tampered.txt' "$FERRY_DIR/m.err" || fail "the failure is reported"
# A wrong key verifies nothing.
minisign -G -W -p "$FERRY_DIR/other.pub" -s "$FERRY_DIR/other.key" >/dev/null 2>&1
"$FERRY_BIN" get "${ANON}good.txt" -o "$FERRY_DIR/g2.txt" --key "$FERRY_DIR/other.pub" --quiet 2>/dev/null
assert_eq $? 3 "wrong key is a verification failure"
[ ! -e "$FERRY_DIR/g2.txt" ] || fail "file verified with the wrong key exposed"
# Without a key, the same-channel manifest is accepted but called weak.
"$FERRY_BIN" get "${ANON}good.txt" -o "$FERRY_DIR/g3.txt" 2>"$FERRY_DIR/g3.err" >/dev/null ||
    fail "weak verification should pass"
grep -q weak "$FERRY_DIR/g3.err" || fail "weak verification not reported"
"$FERRY_BIN" get "${ANON}orphan.txt" -o "$FERRY_DIR/o.txt" --verify none --quiet ||
    fail "--verify none accepts unverified files"
# Files of 16 MiB and more are hashed by a second thread reading back what was written,
# including a file that ends in a hole (written by seeking, sized by ftruncate): the
# audit records carry each file's true SHA-256 and the hole stays a hole.
kill "$FTPD" 2>/dev/null
wait "$FTPD" 2>/dev/null
rm -rf "$SRC"/* "$SRC"/" with spaces "
head -c $((20 << 20)) /dev/urandom > "$SRC/large.bin"
{ head -c $((17 << 20)) /dev/urandom; head -c $((30 << 20)) /dev/zero; } > "$SRC/holey.bin"
start_ftp
mkdir -m 700 "$FERRY_DIR/hstate"
"$FERRY_BIN" mirror "$URL" "$FERRY_DIR/hdst" --quiet --state "$FERRY_DIR/hstate" ||
    fail "mirror of large files"
for f in large.bin holey.bin; do
    cmp -s "$SRC/$f" "$FERRY_DIR/hdst/$f" || fail "$f differs"
    want=$(sha256sum < "$SRC/$f" | cut -d' ' -f1)
    grep -F "/hdst/$f\"" "$FERRY_DIR/hstate/audit.jsonl" | grep -qF "\"sha256\":\"$want\"" ||
        fail "$f: audit record lacks its sha256 $want"
done
[ "$(du -k "$FERRY_DIR/hdst/holey.bin" | cut -f1)" -lt 30000 ] || fail "the trailing hole was filled"
echo "t_mirror: ok"
