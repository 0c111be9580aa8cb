#!/bin/bash
# `ferry user` end to end with the real binary: add (password from stdin, generated,
# key-only), list as a table and as JSON (parsed by Python's json), passwd, key add/del,
# del, exit codes, file modes, --config, and concurrent adds under the lock. Hashes are
# checked independently with Python's crypt module (libcrypt: yescrypt).
. tests/integration/lib.sh

S=$FERRY_DIR/state
DATA=$FERRY_SRC/tests/data/users
PY=/usr/bin/python3
U() { "$FERRY_BIN" user "$@" --state "$S"; }

# Prints the stored hash of user $1.
hash_of() { awk -F: -v u="$1" '$1 == u { print $2 }' "$S/users"; }
# Succeeds when password $2 matches user $1's stored hash.
check_pw() {
    PW=$2 H=$(hash_of "$1") $PY -W ignore -c \
        'import crypt, os, sys; h = os.environ["H"]; sys.exit(0 if h and crypt.crypt(os.environ["PW"], h) == h else 1)'
}
json() { U list --json | $PY -c "import json, sys; d = json.load(sys.stdin); $1"; }

# --help and usage errors.
"$FERRY_BIN" user --help | grep -q 'ferry user COMMAND' || fail "user --help"
"$FERRY_BIN" user >/dev/null 2>&1; assert_eq $? 2 "no subcommand"
"$FERRY_BIN" user frob >/dev/null 2>&1; assert_eq $? 2 "unknown subcommand"
U add 'bad name' >/dev/null 2>&1; assert_eq $? 2 "bad name"
U add carl --home relative >/dev/null 2>&1; assert_eq $? 2 "relative home"
U add carl --home /a/../b >/dev/null 2>&1; assert_eq $? 2 "home with .."
U add carl --bogus >/dev/null 2>&1; assert_eq $? 2 "unknown flag"
U list --read-only >/dev/null 2>&1; assert_eq $? 2 "flag of another subcommand"
[ ! -e "$S" ] || fail "usage errors must not create the state dir"

# add, password from stdin (trailing newline stripped).
out=$(printf 'alice pw\n' | U add alice --password-stdin) || fail "add alice"
assert_eq "$out" "added user alice (home /alice, read-write, 0 keys, password)" "add output"
assert_eq "$(stat -c %a "$S")" 700 "state dir mode"
assert_eq "$(stat -c %a "$S/users")" 600 "users file mode"
check_pw alice 'alice pw' || fail "alice's password does not verify"
check_pw alice 'alice pw\n' && fail "wrong password verifies"
case "$(hash_of alice)" in '$y$'*) ;; *) fail "not a yescrypt hash: $(hash_of alice)" ;; esac

# add without password or key: a generated password, printed once.
out=$(U add bob --read-only --home /shared/bob 2>"$FERRY_DIR/err") || fail "add bob"
pw=$(printf '%s\n' "$out" | sed -n 's/^password: //p')
assert_eq "${#pw}" 20 "generated password length"
check_pw bob "$pw" || fail "generated password does not verify"
grep -q 'shown only once' "$FERRY_DIR/err" || fail "no once-only warning"

# key-only user.
U add carol --key "$DATA/ed25519.pub" >/dev/null || fail "add carol --key"
assert_eq "$(hash_of carol)" "!" "key-only user has no password"

# duplicates fail with 1 and change nothing.
before=$(cat "$S/users")
printf 'x\n' | U add alice --password-stdin >/dev/null 2>&1; assert_eq $? 1 "duplicate add"
assert_eq "$(cat "$S/users")" "$before" "failed add left the file alone"

# list: table and JSON.
table=$(U list) || fail "list"
assert_eq "$(printf '%s\n' "$table" | head -n 1 | tr -s ' ')" "NAME HOME MODE KEYS PASSWORD" "table header"
assert_eq "$(printf '%s\n' "$table" | grep '^bob ' | tr -s ' ')" "bob /shared/bob ro 0 yes" "bob row"
assert_eq "$(printf '%s\n' "$table" | grep '^carol ' | tr -s ' ')" "carol /carol rw 1 no" "carol row"
assert_eq "$(json 'print(" ".join(u["name"] for u in d))')" "alice bob carol" "json names"
assert_eq "$(json 'print(d[1]["home"], d[1]["read_only"], d[1]["password"])')" "/shared/bob True True" "json bob"
fp=$(ssh-keygen -lf "$DATA/ed25519.pub" | awk '{print $2}')
assert_eq "$(json 'k = d[2]["keys"][0]; print(k["type"], k["fingerprint"], k["comment"])')" \
    "ssh-ed25519 $fp ed25519-test@ferry" "json key matches ssh-keygen -l"

# passwd.
printf 'new alice\r\n' | U passwd alice --password-stdin >/dev/null || fail "passwd"
check_pw alice 'new alice' || fail "new password does not verify"
check_pw alice 'alice pw' && fail "old password still verifies"
U passwd nobody --password-stdin </dev/null >/dev/null 2>&1; assert_eq $? 1 "passwd of unknown user"
printf '\n' | U passwd alice --password-stdin >/dev/null 2>&1; assert_eq $? 1 "empty password refused"

# key add / key del.
U key add alice "$DATA/rsa.pub" >/dev/null || fail "key add"
U key add alice "$DATA/rsa.pub" >/dev/null 2>&1 || fail "key add again is harmless"
assert_eq "$(json 'print(len(d[0]["keys"]))')" 1 "one key after adding twice"
U key add alice /nonexistent.pub >/dev/null 2>&1; assert_eq $? 1 "missing key file"
rsafp=$(ssh-keygen -lf "$DATA/rsa.pub" | awk '{print $2}')
U key del alice "$rsafp" >/dev/null || fail "key del by fingerprint"
assert_eq "$(json 'print(len(d[0]["keys"]))')" 0 "key removed"

# The file stays hand-editable: an admin's edit is picked up; a broken edit is a
# config error (2) naming file and line, and is never overwritten.
sed -i 's/^bob:\([^:]*\):\/shared\/bob:ro:/bob:\1:\/shared\/bob:rw:/' "$S/users"
assert_eq "$(json 'print(d[1]["read_only"])')" "False" "hand edit picked up"
cp "$S/users" "$FERRY_DIR/users.good"
printf 'dave:!:/dave:rx:\n' >> "$S/users"
out=$(U list 2>&1); rc=$?
assert_eq $rc 2 "broken users file"
assert_contains "$out" "users:8: unknown flag 'rx'" "error names file:line"
printf 'p\n' | U add eve --password-stdin >/dev/null 2>&1; assert_eq $? 2 "add on a broken file"
grep -q '^dave:' "$S/users" || fail "broken file was rewritten"
cp "$FERRY_DIR/users.good" "$S/users"

# del.
U del bob >/dev/null || fail "del bob"
U del bob >/dev/null 2>&1; assert_eq $? 1 "del of unknown user"
assert_eq "$(json 'print(" ".join(u["name"] for u in d))')" "alice carol" "after del"

# --config supplies the state dir.
S2=$FERRY_DIR/state2
printf '[server]\nstate = %s\n' "$S2" > "$FERRY_DIR/ferry.conf"
"$FERRY_BIN" user add frank --config "$FERRY_DIR/ferry.conf" >/dev/null 2>&1 || fail "add with --config"
[ -f "$S2/users" ] || fail "--config state dir not used"
"$FERRY_BIN" user list --config "$FERRY_DIR/ferry.conf" | grep -q '^frank ' || fail "list with --config"
printf '[server]\nstate_dir = x\n' > "$FERRY_DIR/bad.conf"
"$FERRY_BIN" user list --config "$FERRY_DIR/bad.conf" >/dev/null 2>&1; assert_eq $? 2 "bad config"

# Concurrent adds never lose an update (users.lock).
pids=
for i in $(seq 1 8); do
    printf 'pw%s\n' "$i" | U add "par$i" --password-stdin >/dev/null 2>&1 &
    pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a concurrent add failed"; done
assert_eq "$(json 'print(sum(1 for u in d if u["name"].startswith("par")))')" 8 "all concurrent adds kept"
assert_eq "$(find "$S" -name 'users.tmp-*' | wc -l)" 0 "no temporary files left"

echo "t_user_cmd: ok"
