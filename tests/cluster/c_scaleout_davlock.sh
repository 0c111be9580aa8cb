#!/bin/bash
# Scale-out, WebDAV locks in the shared database: a LOCK taken through node A makes a
# PUT (and a DELETE) through node B answer 423 Locked; with the lock token B accepts the
# PUT; an UNLOCK through B frees the resource for a PUT through A. Dead properties set
# through A (PROPPATCH) are read back through B.
. tests/cluster/lib.sh
CLUSTER_USERS="lena:lena-pw-1" cluster_start
dav_a="https://127.0.0.1:$FE_HTTPS_A"
dav_b="https://127.0.0.1:$FE_HTTPS_B"
c() { curl -sSk --max-time 60 --interface "$CLIENT" -u lena:lena-pw-1 "$@"; }
code() { c -o /dev/null -w '%{http_code}' "$@"; }

echo "version 1" >"$FERRY_DIR/v1"
echo "version 2" >"$FERRY_DIR/v2"
echo "version 3" >"$FERRY_DIR/v3"
rc=$(code -T "$FERRY_DIR/v1" "$dav_a/doc.txt")
case $rc in 201 | 204) ;; *) fail "PUT through A answered $rc" ;; esac

lockbody='<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>lena on A</D:owner></D:lockinfo>'
hdrs=$(c -X LOCK -H 'Timeout: Second-600' -H 'Depth: 0' -H 'Content-Type: application/xml' \
    --data-binary "$lockbody" -D - -o "$FERRY_DIR/lock.xml" "$dav_a/doc.txt") || fail "LOCK through A"
token=$(printf '%s' "$hdrs" | tr -d '\r' | sed -n 's/^[Ll]ock-[Tt]oken: *<\(.*\)>$/\1/p')
[ -n "$token" ] || fail "LOCK through A returned no Lock-Token: $hdrs"
echo "davlock: LOCK through A, token $token"

assert_eq "$(code -T "$FERRY_DIR/v2" "$dav_b/doc.txt")" 423 "PUT through B without the token"
assert_eq "$(code -X DELETE "$dav_b/doc.txt")" 423 "DELETE through B without the token"
assert_eq "$(c "$dav_b/doc.txt")" "version 1" "content after the refused PUT"
disc=$(c -X PROPFIND -H 'Depth: 0' "$dav_b/doc.txt") || fail "PROPFIND through B"
assert_contains "$disc" "$token" "lockdiscovery through B shows A's lock"
echo "davlock: PUT and DELETE through B answer 423 while A's lock is held"

rc=$(code -T "$FERRY_DIR/v2" -H "If: (<$token>)" "$dav_b/doc.txt")
case $rc in 200 | 201 | 204) ;; *) fail "PUT through B with the token answered $rc" ;; esac
assert_eq "$(c "$dav_a/doc.txt")" "version 2" "content through A after B's PUT with the token"
assert_eq "$(code -X UNLOCK -H "Lock-Token: <$token>" "$dav_b/doc.txt")" 204 "UNLOCK through B"
rc=$(code -T "$FERRY_DIR/v3" "$dav_a/doc.txt")
case $rc in 200 | 201 | 204) ;; *) fail "PUT through A after the UNLOCK answered $rc" ;; esac
assert_eq "$(c "$dav_b/doc.txt")" "version 3" "content through B after the UNLOCK"
echo "davlock: with the token B writes; UNLOCK through B frees it for A"

# Dead properties live in the database too.
pp='<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:ferry-test"><D:set><D:prop><Z:colour>teal</Z:colour></D:prop></D:set></D:propertyupdate>'
assert_eq "$(code -X PROPPATCH -H 'Content-Type: application/xml' --data-binary "$pp" "$dav_a/doc.txt")" \
    207 "PROPPATCH through A"
pf='<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:Z="urn:ferry-test"><D:prop><Z:colour/></D:prop></D:propfind>'
got=$(c -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' --data-binary "$pf" "$dav_b/doc.txt")
assert_contains "$got" "teal" "a dead property set through A, read through B"
echo "davlock: a dead property set through A is read through B"

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_davlock: ok"
