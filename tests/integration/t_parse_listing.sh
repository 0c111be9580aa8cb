#!/bin/bash
# ferry parse-listing and detect-encoding against real LIST and MLSD replies: pyftpdlib
# (Debian's python3-pyftpdlib) serves a directory with awkward names on a loopback port, curl
# fetches the raw listings, and ferry must turn them back into exactly what is on disk. Then
# the CLI contract: output shape, --now, --listing, --encoding, exit codes.
set -u
FERRY_BIN=${FERRY_BIN:-build/dbg/ferry}
PY=/usr/bin/python3
tmp=$(mktemp -d "${FERRY_TEST_TMP:-/tmp}/t_parse_listing.XXXXXX") || exit 1
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ -x "$FERRY_BIN" ] || fail "no ferry binary at $FERRY_BIN"

# --- a directory with names that trip parsers up
root="$tmp/root"
mkdir -p "$root/dir one" || fail mkdir
printf '%0123d' 0 > "$root/plain.txt"
echo x > "$root/with  two spaces.txt"
echo y > "$root/ leading"
echo z > "$root/café.txt"
echo w > "$root/日本語.txt"
echo v > "$root/100%41.txt"
ln -s plain.txt "$root/link"
ln -s 'with  two spaces.txt' "$root/arrow -> name"
truncate -s 5G "$root/sparse.img"

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$PY -m pyftpdlib -i 127.0.0.1 -p "$port" -d "$root" > "$tmp/ftpd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "ftp://127.0.0.1:$port/" && break
    sleep 0.1
done
curl -sS "ftp://127.0.0.1:$port/" > "$tmp/list.raw" || fail "LIST through curl"
curl -sS -X MLSD "ftp://127.0.0.1:$port/" > "$tmp/mlsd.raw" || fail "MLSD through curl"
now=$(date +%Y-%m-%dT%H:%M)

# --- LIST and MLSD must both give the directory's entries, with sizes and types
check() { # $1 = raw file, $2 = which
    "$FERRY_BIN" parse-listing --now "$now" < "$1" > "$1.json" || fail "$2: parse-listing exited $?"
    $PY - "$1.json" "$2" <<'PYEOF' || fail "$2: entries differ (see above)"
import json, sys
path, kind = sys.argv[1], sys.argv[2]
got = {}
for line in open(path, encoding="utf-8"):
    e = json.loads(line)
    assert list(e) == ["name", "type", "size", "mtime", "target"], list(e)
    got[e["name"]] = e
want = {
    "plain.txt": ("file", 123), "with  two spaces.txt": ("file", 2), " leading": ("file", 2),
    "café.txt": ("file", 2), "日本語.txt": ("file", 2), "100%2541.txt": ("file", 2),
    "dir one": ("dir", None), "sparse.img": ("file", 5368709120),
    "link": ("link" if kind == "LIST" else "file", None),
    "arrow -> name": ("link" if kind == "LIST" else "file", None),
}
bad = False
if set(got) != set(want):
    print("names differ:", sorted(set(got) ^ set(want)), file=sys.stderr)
    bad = True
for name, (typ, size) in want.items():
    e = got.get(name)
    if not e:
        continue
    if e["type"] != typ or (size is not None and e["size"] != size) or e["mtime"] is None:
        print("wrong entry:", e, "want", typ, size, file=sys.stderr)
        bad = True
if kind == "LIST":
    if got.get("link", {}).get("target") != "plain.txt":
        print("link target:", got.get("link"), file=sys.stderr); bad = True
    if got.get("arrow -> name", {}).get("target") != "with  two spaces.txt":
        print("arrow target:", got.get("arrow -> name"), file=sys.stderr); bad = True
sys.exit(1 if bad else 0)
PYEOF
}
check "$tmp/list.raw" LIST
check "$tmp/mlsd.raw" MLSD

# --- the same LIST fed through every forced format other than unix yields nothing
out=$("$FERRY_BIN" parse-listing --listing dos --now "$now" < "$tmp/list.raw") || fail "--listing dos exited $?"
[ -z "$out" ] || fail "a Unix listing parsed as DOS: $out"

# --- year-less dates follow --now
printf -- '-rw-r--r-- 1 u g 5 Dec 31 23:59 a\r\n' > "$tmp/y.raw"
out=$("$FERRY_BIN" parse-listing --now 2024-01-01T00:30 < "$tmp/y.raw")
[ "$out" = '{"name": "a", "type": "file", "size": 5, "mtime": "2023-12-31T23:59", "target": null}' ] ||
    fail "--now: $out"
out=$("$FERRY_BIN" parse-listing --now 2024-12-31T23:59 < "$tmp/y.raw")
[ "$out" = '{"name": "a", "type": "file", "size": 5, "mtime": "2024-12-31T23:59", "target": null}' ] ||
    fail "--now (same year): $out"

# --- legacy names: detected, decoded, and undecodable bytes kept as %HH
printf -- '-rw-r--r-- 1 u g 5 Mar  1  2020 R\xe9sum\xe9.doc\n-rw-r--r-- 1 u g 6 Mar  1  2020 readme\n' > "$tmp/l1.raw"
out=$("$FERRY_BIN" parse-listing < "$tmp/l1.raw" | head -n 1)
[ "$out" = '{"name": "Résumé.doc", "type": "file", "size": 5, "mtime": "2020-03-01", "target": null}' ] ||
    fail "windows-1252 name: $out"
out=$("$FERRY_BIN" parse-listing --encoding UTF-8 < "$tmp/l1.raw" | head -n 1)
[ "$out" = '{"name": "R%E9sum%E9.doc", "type": "file", "size": 5, "mtime": "2020-03-01", "target": null}' ] ||
    fail "escaped name: $out"
out=$("$FERRY_BIN" detect-encoding < "$tmp/l1.raw")
[ "$(echo "$out" | sed -n 1p)" = windows-1252 ] || fail "detect-encoding: $out"
echo "$out" | sed -n 2p | grep -Eq '^(0\.[0-9][0-9]|1\.00)$' || fail "confidence line: $out"
[ "$(echo "$out" | wc -l)" = 2 ] || fail "detect-encoding prints two lines: $out"
src=${FERRY_SRC:-.}
for c in ru.KOI8-R ru.IBM866 ja.Shift_JIS ja.EUC-JP zh_TW.Big5 ko.EUC-KR el.windows-1253 pl.windows-1250 he.windows-1255 th.windows-874; do
    want=${c#*.}
    got=$("$FERRY_BIN" detect-encoding < "$src/tests/data/encodings/cases/$c.list" | head -n 1)
    [ "$got" = "$want" ] || fail "detect-encoding $c: $got"
done
out=$("$FERRY_BIN" detect-encoding < "$tmp/y.raw" | head -n 1)
[ "$out" = US-ASCII ] || fail "ASCII input: $out"
out=$("$FERRY_BIN" detect-encoding < "$tmp/mlsd.raw" | head -n 1)
[ "$out" = UTF-8 ] || fail "pyftpdlib names: $out"

# --- exit codes
"$FERRY_BIN" parse-listing --help > "$tmp/help" || fail "--help exited $?"
grep -q 'parse-listing' "$tmp/help" || fail "--help text"
"$FERRY_BIN" detect-encoding --help > /dev/null || fail "detect-encoding --help exited $?"
for args in "--listing nosuch" "--encoding nosuch" "--now yesterday" "--bogus" "extra-arg"; do
    # shellcheck disable=SC2086
    "$FERRY_BIN" parse-listing $args < /dev/null > /dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "parse-listing $args exited $rc, not 2"
done
"$FERRY_BIN" detect-encoding --hint nosuch < /dev/null > /dev/null 2>&1
[ $? -eq 2 ] || fail "detect-encoding --hint nosuch"
"$FERRY_BIN" parse-listing < /dev/null > "$tmp/empty" || fail "empty input exited $?"
[ ! -s "$tmp/empty" ] || fail "empty input printed something"
echo "t_parse_listing: ok"
