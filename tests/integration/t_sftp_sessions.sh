# SFTP sessions under load and under abuse of the connection itself: 50 parallel
# sessions each uploading and downloading their own file; a client killed mid-upload
# leaves no complete-looking new file (and a file being replaced stays as it was), and
# `reput` continues the partial it left; the server stopping while idle sessions are
# open exits cleanly.
. tests/integration/lib.sh
command -v sftp >/dev/null || fail "OpenSSH sftp client missing"

ferry_start --set max_per_address=200 --set max_sessions=200
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_carol" || fail "ssh-keygen"
ferry_user_add carol 'carol-Secret-3' --key "$FERRY_DIR/id_carol.pub"
HOME_DIR=$FERRY_ROOT/carol
W=$FERRY_DIR/work
mkdir -p "$W"
cd "$W" || fail "cd"
SFTP="sftp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
 -o BatchMode=yes -i $FERRY_DIR/id_carol -P $SFTP_PORT"

# First login creates the home; later parallel logins race for nothing.
printf 'pwd\n' | $SFTP -b - carol@127.0.0.1 >/dev/null 2>&1 || fail "first login"

# --- 50 parallel sessions -----------------------------------------------------------------
N=50
pids=""
for i in $(seq 1 $N); do
    head -c $((200000 + i * 1000)) /dev/urandom >"p$i.bin"
    printf 'put p%d.bin\nget p%d.bin p%d.back\nls -l p%d.bin\n' $i $i $i $i >"b$i"
    $SFTP -b "b$i" carol@127.0.0.1 >"o$i" 2>&1 &
    pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ $failed = 0 ] || { cat o1; fail "$failed of $N parallel sessions failed"; }
for i in $(seq 1 $N); do
    cmp "p$i.bin" "$HOME_DIR/p$i.bin" || fail "session $i: upload differs"
    cmp "p$i.bin" "p$i.back" || fail "session $i: download differs"
done
n=$(grep '"event":"upload"' "$FERRY_STATE/audit.jsonl" | grep -c '"status":"ok"')
[ "$n" -ge $N ] || fail "only $n upload audit records for $N uploads"

# --- a client killed mid-upload -------------------------------------------------------------
# -l limits the rate (Kbit/s) so the upload is surely in flight when the client dies.
head -c 20000000 /dev/urandom >big.bin
printf 'old content\n' >"$HOME_DIR/replaced.bin"
partials() { find "$HOME_DIR" -maxdepth 1 -name '.ferry~*' -size +64k | wc -l; }
for target in fresh.bin replaced.bin; do
    before=$(partials)
    printf 'put big.bin %s\n' $target >bk
    setsid $SFTP -l 16000 -b bk carol@127.0.0.1 >/dev/null 2>&1 &
    spid=$!
    # Kill it once its partial holds data (not before the OPEN, not after the end).
    for _ in $(seq 100); do [ "$(partials)" -gt "$before" ] && break; sleep 0.1; done
    [ "$(partials)" -gt "$before" ] || fail "upload of $target never started"
    kill -KILL -- -$spid 2>/dev/null || kill -KILL $spid
    wait $spid 2>/dev/null
done
sleep 1 # the sessions notice the dead connections
[ ! -e "$HOME_DIR/fresh.bin" ] || fail "a killed upload left a complete-looking fresh.bin"
[ "$(cat "$HOME_DIR/replaced.bin")" = "old content" ] || fail "a killed upload changed replaced.bin"
np=$(find "$HOME_DIR" -maxdepth 1 -name '.ferry~*' | wc -l)
[ "$np" = 2 ] || fail "expected 2 partials after the killed uploads, found $np"
out=$(printf 'ls -la\n' | $SFTP -b - carol@127.0.0.1 2>&1) || fail "ls after kill"
case "$out" in *ferry~*) fail "partials are listed: $out" ;; esac
grep '"event":"upload"' "$FERRY_STATE/audit.jsonl" | grep '"path":"/fresh.bin"' |
    grep -q '"status":"aborted"' || fail "killed upload not audited as aborted"

# The owner sees the partial's size and reput continues it to the whole file.
out=$(printf 'ls -l fresh.bin\n' | $SFTP -b - carol@127.0.0.1 2>&1) || fail "ls fresh.bin: $out"
size=$(printf '%s\n' "$out" | awk '/fresh.bin/ {print $5}')
[ -n "$size" ] && [ "$size" -gt 0 ] && [ "$size" -lt 20000000 ] ||
    fail "partial size not shown to its owner: [$out]"
printf 'reput big.bin fresh.bin\nreput big.bin replaced.bin\n' | $SFTP -b - carol@127.0.0.1 \
    >/dev/null 2>&1 || fail "reput of the partials"
cmp big.bin "$HOME_DIR/fresh.bin" || fail "reput of fresh.bin differs"
cmp big.bin "$HOME_DIR/replaced.bin" || fail "reput of replaced.bin differs"
[ -z "$(find "$HOME_DIR" -maxdepth 1 -name '.ferry~*')" ] || fail "partials left after reput"

# --- stopping with idle sessions open ----------------------------------------------------------
mkfifo idle.fifo
for i in 1 2 3; do
    $SFTP -b - carol@127.0.0.1 <idle.fifo >/dev/null 2>&1 &
done
exec 9>idle.fifo
sleep 1
cd "$FERRY_SRC" || fail "cd back"
ferry_stop
exec 9>&-
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "ok"
