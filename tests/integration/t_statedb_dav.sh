#!/bin/bash
# WebDAV locks and dead properties shared by two nodes through PostgreSQL (state_db),
# straight to each node (no balancer): a LOCK through A makes PUT, DELETE, PROPPATCH
# and a second LOCK through B answer 423, the token lets B write, an UNLOCK through B
# frees the resource for A; a PROPPATCH through A is read through B, and follows a MOVE
# made through B; nothing of it is kept in the nodes' state dirs. A lock set too large
# for the shared blob is refused with 507, the stored set unharmed. With the database
# stopped, LOCK, PROPPATCH and a PUT whose lock check cannot be made answer 503 (never
# a write that ignores locks), GET still works, and both come back with the database.
# Then litmus `locks` and `props` pass against a node in state_db mode.
. tests/cluster/lib.sh
[ -x /usr/lib/postgresql/15/bin/initdb ] || fail "PostgreSQL 15 is not installed"

PG_DIR=$FERRY_DIR/pg
PG_PORT=$(free_port)
STATE_DB=$(pg_start) || fail "PostgreSQL did not start"
"$FERRY_BIN" db migrate --state-db "$STATE_DB" >>"$FERRY_DIR/db.log" 2>&1 ||
    { cat "$FERRY_DIR/db.log" >&2; fail "ferry db migrate"; }
printf '%s\n' 'lena-pw-1' | "$FERRY_BIN" user add lena --password-stdin --home / \
    --state-db "$STATE_DB" >>"$FERRY_DIR/db.log" 2>&1 ||
    { cat "$FERRY_DIR/db.log" >&2; fail "ferry user add --state-db"; }
node_start A --set "state_db=$STATE_DB" --set node_name=A
# B starts from a copy of A's state dir: same TLS certificate and host key.
cp -a "$FERRY_DIR/state-A" "$FERRY_DIR/state-B"
rm -f "$FERRY_DIR/state-B/audit.jsonl"
node_start B --set "state_db=$STATE_DB" --set node_name=B
A="https://127.0.0.1:${NODE_HTTPS[A]}"
B="https://127.0.0.1:${NODE_HTTPS[B]}"
c() { curl -sSk --max-time 20 -u lena:lena-pw-1 "$@"; }
code() { c -o /dev/null -w '%{http_code}' "$@"; }
ok_put() { case $1 in 200 | 201 | 204) ;; *) fail "$2 answered $1" ;; esac; }

lockbody() {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:">'
    printf '<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
    printf '<D:owner>%s</D:owner></D:lockinfo>' "$1"
}
# lock URL OWNER [FILE]: prints the Lock-Token (empty when refused), writes the status
# to FILE (default $FERRY_DIR/st).
lock() {
    local h
    h=$(lockbody "$2" | c -X LOCK -H 'Timeout: Second-600' -H 'Depth: 0' \
        -H 'Content-Type: application/xml' --data-binary @- -D - -o /dev/null \
        -w 'STATUS %{http_code}\n' "$1") || fail "LOCK $1"
    printf '%s' "$h" | sed -n 's/^STATUS //p' >"${3:-$FERRY_DIR/st}"
    printf '%s' "$h" | tr -d '\r' | sed -n 's/^[Ll]ock-[Tt]oken: *<\(.*\)>$/\1/p'
}
pp_body() {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:" '
    printf 'xmlns:Z="urn:ferry-test"><D:set><D:prop><Z:colour>%s</Z:colour></D:prop>' "$1"
    printf '</D:set></D:propertyupdate>'
}
colour() {
    c -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' --data-binary \
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:ferry-test"><D:prop><Z:colour/></D:prop></D:propfind>' \
        "$1" | sed -n 's/.*<[A-Za-z0-9]*:*colour[^>]*>\([^<]*\)<.*/\1/p'
}

# ---- locks across nodes ----
for v in 1 2 3; do echo "version $v" >"$FERRY_DIR/v$v"; done
ok_put "$(code -T "$FERRY_DIR/v1" "$A/doc.txt")" "PUT through A"
token=$(lock "$A/doc.txt" "lena on A")
assert_eq "$(cat "$FERRY_DIR/st")" 200 "LOCK through A"
[ -n "$token" ] || fail "LOCK through A returned no Lock-Token"
assert_eq "$(code -T "$FERRY_DIR/v2" "$B/doc.txt")" 423 "PUT through B without the token"
assert_eq "$(code -X DELETE "$B/doc.txt")" 423 "DELETE through B without the token"
assert_eq "$(pp_body red | code -X PROPPATCH -H "Content-Type: application/xml" --data-binary @- "$B/doc.txt")" 423 \
    "PROPPATCH through B without the token"
t2=$(lock "$B/doc.txt" "lena on B")
assert_eq "$(cat "$FERRY_DIR/st")" 423 "a second exclusive LOCK through B"
assert_eq "$(c "$B/doc.txt")" "version 1" "content after the refused PUT"
assert_contains "$(c -X PROPFIND -H 'Depth: 0' "$B/doc.txt")" "$token" "lockdiscovery through B"
ok_put "$(code -T "$FERRY_DIR/v2" -H "If: (<$token>)" "$B/doc.txt")" "PUT through B with the token"
assert_eq "$(c "$A/doc.txt")" "version 2" "content through A after B's PUT"
assert_eq "$(code -X UNLOCK -H "Lock-Token: <$token>" "$B/doc.txt")" 204 "UNLOCK through B"
ok_put "$(code -T "$FERRY_DIR/v3" "$A/doc.txt")" "PUT through A after the UNLOCK"
assert_eq "$(c "$B/doc.txt")" "version 3" "content through B after the UNLOCK"
echo "statedb_dav: LOCK through A holds on B (423); token and UNLOCK work across nodes"

# Ten LOCKs of one resource at once, half through each node: exactly one wins.
ok_put "$(code -T "$FERRY_DIR/v1" "$A/race.txt")" "PUT race.txt"
racers=()
for i in 0 1 2 3 4 5 6 7 8 9; do
    if [ $((i % 2)) = 0 ]; then n=$A; else n=$B; fi
    lock "$n/race.txt" "racer $i" "$FERRY_DIR/race.$i" >/dev/null &
    racers+=($!)
done
wait "${racers[@]}" # not a bare wait: the nodes are children of this shell too
all=$(for i in 0 1 2 3 4 5 6 7 8 9; do cat "$FERRY_DIR/race.$i"; echo; done)
wins=$(printf '%s\n' "$all" | grep -c '^200$')
lost=$(printf '%s\n' "$all" | grep -c '^423$')
[ "$wins" = 1 ] && [ "$lost" = 9 ] ||
    fail "concurrent LOCKs: $wins won, $lost refused: $(printf '%s ' $all)"
echo "statedb_dav: of ten concurrent LOCKs through both nodes exactly one wins"

# ---- dead properties across nodes ----
assert_eq "$(pp_body teal | code -X PROPPATCH -H "Content-Type: application/xml" --data-binary @- "$A/doc.txt")" 207 "PROPPATCH through A"
assert_eq "$(colour "$B/doc.txt")" teal "a property set through A, read through B"
assert_eq "$(code -X MOVE -H "Destination: $B/moved.txt" "$B/doc.txt")" 201 "MOVE through B"
assert_eq "$(colour "$A/moved.txt")" teal "the property after a MOVE through B, read through A"
assert_eq "$(code -X DELETE "$A/moved.txt")" 204 "DELETE through A"
ok_put "$(code -T "$FERRY_DIR/v1" "$B/moved.txt")" "PUT of a new moved.txt"
assert_eq "$(colour "$B/moved.txt")" "" "a deleted resource's property is gone"
# A collection's members take their properties along (the database is never asked
# for listings: the walk of the tree does it member by member).
assert_eq "$(code -X MKCOL "$A/col")" 201 "MKCOL through A"
assert_eq "$(code -X MKCOL "$A/col/sub")" 201 "MKCOL col/sub through A"
ok_put "$(echo inner | code -T - "$A/col/sub/in.txt")" "PUT col/sub/in.txt"
assert_eq "$(pp_body plum | code -X PROPPATCH -H "Content-Type: application/xml" --data-binary @- "$A/col/sub/in.txt")" \
    207 "PROPPATCH of a member through A"
assert_eq "$(code -X COPY -H "Destination: $B/copy" "$B/col")" 201 "COPY of the collection through B"
assert_eq "$(code -X MOVE -H "Destination: $B/col2" "$B/col")" 201 "MOVE of the collection through B"
assert_eq "$(colour "$A/col2/sub/in.txt")" plum "a member's property after the MOVE"
assert_eq "$(colour "$A/copy/sub/in.txt")" plum "a member's property after the COPY"
assert_eq "$(code -X DELETE "$A/col2")" 204 "DELETE of the collection through A"
for p in col col/sub col2 col2/sub; do c -X MKCOL "$B/$p" >/dev/null; done
for p in col/sub/in.txt col2/sub/in.txt; do ok_put "$(echo new | code -T - "$B/$p")" "PUT $p"; done
assert_eq "$(colour "$B/col/sub/in.txt")" "" "no property left at the moved member's old path"
assert_eq "$(colour "$B/col2/sub/in.txt")" "" "no property left after the collection's DELETE"
blobs=$(pg_sql "SELECT name FROM ferry_blobs ORDER BY name")
assert_contains "$blobs" "webdav/locks" "the lock set in ferry_blobs"
for n in A B; do
    [ -z "$(find "$FERRY_DIR/state-$n/webdav" -name locks -o -name '@props' 2>/dev/null)" ] ||
        fail "node $n kept WebDAV state in its state dir"
done
echo "statedb_dav: PROPPATCH through A is seen through B, and follows MOVE, COPY and DELETE"

# ---- a lock set too large for one blob: 507, the stored set unharmed ----
big=$(head -c 20000 /dev/zero | tr '\0' 'o')
toks=() st=
for i in 1 2 3 4 5 6; do
    echo "f$i" | c -T - "$A/f$i.txt" >/dev/null || fail "PUT f$i"
    t=$(lock "$A/f$i.txt" "$big")
    st=$(cat "$FERRY_DIR/st")
    [ "$st" = 200 ] || break
    toks+=("$t")
done
assert_eq "$st" 507 "LOCK beyond the shared lock set's size"
[ ${#toks[@]} -ge 1 ] || fail "no big lock fitted at all"
assert_eq "$(code -T "$FERRY_DIR/v2" "$B/f1.txt")" 423 "the earlier big locks still hold"
for i in "${!toks[@]}"; do
    assert_eq "$(code -X UNLOCK -H "Lock-Token: <${toks[$i]}>" "$B/f$((i + 1)).txt")" 204 "UNLOCK f$((i + 1))"
done
echo "statedb_dav: a lock set over the blob size answers 507 (${#toks[@]} big locks fitted)"

# ---- the database stopped, then back ----
token=$(lock "$A/doc2.txt" "before the outage")
assert_eq "$(cat "$FERRY_DIR/st")" 201 "LOCK of a new resource through A"
# Logins need the database too (refused while it is down), so the checks run on a
# connection that logged in before the stop.
/usr/bin/python3 - "${NODE_HTTPS[A]}" "$token" "$PG_DIR" <<'PY' || fail "requests with the database down"
import base64, http.client, ssl, subprocess, sys
port, token, pgdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                   context=ssl._create_unverified_context())
auth = "Basic " + base64.b64encode(b"lena:lena-pw-1").decode()
def req(method, path, body=None, **hdrs):
    hdrs["Authorization"] = auth
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    return r.status, r.read()
def want(what, got, status):
    if got[0] != status:
        sys.exit("%s: got %d, want %d" % (what, got[0], status))
want("GET before the outage", req("GET", "/moved.txt"), 200)
subprocess.run(["sh", "tests/cluster/pg.sh", "stop", pgdir], check=True)
want("PUT, lock check impossible", req("PUT", "/moved.txt", b"lost\n"), 503)
want("PUT of a locked file", req("PUT", "/doc2.txt", b"lost\n"), 503)
want("PUT with the token", req("PUT", "/doc2.txt", b"lost\n", If="(<%s>)" % token), 503)
lockinfo = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            b'</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>')
want("LOCK", req("LOCK", "/moved.txt", lockinfo, **{"Content-Type": "application/xml"}), 503)
pp = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:ferry-test">'
      b'<D:set><D:prop><Z:colour>grey</Z:colour></D:prop></D:set></D:propertyupdate>')
want("PROPPATCH", req("PROPPATCH", "/moved.txt", pp, **{"Content-Type": "application/xml"}), 503)
got = req("GET", "/moved.txt")
want("GET during the outage", got, 200)
if got[1] != b"version 1\n":
    sys.exit("GET during the outage: %r" % got[1])
PY
pg_start >/dev/null || fail "PostgreSQL did not restart"
i=0
until [ "$(code -T "$FERRY_DIR/v2" "$B/moved.txt")" = 204 ]; do
    i=$((i + 1))
    [ $i -lt 60 ] || fail "node B did not come back with the database"
    sleep 0.5
done
assert_eq "$(code -T "$FERRY_DIR/v2" "$A/doc2.txt")" 423 "the lock taken before the outage, after it"
assert_eq "$(code -X UNLOCK -H "Lock-Token: <$token>" "$A/doc2.txt")" 204 "UNLOCK after the outage"
echo "statedb_dav: database down: LOCK, PROPPATCH, PUT answer 503, GET served; then recovers"

# ---- litmus against a node in state_db mode ----
out=$(cd "$FERRY_DIR" && TESTS="props locks" timeout 120 litmus -k "$B/" lena 'lena-pw-1' 2>&1)
rc=$?
[ $rc -eq 0 ] || { echo "$out"; fail "litmus exited $rc"; }
for group in props locks; do
    line=$(printf '%s\n' "$out" | grep "summary for \`$group'")
    case "$line" in
    *" 0 failed"*) ;;
    *) echo "$out"; fail "litmus $group: ${line:-did not run}" ;;
    esac
done
printf '%s\n' "$out" | grep -q "WARNING" && { echo "$out"; fail "litmus printed warnings"; }
total=$(printf '%s\n' "$out" | sed -n 's/.*tests run: \([0-9]*\) passed.*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
[ "${total:-0}" -ge 40 ] || { echo "$out"; fail "litmus passed only ${total:-0} tests"; }
echo "statedb_dav: litmus props and locks pass in state_db mode ($total tests)"

no_sanitizer_reports A B
node_stop A
node_stop B
echo "t_statedb_dav: ok"
