#!/bin/bash
# WebDAV on HTTPS with curl: PUT/GET/DELETE status codes, a sparse file above 4 GiB up
# and down (with a range beyond 4 GiB), `-C -` resumed download, `-r` ranges (single,
# suffix, open, multiple -> multipart/byteranges, unsatisfiable -> 416), If-Range
# match and mismatch, conditional requests (304, 412), PROPFIND depth rules, collections
# (MKCOL, MOVE, COPY, DELETE) and their audit records, Repr-Digest, a PUT killed midway
# that leaves no complete-looking file and is finished byte-identical by a
# `Content-Range` resumed PUT, the IETF resumable-upload flow (PATCH + Upload-Offset),
# and Expect: 100-continue on a forbidden PUT (no body bytes sent).
. tests/integration/lib.sh

ferry_start
ferry_user_add alice 'alice-pw'
ferry_user_add reader 'reader-pw' --read-only
B="https://127.0.0.1:$HTTPS_PORT"
C="curl -sS -k --max-time 300 -u alice:alice-pw"
W=$FERRY_DIR/work
A=$FERRY_ROOT/alice
mkdir -p "$W"
code() { $C -o /dev/null -w '%{http_code}' "$@"; }
hdr() { # hdr NAME [curl args]: value of a response header (last response)
    local name=$1
    shift
    $C -D - -o /dev/null "$@" | tr -d '\r' | awk -v n="$name" 'BEGIN{IGNORECASE=1}
        index(tolower($0), tolower(n) ":") == 1 { sub(/^[^:]*: */, ""); v = $0 } END { print v }'
}

# Small files: create, replace, read, delete.
head -c 100000 /dev/urandom >"$W/small.bin"
assert_eq "$(code -T "$W/small.bin" "$B/small.bin")" 201 "PUT new"
assert_eq "$(code -T "$W/small.bin" "$B/small.bin")" 204 "PUT replace"
cmp -s "$W/small.bin" "$A/small.bin" || fail "PUT content"
$C "$B/small.bin" -o "$W/got" && cmp -s "$W/small.bin" "$W/got" || fail "GET content"
assert_eq "$(code -X PUT --data-binary @"$W/small.bin" "$B/nodir/x")" 409 "PUT without parent"
assert_eq "$(code -X DELETE "$B/small.bin")" 204 "DELETE"
assert_eq "$(code "$B/small.bin")" 404 "GET after DELETE"
assert_eq "$(code -X DELETE "$B/small.bin")" 404 "DELETE again"
assert_eq "$(curl -sk -o /dev/null -w '%{http_code}' "$B/")" 401 "no credentials"
assert_contains "$(curl -sk -D - -o /dev/null "$B/")" 'WWW-Authenticate: Basic' "401 challenge"
assert_eq "$(curl -sk -u alice:wrong -o /dev/null -w '%{http_code}' "$B/")" 401 "bad password"

# Chunked upload (no length known in advance).
head -c 300000 /dev/urandom >"$W/chunked.bin"
assert_eq "$(cat "$W/chunked.bin" | code -T - -H 'Transfer-Encoding: chunked' "$B/chunked.bin")" 201 \
    "chunked PUT"
cmp -s "$W/chunked.bin" "$A/chunked.bin" || fail "chunked PUT content"

# Ranges on a 1 MB file.
head -c 1000000 /dev/urandom >"$W/r.bin"
$C -T "$W/r.bin" "$B/r.bin" || fail "PUT r.bin"
assert_eq "$($C -r 100-199 "$B/r.bin" | cmp - <(dd if="$W/r.bin" bs=1 skip=100 count=100 2>/dev/null) && echo same)" same "range 100-199"
assert_eq "$(code -r 100-199 "$B/r.bin")" 206 "range status"
assert_eq "$(hdr Content-Range -r 100-199 "$B/r.bin")" "bytes 100-199/1000000" "Content-Range"
$C -r -100 "$B/r.bin" | cmp -s - <(tail -c 100 "$W/r.bin") || fail "suffix range"
$C -r 999000- "$B/r.bin" | cmp -s - <(tail -c 1000 "$W/r.bin") || fail "open range"
assert_eq "$(code -r 2000000- "$B/r.bin")" 416 "unsatisfiable range"
assert_eq "$(hdr Content-Range -r 2000000- "$B/r.bin")" "bytes */1000000" "416 Content-Range"
multi=$($C -D "$W/mh" -r 0-9,500-509 "$B/r.bin" | wc -c)
assert_contains "$(cat "$W/mh")" "multipart/byteranges; boundary=" "multipart type"
grep -qi "^Content-Length: $multi" "$W/mh" || fail "multipart length $multi"
assert_eq "$(code -r x-y "$B/r.bin")" 200 "malformed Range ignored"

# If-Range: the current ETag or Last-Modified keeps the range, anything else gets 200.
etag=$(hdr ETag -I "$B/r.bin")
lm=$(hdr Last-Modified -I "$B/r.bin")
assert_eq "$(code -r 0-9 -H "If-Range: $etag" "$B/r.bin")" 206 "If-Range matching ETag"
assert_eq "$(code -r 0-9 -H "If-Range: $lm" "$B/r.bin")" 206 "If-Range matching date"
assert_eq "$(code -r 0-9 -H 'If-Range: "0-0-0"' "$B/r.bin")" 200 "If-Range mismatch"
assert_eq "$($C -r 0-9 -H 'If-Range: "0-0-0"' "$B/r.bin" | wc -c)" 1000000 "If-Range mismatch body"
assert_eq "$(code -r 0-9 -H "If-Range: W/$etag" "$B/r.bin")" 200 "weak If-Range never matches"

# Conditional requests.
assert_eq "$(code -H "If-None-Match: $etag" "$B/r.bin")" 304 "If-None-Match"
assert_eq "$(code -H "If-Modified-Since: $lm" "$B/r.bin")" 304 "If-Modified-Since"
assert_eq "$(code -H 'If-Match: "nope"' "$B/r.bin")" 412 "If-Match mismatch"
assert_eq "$(code -T "$W/small.bin" -H 'If-None-Match: *' "$B/r.bin")" 412 "create-only PUT"
assert_eq "$(code -T "$W/small.bin" -H "If-Match: $etag" "$B/r2.bin")" 412 "If-Match on missing"

# PROPFIND: Depth: infinity is refused (unless dav_allow_infinity), Depth: 1 lists members.
out=$($C -X PROPFIND -H 'Depth: infinity' -w '\n%{http_code}' "$B/")
assert_contains "$out" "propfind-finite-depth" "Depth: infinity refused"
assert_eq "$(printf '%s\n' "$out" | tail -n 1)" 403 "Depth: infinity status"
out=$($C -X PROPFIND -H 'Depth: 1' "$B/")
assert_contains "$out" "<D:href>/r.bin</D:href>" "PROPFIND lists r.bin"
assert_contains "$out" "<D:getcontentlength>1000000</D:getcontentlength>" "PROPFIND size"
assert_contains "$out" "<D:getetag>&quot;" "PROPFIND etag"
# Collections: MKCOL, MOVE, COPY, DELETE, all audited.
assert_eq "$(code -X MKCOL "$B/col")" 201 "MKCOL"
assert_eq "$(code -X MKCOL "$B/col")" 405 "MKCOL again"
$C -T "$W/small.bin" "$B/col/in.bin" || fail "PUT into col"
assert_eq "$(code -X MOVE -H "Destination: $B/col2" "$B/col")" 201 "MOVE collection"
assert_eq "$(code -X COPY -H "Destination: $B/col3/" "$B/col2/")" 201 "COPY collection"
cmp -s "$W/small.bin" "$A/col3/in.bin" || fail "COPY content"
assert_eq "$(code -X COPY -H "Destination: $B/col3" -H 'Overwrite: F' "$B/col2")" 412 \
    "COPY without overwrite"
assert_eq "$(code -X DELETE "$B/col2")" 204 "DELETE collection"
assert_eq "$(code -X DELETE "$B/col3")" 204 "DELETE copy"
for ev in mkdir rename rmdir delete; do
    grep -q "\"event\":\"$ev\",\"proto\":\"webdav\"" "$FERRY_STATE/audit.jsonl" ||
        fail "$ev audit record"
done

# Repr-Digest: known after an upload, computed on request for a file put there directly.
want="sha-256=:$(openssl dgst -sha256 -binary "$W/r.bin" | base64):"
assert_eq "$(hdr Repr-Digest -I "$B/r.bin")" "$want" "Repr-Digest after PUT"
cp "$W/small.bin" "$A/direct.bin"
assert_eq "$(hdr Repr-Digest -I "$B/direct.bin")" "" "no digest unless known"
want="sha-256=:$(openssl dgst -sha256 -binary "$W/small.bin" | base64):"
assert_eq "$(hdr Repr-Digest -I -H 'Want-Repr-Digest: sha-256=3' "$B/direct.bin")" "$want" \
    "Want-Repr-Digest"

# -C - resumed download.
head -c 123457 "$W/r.bin" >"$W/part"
$C -C - "$B/r.bin" -o "$W/part" || fail "curl -C -"
cmp -s "$W/r.bin" "$W/part" || fail "resumed download differs"

# A PUT killed midway: no complete file appears, HEAD (by the uploader) shows how far the
# partial got, a Content-Range PUT finishes it, byte-identical.
head -c 40000000 /dev/urandom >"$W/k.bin"
$C --limit-rate 2M -T "$W/k.bin" "$B/k.bin" -o /dev/null &
cpid=$!
for _ in $(seq 50); do
    sleep 0.2
    have=$(hdr Content-Length -I "$B/k.bin")
    [ "${have:-0}" -gt 1000000 ] 2>/dev/null && break
done
kill -9 $cpid 2>/dev/null
wait $cpid 2>/dev/null
[ -e "$A/k.bin" ] && fail "killed upload left a complete-looking file"
assert_eq "$(curl -sk -u "admin:$ADMIN_PASS" -o /dev/null -w "%{http_code}" "$B/alice/k.bin")" 404 \
    "others do not see the partial"
prev=-1
for _ in $(seq 50); do # until the session has written what it received
    have=$(hdr Content-Length -I "$B/k.bin")
    [ "$have" = "$prev" ] && break
    prev=$have
    sleep 0.2
done
[ "${have:-0}" -gt 0 ] && [ "$have" -lt 40000000 ] || fail "HEAD shows partial size ($have)"
assert_eq "$(code "$B/k.bin")" 404 "GET does not serve the partial"
tail -c +$((have + 1)) "$W/k.bin" >"$W/k.rest"
assert_eq "$(code -T "$W/k.rest" -H "Content-Range: bytes $have-39999999/40000000" "$B/k.bin")" \
    201 "Content-Range PUT completes"
cmp -s "$W/k.bin" "$A/k.bin" || fail "resumed upload differs"
ls -a "$A" | grep -q '^\.ferry~' && fail "a partial stayed behind"
# A resume that skips bytes is refused with where the upload stands.
assert_eq "$(code -X PUT --data-binary x -H 'Content-Range: bytes 5-5/10' "$B/new.bin")" 416 \
    "resume past the partial"

# The IETF resumable-upload flow: PATCH with Upload-Offset, HEAD says where to go on.
head -c 300000 /dev/urandom >"$W/p.bin"
head -c 100000 "$W/p.bin" >"$W/p1"
tail -c +100001 "$W/p.bin" >"$W/p2"
assert_eq "$(code -X PATCH -H 'Upload-Offset: 0' -H 'Upload-Complete: ?0' --data-binary @"$W/p1" \
    "$B/p.bin")" 204 "PATCH first part"
assert_eq "$(hdr Upload-Offset -I "$B/p.bin")" 100000 "HEAD Upload-Offset"
assert_eq "$(hdr Upload-Complete -I "$B/p.bin")" "?0" "HEAD Upload-Complete"
assert_eq "$(code "$B/p.bin")" 404 "incomplete upload not served"
assert_eq "$(code -X PATCH -H 'Upload-Offset: 7' --data-binary @"$W/p2" "$B/p.bin")" 409 \
    "PATCH at the wrong offset"
assert_eq "$(code -X PATCH -H 'Upload-Offset: 100000' -H 'Upload-Complete: ?1' \
    --data-binary @"$W/p2" "$B/p.bin")" 204 "PATCH last part"
cmp -s "$W/p.bin" "$A/p.bin" || fail "PATCH upload differs"

# Expect: 100-continue on a PUT the user may not make: refused before any body byte.
up=$(curl -sk -u reader:reader-pw -H 'Expect: 100-continue' --expect100-timeout 30 \
    -T "$W/r.bin" -o /dev/null -w '%{http_code} %{size_upload}' "$B/alice/x.bin")
assert_eq "$up" "403 0" "forbidden PUT uploads nothing"

# A sparse file above 4 GiB: up, down, and a range beyond 4 GiB.
truncate -s 4400000000 "$W/big"
head -c 1048576 /dev/urandom | dd of="$W/big" bs=1M seek=4190 conv=notrunc status=none
$C -T "$W/big" "$B/big" -o /dev/null || fail "PUT 4.4 GB"
assert_eq "$(stat -c %s "$A/big")" 4400000000 "uploaded size"
$C "$B/big" -o "$W/big.got" || fail "GET 4.4 GB"
cmp -s "$W/big" "$W/big.got" || fail "4.4 GB download differs"
rm -f "$W/big.got"
$C -r 4393533440-4393533539 "$B/big" | cmp -s - <(dd if="$W/big" bs=4096 skip=1072640 count=1 \
    status=none | head -c 100) || fail "range beyond 4 GiB"
head -c 4394000000 "$W/big" >"$W/big.part"
$C -C - "$B/big" -o "$W/big.part" || fail "-C - beyond 4 GiB"
cmp -s "$W/big" "$W/big.part" || fail "resumed 4.4 GB download differs"
rm -f "$W/big" "$W/big.part" "$A/big"

# Every transfer is audited.
grep -q '"event":"upload","proto":"webdav"' "$FERRY_STATE/audit.jsonl" || fail "upload audit"
grep -q '"event":"download","proto":"webdav"' "$FERRY_STATE/audit.jsonl" || fail "download audit"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
