#!/bin/bash
# Runs the README's migration guide, block by block, against a local stand-in for the
# legacy server (pyftpdlib), with the guide's variables pointed at a temporary site.
# A guide whose commands stopped working fails here.
. tests/integration/lib.sh

PY=/usr/bin/python3
SRC=$FERRY_DIR/legacy
mkdir -p "$SRC/docs"
printf 'report\n' > "$SRC/docs/report.txt"
head -c 50000 /dev/urandom > "$SRC/data.bin"
port=$(free_port)
$PY tests/integration/pyftpd_mirror.py "$port" "$SRC" >"$FERRY_DIR/ftpd.log" 2>&1 &
_bg_pids="$_bg_pids $!"
for i in $(seq 50); do curl -s "ftp://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
ssh-keygen -q -t ed25519 -N '' -f "$FERRY_DIR/alice" || fail "ssh-keygen"
cp "$FERRY_DIR/alice.pub" "$FERRY_DIR/work-alice.pub"

# The guide's sh blocks, in order, from the README.
$PY - README.md > "$FERRY_DIR/guide.sh" <<'PY' || fail "no guide in the README"
import re, sys
text = open(sys.argv[1]).read()
start = text.index("## Migrating a legacy FTP server")
end = text.index("\n## ", start + 1)
blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
assert len(blocks) >= 5, blocks
print("\n".join(blocks))
PY

mkdir -p "$FERRY_DIR/work"
cd "$FERRY_DIR/work" || fail "cd"
mv ../work-alice.pub alice.pub
mkdir -p bin
ln -s "$FERRY_BIN" bin/ferry
# The first block sets the site's variables; the test points them at its own site.
LEGACY="ftp://u:p@127.0.0.1:$port/" DATA=$FERRY_DIR/srv STATE=$FERRY_DIR/state \
    PATH=$PWD/bin:$PATH bash -euo pipefail -c "
export LEGACY DATA STATE
$(grep -v '^LEGACY=\|^DATA=' "$FERRY_DIR/guide.sh")
" > "$FERRY_DIR/guide.out" 2>&1 || { cat "$FERRY_DIR/guide.out"; fail "the guide's commands failed"; }
out=$(cat "$FERRY_DIR/guide.out")
assert_contains "$out" "configuration OK" "step 1: the config checks"
cmp -s "$SRC/data.bin" "$FERRY_DIR/srv/archive/data.bin" || fail "step 3: the mirror is not identical"
assert_contains "$out" '"transferred": 0' "step 3: the second run has nothing to do"
assert_contains "$out" "alice" "step 4: alice is listed"
assert_contains "$out" "chain intact" "step 5: the audit chain verifies"
grep -q '"proto":"mirror"' "$FERRY_DIR/state/audit.jsonl" || fail "step 5: no mirror records"
echo "t_readme: ok"
