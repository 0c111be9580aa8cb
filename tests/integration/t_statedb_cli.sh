#!/bin/bash
# The command line against a real PostgreSQL 15 (its own throwaway cluster on a free
# loopback port, stopped on exit): `ferry db migrate` creates the schema and is a no-op
# the second time; `ferry db status` reports it; `ferry user` edits users in the database
# exactly as in the file (same validation, same output; psql sees the rows), and rows
# that would not parse as a users file are refused, a line break in a column included;
# `ferry db import` moves a files state made by `ferry serve` (users and a real audit log)
# in, once; `ferry audit` and `ferry audit verify` then read the database and print what
# they print for the file; a line edited or a last record deleted with psql makes verify
# exit 3; an unreachable database fails with exit 1 and a message without the password.
. tests/integration/lib.sh

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || fail "no $PGBIN/initdb: install postgresql-15"
PG_DIR=$FERRY_DIR/pg
PG_PORT=$(free_port)
# The server runs as `postgres` when we are root: it must reach PG_DIR.
chmod 0711 "$FERRY_DIR"
# lib.sh's cleanup calls peer_cleanup first: the cluster never outlives the test.
peer_cleanup() {
    sh tests/cluster/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
}
URL=$(sh tests/cluster/pg.sh start "$PG_DIR" "$PG_PORT") || fail "PostgreSQL did not start"
sql() { sh tests/cluster/pg.sh psql "$PG_DIR" "$PG_PORT" "$@"; }
F=$FERRY_BIN

# ---- ferry db ----
"$F" db --help | grep -q 'migrate' || fail "db --help"
"$F" db status --help | grep -q -- '--state-db' || fail "db status --help"
"$F" db frobnicate 2>/dev/null; assert_eq $? 2 "unknown db command"
"$F" db status --state "$FERRY_DIR" 2>"$FERRY_DIR/err"; assert_eq $? 2 "db without a database"
assert_contains "$(cat "$FERRY_DIR/err")" "no state database" "db without a database message"

out=$("$F" db status --state-db "$URL"); assert_eq $? 1 "status before migrate"
assert_contains "$out" "run 'ferry db migrate'" "status before migrate"
"$F" user list --state-db "$URL" 2>"$FERRY_DIR/err"; assert_eq $? 1 "user list before migrate"
assert_contains "$(cat "$FERRY_DIR/err")" "ferry db migrate" "user list before migrate"

out=$("$F" db migrate --state-db "$URL") || fail "db migrate"
assert_eq "$out" "schema migrated from version 0 to 1" "first migrate"
out=$("$F" db migrate --state-db "$URL") || fail "db migrate again"
assert_eq "$out" "schema is at version 1: nothing to do" "second migrate"
assert_eq "$(sql 'SELECT version FROM ferry_schema')" "1" "ferry_schema"
assert_eq "$(sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ferry\_%'")" "7" "tables"

cat >"$FERRY_DIR/ferry.conf" <<EOF
[server]
state = $FERRY_DIR/unused-state
state_db = $URL
EOF
json=$("$F" db status --json --config "$FERRY_DIR/ferry.conf") || fail "db status --json"
/usr/bin/python3 - "$json" <<'PY' || fail "status --json: $json"
import json, sys
s = json.loads(sys.argv[1])
assert s["schema_version"] == 1 and s["schema_current"] is True, s
assert s["users"] == 0 and s["audit_records"] == 0 and s["chain_head"] is None, s
assert s["nodes"] == [], s
PY

# ---- ferry user against the database ----
C="--config $FERRY_DIR/ferry.conf"
out=$(echo 'alice-pw' | "$F" user add alice --password-stdin $C) || fail "user add alice"
assert_eq "$out" "added user alice (home /alice, read-write, 0 keys, password)" "user add output"
"$F" user add bob --read-only --home /shared $C >/dev/null 2>&1 || fail "user add bob"
echo x | "$F" user add alice --password-stdin $C 2>"$FERRY_DIR/err"; assert_eq $? 1 "duplicate"
assert_contains "$(cat "$FERRY_DIR/err")" "user 'alice' already exists" "duplicate message"
assert_eq "$(sql "SELECT name || ' ' || home || ' ' || flags FROM ferry_users ORDER BY name" | tr '\n' ';')" \
    "alice /alice rw;bob /shared ro;" "rows after add"
assert_contains "$(sql "SELECT hash FROM ferry_users WHERE name = 'alice'")" '$y$' "yescrypt hash"
[ ! -e "$FERRY_DIR/unused-state" ] || fail "the state directory was used with a database"

ssh-keygen -q -t ed25519 -N '' -C laptop -f "$FERRY_DIR/k" || fail "ssh-keygen"
"$F" user key add alice "$FERRY_DIR/k.pub" --state-db "$URL" >/dev/null || fail "key add"
assert_contains "$(sql "SELECT keys FROM ferry_users WHERE name = 'alice'")" "ssh-ed25519 " "key row"
list=$("$F" user list $C)
assert_contains "$list" "alice  /alice   rw       1  yes" "list shows the key"
"$F" user list --json $C | /usr/bin/python3 -c '
import json, sys
u = {x["name"]: x for x in json.load(sys.stdin)}
assert u["alice"]["keys"][0]["comment"] == "laptop", u
assert u["bob"]["read_only"] is True and u["bob"]["home"] == "/shared", u' || fail "list --json"
"$F" user passwd alice --no-password $C >/dev/null || fail "passwd --no-password"
assert_eq "$(sql "SELECT hash FROM ferry_users WHERE name = 'alice'")" "!" "no-password hash"
"$F" user key del alice laptop $C >/dev/null || fail "key del"
assert_eq "$(sql "SELECT keys FROM ferry_users WHERE name = 'alice'")" "" "key gone"
"$F" user del bob $C >/dev/null || fail "user del"
assert_eq "$(sql 'SELECT count(*) FROM ferry_users')" "1" "bob gone"
assert_eq "$(sql 'SELECT rev FROM ferry_users_rev')" "6" "one revision per change"

# Concurrent editors wait for each other (the users lock): no update is lost.
pids=
for i in 1 2 3 4 5 6; do
    echo "pw$i" | "$F" user add "u$i" --password-stdin $C >/dev/null &
    pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "concurrent user add"; done
assert_eq "$(sql "SELECT count(*) FROM ferry_users WHERE name LIKE 'u_'")" "6" "concurrent adds"
for i in 1 2 3 4 5 6; do "$F" user del "u$i" $C >/dev/null || fail "del u$i"; done

# The same refusals as with the file, word for word.
"$F" user add -- -bad --state "$FERRY_DIR/files" 2>"$FERRY_DIR/err.f"; rf=$?
"$F" user add -- -bad $C 2>"$FERRY_DIR/err.d"; rd=$?
assert_eq "$rd" 2 "bad name exit"
assert_eq "$rd" "$rf" "bad name exit as with files"
assert_eq "$(cat "$FERRY_DIR/err.d")" "$(cat "$FERRY_DIR/err.f")" "bad name message as with files"

# Rows are validated like lines of the users file; a row can never become two users.
sql "INSERT INTO ferry_users VALUES ('eve', '\$y\$x', 'relative', 'rw', '')"
"$F" user list $C >/dev/null 2>"$FERRY_DIR/err"; assert_eq $? 2 "invalid home row"
assert_contains "$(cat "$FERRY_DIR/err")" "user eve:" "invalid row named"
sql "UPDATE ferry_users SET home = '/eve', keys = E'\nmallory:\$y\$x:/:rw:' WHERE name = 'eve'"
"$F" user list $C >/dev/null 2>"$FERRY_DIR/err"; assert_eq $? 2 "line break in a row"
assert_contains "$(cat "$FERRY_DIR/err")" "line break" "line break message"
sql "DELETE FROM ferry_users WHERE name = 'eve'"

# ---- a files state with a real audit log, made by ferry serve ----
TEST_PORT=$(free_port)
export TEST_PORT
ferry_start --set test_port=$TEST_PORT
ferry_user_add carol carol-pw
ferry_user_add dave dave-pw --read-only
/usr/bin/python3 - <<'PY' || fail "sessions"
import os, sys
sys.path.insert(0, "tests/integration")
from tfe import TFE
port = int(os.environ["TEST_PORT"])
c = TFE(port)
assert c.cmd("LOGIN carol carol-pw").startswith("OK")
assert c.put("/a.bin", b"x" * 100) == "OK 100"
c.cmd("QUIT"); c.close()
c = TFE(port)
c.cmd("LOGIN dave wrong"); c.close()
c = TFE(port)
assert c.cmd("LOGIN dave dave-pw").startswith("OK")
c.cmd("QUIT"); c.close()
PY
ferry_stop
A=$FERRY_STATE/audit.jsonl
nrec=$(wc -l <"$A")
[ "$nrec" -ge 5 ] || fail "only $nrec audit records"
fverify=$("$F" audit verify --state "$FERRY_STATE") || fail "file verify"

out=$("$F" db import --state-db "$URL" --state "$FERRY_STATE") || fail "db import: $out"
assert_contains "$out" "audit: imported $nrec records from $A" "import audit line"
nusers=$(grep -c '^[^#]' "$FERRY_STATE/users")  # carol, dave and the first start's admin
assert_contains "$out" "users: imported $nusers from $FERRY_STATE/users" "import users line"
assert_eq "$(sql 'SELECT count(*) FROM ferry_audit')" "$nrec" "records in the table"
assert_eq "$(sql 'SELECT string_agg(line, E'"'"'\n'"'"' ORDER BY seq) FROM ferry_audit')" \
    "$(cat "$A")" "lines verbatim"
assert_eq "$(sql 'SELECT hash FROM ferry_audit_head')" \
    "$(tail -n 1 "$A" | sed 's/.*"hash":"\([0-9a-f]*\)"}$/\1/')" "chain head"
assert_contains "$("$F" user list --state-db "$URL")" "carol" "imported user listed"
echo carol-pw | "$F" user passwd carol --password-stdin --state-db "$URL" >/dev/null ||
    fail "imported user edited"
"$F" db status --state-db "$URL" | grep -q "node import .* $nrec records" || fail "status nodes"

# ferry audit reads the database as it reads the file.
assert_eq "$("$F" audit --format json --state-db "$URL")" \
    "$("$F" audit --format json --state "$FERRY_STATE")" "audit json from the database"
assert_eq "$("$F" audit --user carol $C)" "$("$F" audit --user carol --state "$FERRY_STATE")" \
    "audit table from the database"
dverify=$("$F" audit verify $C) || fail "database verify: $dverify"
assert_eq "$dverify" "$fverify" "verify output"
assert_contains "$dverify" "$nrec records, chain intact" "verify count"
# --log still names a file when a database is configured.
"$F" audit verify --log "$A" $C >/dev/null || fail "verify --log with a database"

# A second import is refused and changes nothing.
out=$("$F" db import --state-db "$URL" --state "$FERRY_STATE" 2>&1); assert_eq $? 1 "second import"
assert_contains "$out" "import refused" "second import message"
assert_eq "$(sql 'SELECT count(*) FROM ferry_audit')" "$nrec" "records after refusal"

# Tampering in the database is found like tampering in the file.
sql "UPDATE ferry_audit SET line = replace(line, '\"user\":\"carol\"', '\"user\":\"carx\"')
     WHERE seq = (SELECT min(seq) FROM ferry_audit WHERE line LIKE '%\"user\":\"carol\"%')"
out=$("$F" audit verify --state-db "$URL"); assert_eq $? 3 "edited line"
assert_contains "$out" "postgresql://ferry@127.0.0.1:$PG_PORT/postgres: line " "edited: named"
assert_contains "$out" "edited" "edited: reason"
sql "UPDATE ferry_audit SET line = replace(line, '\"user\":\"carx\"', '\"user\":\"carol\"')"
"$F" audit verify --state-db "$URL" >/dev/null || fail "restored chain"
sql "DELETE FROM ferry_audit WHERE seq = (SELECT max(seq) FROM ferry_audit)"
out=$("$F" audit verify --state-db "$URL"); assert_eq $? 3 "last record deleted"
assert_contains "$out" "records deleted at the end" "deleted tail reason"

# ---- the database unreachable ----
closed=$(free_port)
"$F" user list --state-db "postgresql://ferry:s3cret@127.0.0.1:$closed/postgres" 2>"$FERRY_DIR/err"
assert_eq $? 1 "user list, database down"
err=$(cat "$FERRY_DIR/err")
assert_contains "$err" "ferry user: cannot connect to postgresql://ferry:***@127.0.0.1:$closed/postgres: " \
    "database down message"
case "$err" in *s3cret*) fail "the password was printed: $err" ;; esac
"$F" db status --state-db "postgresql://ferry:s3cret@127.0.0.1:$closed/postgres" 2>/dev/null
assert_eq $? 1 "db status, database down"
"$F" audit verify --state-db "host=127.0.0.1 port=$closed password=s3cret" 2>"$FERRY_DIR/err"
assert_eq $? 1 "audit verify, database down"
assert_contains "$(cat "$FERRY_DIR/err")" "password=***" "conninfo redacted"

echo "PASS t_statedb_cli"
