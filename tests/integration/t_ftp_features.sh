#!/bin/bash
# FTP features beyond the RFC 959 core, with Python ftplib and curl:
# - per-user ftp_client_encoding ([user NAME] sections): one user's legacy client gets
#   windows-1251, another's GBK, everyone else UTF-8; names that cannot be represented
#   are escaped and still reachable
# - REIN before and after a login, on plain and TLS control connections
# - RANG + HASH (draft-bryan-ftpext-hash) and HASH/XSHA256 answered from the file's
#   cached hash (user.ferry.sha256) without reading the file
# - audit sha256 of a large download hashed behind sendfile, and hash_transfers = no
# - curl resuming a sparse file above 4 GiB both ways (REST and APPE above 4 GiB)
# - the rarer verbs: XMKD/XCWD/XPWD/XCUP/XRMD, XSHA512, SMNT, CLNT, EPSV ALL
. tests/integration/lib.sh
PY=${PYTHON:-/usr/bin/python3}
W=$FERRY_DIR/work
mkdir -p "$W"
restart() {
    ferry_stop
    mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$SECONDS.$RANDOM"
    ferry_start "$@"
}
drive() { # SCENARIO USER PASS ARGS...
    "$PY" tests/integration/ftp_client.py "$1" 127.0.0.1 "$FTP_PORT" "${@:2}" >"$FERRY_DIR/py.log" 2>&1 &&
        echo "$1: $(grep -c "^ok" "$FERRY_DIR/py.log") checks" ||
        { cat "$FERRY_DIR/py.log" >&2; fail "ftp_client.py $1"; }
}

cat >"$W/ferry.conf" <<'CONF'
[server]
ftp_allow_plaintext = yes

[user dave]
ftp_client_encoding = windows-1251

[user erin]
ftp_client_encoding = GBK
CONF
"$FERRY_BIN" serve --config "$W/ferry.conf" --check-config >/dev/null ||
    fail "--check-config refuses [user NAME] sections"
printf '[user dave]\nftp_client_encoding = no-such-charset\n' >"$W/bad.conf"
out=$("$FERRY_BIN" serve --config "$W/bad.conf" --root "$FERRY_ROOT" --state "$FERRY_STATE" \
    --listen 127.0.0.1 --ftp-port "$(free_port)" --sftp-port 0 --https-port 0 2>&1) &&
    fail "an unknown per-user charset was accepted"
assert_contains "$out" "no-such-charset" "unknown per-user charset named in the error"
printf '[user dave]\nlisting = unix\n' >"$W/bad2.conf"
out=$("$FERRY_BIN" serve --config "$W/bad2.conf" --check-config 2>&1) &&
    fail "an unknown key in [user] was accepted"
assert_contains "$out" "bad2.conf:2" "unknown [user] key reported with file:line"

ferry_start --config "$W/ferry.conf"
for u in carol dave erin; do
    ferry_user_add $u "$u-pw" --home /shared
done
mkdir -p "$FERRY_ROOT/shared"
printf 'zh\n' >"$FERRY_ROOT/shared/中文.txt"
printf 'ru\n' >"$FERRY_ROOT/shared/Привет.txt"
printf 'de\n' >"$FERRY_ROOT/shared/Grüße.txt"
printf 'smile\n' >"$FERRY_ROOT/shared/emoji-😀.txt"

# ---- per-user encodings ---------------------------------------------------------------
drive encoding-user dave dave-pw cp1251 Привет.txt
[ -f "$FERRY_ROOT/shared/Привет-up.txt" ] || fail "cp1251 upload not stored under its UTF-8 name"
drive encoding-user erin erin-pw gbk 中文.txt Привет.txt
[ -f "$FERRY_ROOT/shared/中文-up.txt" ] || fail "GBK upload not stored under its UTF-8 name"
# The raw bytes on the wire, not only what Python decodes: dave's NLST is cp1251,
# with the Chinese names escaped as %XX of their UTF-8 bytes.
"$PY" - "$FTP_PORT" <<'PY' || fail "raw cp1251 listing"
import ftplib, io, sys
f = ftplib.FTP(timeout=30, encoding="latin-1")  # latin-1: the bytes as they come
f.connect("127.0.0.1", int(sys.argv[1])); f.login("dave", "dave-pw")
raw = [n.encode("latin-1") for n in f.nlst()]
assert "Привет.txt".encode("cp1251") in raw, raw
assert b"%E4%B8%AD%E6%96%87.txt" in raw, raw
assert b"Gr%C3%BC%C3%9Fe.txt" in raw, raw  # no u-umlaut nor sharp s in cp1251
f.quit()
PY
# carol has no override: UTF-8 names, raw.
"$PY" - "$FTP_PORT" <<'PY' || fail "carol should get UTF-8"
import ftplib, sys
f = ftplib.FTP(timeout=30, encoding="utf-8")
f.connect("127.0.0.1", int(sys.argv[1])); f.login("carol", "carol-pw")
names = f.nlst()
for n in ("中文.txt", "Привет.txt", "Grüße.txt", "Привет-up.txt", "中文-up.txt"):
    assert n in names, (n, names)
assert not [n for n in names if "%" in n], names
f.quit()
PY
# OPTS UTF8 ON switches dave's session to UTF-8 names.
"$PY" - "$FTP_PORT" <<'PY' || fail "OPTS UTF8 ON for a per-user charset"
import ftplib, sys
f = ftplib.FTP(timeout=30, encoding="utf-8")
f.connect("127.0.0.1", int(sys.argv[1])); f.login("dave", "dave-pw"); f.sendcmd("OPTS UTF8 ON")
assert "中文.txt" in f.nlst()
f.quit()
PY
echo "per-user encodings: ok"

# ---- REIN -----------------------------------------------------------------------------
drive rein carol carol-pw
drive rein carol carol-pw tls

# ---- HASH: ranges and the cached hash -------------------------------------------------
mkdir -p "$FERRY_ROOT/carol"
ferry_user_add hank hank-pw
mkdir -p "$FERRY_ROOT/hank"
head -c 3000000 /dev/urandom >"$FERRY_ROOT/hank/r.bin"
drive hash-range hank hank-pw r.bin
drive extras hank hank-pw
# The whole-file HASH above left the hash in the file's attribute.
getx() { "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.ferry.sha256").decode())' "$1"; }
val=$(getx "$FERRY_ROOT/hank/r.bin") || fail "no user.ferry.sha256 after HASH"
want=$(sha256sum <"$FERRY_ROOT/hank/r.bin" | cut -c1-64)
assert_eq "${val%% *}" "$want" "cached hash"
# HASH and XSHA256 answer from that cache without reading the file: a forged entry
# (same size and mtime, so still "valid") shows up in the replies.
forged=$(printf '%064d' 7)
"$PY" -c 'import os,sys; p=sys.argv[1]; v=os.getxattr(p,"user.ferry.sha256").decode().split(" ",1)
os.setxattr(p, "user.ferry.sha256", (sys.argv[2]+" "+v[1]).encode())' "$FERRY_ROOT/hank/r.bin" "$forged"
out=$(curl -sS "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/" -Q "HASH r.bin" -Q "XSHA256 r.bin" -l -v 2>&1)
assert_contains "$out" "213 SHA-256 0-3000000 $forged r.bin" "HASH from the cached attribute"
assert_contains "$out" "250 $forged" "XSHA256 from the cached attribute"
# Other algorithms and ranges are computed from the bytes.
assert_contains "$(curl -sS "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/" -Q "XMD5 r.bin" -l -v 2>&1)" \
    "250 $(md5sum <"$FERRY_ROOT/hank/r.bin" | cut -c1-32)" "XMD5 computed"
# A change of content (new mtime) makes the cache stale: the real hash again.
touch -d '2001-01-01' "$FERRY_ROOT/hank/r.bin"
out=$(curl -sS "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/" -Q "XSHA256 r.bin" -l -v 2>&1)
assert_contains "$out" "250 $want" "stale cache ignored"
echo "hash cache: ok"

# ---- audit sha256 of transfers hashed behind the send ---------------------------------
head -c 40000000 /dev/urandom >"$W/big.bin"
cp "$W/big.bin" "$FERRY_ROOT/hank/big.bin"
bsum=$(sha256sum <"$W/big.bin" | cut -c1-64)
curl -sS "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/big.bin" -o "$W/got.bin" || fail "RETR big.bin"
cmp -s "$W/big.bin" "$W/got.bin" || fail "RETR big.bin differs"
curl -sS --ssl-reqd -k "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/big.bin" -o "$W/got2.bin" ||
    fail "TLS RETR big.bin"
curl -sS -T "$W/big.bin" "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/up.bin" || fail "STOR up.bin"
# Records are written once the hash caught up (at the latest when the session ends).
for i in $(seq 100); do
    [ "$(grep -c "\"sha256\":\"$bsum\"" "$FERRY_STATE/audit.jsonl")" -ge 3 ] && break
    sleep 0.1
done
n=$(grep '"path":"/big.bin"' "$FERRY_STATE/audit.jsonl" | grep '"event":"download"' |
    grep -c "\"sha256\":\"$bsum\"")
[ "$n" -ge 2 ] || fail "download records lack the right sha256 ($n)"
grep '"path":"/up.bin"' "$FERRY_STATE/audit.jsonl" | grep -q "\"sha256\":\"$bsum\"" ||
    fail "upload record lacks the right sha256"
assert_eq "$(getx "$FERRY_ROOT/hank/up.bin" | cut -c1-64)" "$bsum" "upload cached its hash"
# hash_transfers = no: same transfers, no sha256 in the records, nothing cached.
restart --config "$W/ferry.conf" --set hash_transfers=no
cp "$W/big.bin" "$FERRY_ROOT/hank/big2.bin"
curl -sS "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/big2.bin" -o "$W/got3.bin" || fail "RETR big2"
cmp -s "$W/big.bin" "$W/got3.bin" || fail "RETR big2 differs"
curl -sS -T "$W/big.bin" "ftp://hank:hank-pw@127.0.0.1:$FTP_PORT/up2.bin" || fail "STOR up2.bin"
for i in $(seq 50); do
    grep -q '"path":"/up2.bin"' "$FERRY_STATE/audit.jsonl" &&
        grep -q '"path":"/big2.bin"' "$FERRY_STATE/audit.jsonl" && break
    sleep 0.1
done
grep -E '"path":"/(big2|up2).bin"' "$FERRY_STATE/audit.jsonl" | grep -q sha256 &&
    fail "hash_transfers = no still hashed"
getx "$FERRY_ROOT/hank/up2.bin" 2>/dev/null && fail "hash_transfers = no still cached a hash"
echo "transfer hashing: ok"

# ---- curl and a sparse file above 4 GiB -----------------------------------------------
big=$((5 * 1024 * 1024 * 1024 + 12345))
truncate -s $big "$FERRY_ROOT/hank/huge.bin"
printf 'TAIL-OF-HUGE' | dd of="$FERRY_ROOT/hank/huge.bin" bs=1 seek=$((big - 12)) conv=notrunc 2>/dev/null
U="ftp://hank:hank-pw@127.0.0.1:$FTP_PORT"
curl -sS "$U/" | grep -q " $big .*huge.bin" || fail "LIST does not show the true size $big"
# A download resumed above 4 GiB: curl -C OFFSET sends REST OFFSET.
off=$((big - 100))
curl -sS -C $off "$U/huge.bin" -o "$W/tail.bin" || fail "curl -C above 4 GiB"
assert_eq "$(stat -c %s "$W/tail.bin")" 100 "bytes after REST above 4 GiB"
tail -c 12 "$W/tail.bin" | grep -q TAIL-OF-HUGE || fail "wrong bytes after REST above 4 GiB"
# An upload resumed above 4 GiB: curl -C - asks SIZE and sends the rest with APPE.
cp --sparse=always "$FERRY_ROOT/hank/huge.bin" "$W/huge-local.bin"
printf 'MORE-AFTER-5GIB' >>"$W/huge-local.bin"
curl -sS -C - -T "$W/huge-local.bin" "$U/huge.bin" || fail "curl -C - -T above 4 GiB"
assert_eq "$(stat -c %s "$FERRY_ROOT/hank/huge.bin")" $((big + 15)) "size after resumed upload"
tail -c 27 "$FERRY_ROOT/hank/huge.bin" | grep -q 'TAIL-OF-HUGEMORE-AFTER-5GIB' ||
    fail "resumed upload above 4 GiB wrote the wrong bytes"
grep '"path":"/huge.bin"' "$FERRY_STATE/audit.jsonl" | grep '"event":"upload"' |
    grep -q "\"offset\":$big" || fail "audit offset above 4 GiB (curl)"
rm -f "$FERRY_ROOT/hank/huge.bin" "$W/huge-local.bin"
echo "above 4 GiB with curl: ok"

ferry_stop
! grep -q 'Sanitizer\|runtime error' "$FERRY_DIR"/serve.log* || fail "sanitizer report in serve.log"
echo "t_ftp_features: ok"
