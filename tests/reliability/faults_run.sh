# shellcheck shell=bash
# Sourced by tests/reliability/r_faults.sh and tests/integration/t_faults.sh after
# tests/integration/lib.sh, with FAULT_N (session kills per protocol and direction) and
# FAULT_K (parent kills per protocol) set. Phases:
#  1. kill -9 of the session process at random points of uploads and downloads (FTP, SFTP,
#     WebDAV): no final name ever holds a partial file, every upload resumes (REST+STOR,
#     SFTP write at offset, PUT Content-Range) to identical bytes, downloads resume; the
#     audit log verifies intact (the parent survived).
#  2. kill -9 of the parent mid-upload, restart, resume and compare; `ferry audit verify`
#     passes or names the truncated line (exit 3), never silent.
#  3. disk full on a 2 MiB tmpfs root: 452/552, SSH_FX_FAILURE with a message, 507; no
#     final file; the server keeps serving.
#  4. the upstream FTP server killed mid-mirror: retries and resumes to identical bytes,
#     or exits 75 and the next run completes.
PY=/usr/bin/python3
FAULTS=$FERRY_SRC/tests/reliability/faults.py
FUSER=fred FPASS=fred-pw-7
FHOME=$FERRY_ROOT/fred
export FUSER FPASS FHOME FERRY_ROOT FTP_PORT SFTP_PORT HTTPS_PORT FERRY_PID
TMPFS=
restart_log() { [ -f "$FERRY_DIR/serve.log" ] && mv "$FERRY_DIR/serve.log" "$FERRY_DIR/serve.log.$SECONDS.$RANDOM"; }
start() {
    restart_log
    ferry_start --set ftp_allow_plaintext=yes --set max_login_fails=1000
    export FERRY_PID FTP_PORT SFTP_PORT HTTPS_PORT
}
audit_check() { # audit_check MODE: intact | tail-ok
    local out rc=0
    out=$("$FERRY_BIN" audit verify --log "$FERRY_STATE/audit.jsonl" 2>&1) || rc=$?
    if [ $rc -eq 0 ]; then
        echo "audit verify: intact ($(wc -l <"$FERRY_STATE/audit.jsonl") records)"
    elif [ $rc -eq 3 ] && [ "$1" = tail-ok ] && printf '%s' "$out" | grep -qi 'line [0-9]'; then
        echo "audit verify: exit 3, reported: $out"
    else
        fail "audit verify exit $rc ($1): $out"
    fi
}
no_sanitizer() {
    ! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR"/serve.log* || fail "sanitizer report"
}

# ---- 1. session kills
start
ferry_user_add "$FUSER" "$FPASS"
for proto in ftp sftp webdav; do
    $PY "$FAULTS" session-kill $proto "$FAULT_N" || fail "session kills over $proto"
done
kill -0 "$FERRY_PID" || fail "the parent died when sessions were killed"
leftover=$(find "$FHOME" -name '.ferry~*' | wc -l)
echo "partials left by cut downloads/uploads after resuming: $leftover"
ferry_stop
audit_check intact

# ---- 2. parent kills mid-upload
for proto in ftp sftp webdav; do
    for i in $(seq "$FAULT_K"); do
        head -c $((1000000 + RANDOM * 20)) /dev/urandom >"$FERRY_DIR/src.bin"
        start
        $PY "$FAULTS" upload $proto "p-$proto-$i.bin" "$FERRY_DIR/src.bin" &
        up=$!
        sleep "0.$((RANDOM % 9 + 1))"
        sess=$(ps -o pid= --ppid "$FERRY_PID")
        kill -9 "$FERRY_PID"
        wait "$FERRY_PID" 2>/dev/null
        FERRY_PID=
        # A session outliving its parent must not be able to do harm; it ends on its own
        # when the client goes away (the client is stopped here).
        kill "$up" 2>/dev/null
        wait "$up" 2>/dev/null
        for s in $sess; do
            for _ in $(seq 50); do kill -0 "$s" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$s" 2>/dev/null && { echo "session $s outlived its parent by 5 s" >&2; kill -9 "$s"; }
        done
        start
        $PY "$FAULTS" resume $proto "p-$proto-$i.bin" "$FERRY_DIR/src.bin" || fail "resume after parent kill"
        ferry_stop
        audit_check tail-ok
    done
done
no_sanitizer
# A tail torn by a crash mid-write is reported, never silent: cut the last record short.
if [ -s "$FERRY_STATE/audit.jsonl" ]; then
    cp "$FERRY_STATE/audit.jsonl" "$FERRY_DIR/torn.jsonl"
    truncate -s -20 "$FERRY_DIR/torn.jsonl"
    rc=0
    out=$("$FERRY_BIN" audit verify --log "$FERRY_DIR/torn.jsonl" 2>&1) || rc=$?
    [ $rc -eq 3 ] && printf '%s' "$out" | grep -qi 'line [0-9]' ||
        fail "a torn audit tail: exit $rc, said: $out"
    echo "audit verify on a torn tail: exit 3: $out"
fi

# ---- 3. disk full on a small tmpfs root
if [ "${FAULT_DISKFULL:-1}" = 1 ]; then
    mkdir -p "$FERRY_DIR/small"
    mount -t tmpfs -o size=2m tmpfs "$FERRY_DIR/small" || fail "mount tmpfs"
    TMPFS=$FERRY_DIR/small
    # Whatever happens next, the mount goes before lib.sh removes the directory.
    trap 'rc=$?; [ -n "$FERRY_PID" ] && kill "$FERRY_PID" 2>/dev/null && wait "$FERRY_PID" 2>/dev/null; [ -n "$TMPFS" ] && umount -l "$TMPFS"; (exit $rc); _cleanup' EXIT
    FERRY_ROOT_SAVE=$FERRY_ROOT
    FERRY_ROOT=$TMPFS FHOME=$TMPFS/fred
    export FERRY_ROOT FHOME
    start
    printf 'keep me\n' >"$FERRY_DIR/keep.txt"
    mkdir -p "$FHOME" && cp "$FERRY_DIR/keep.txt" "$FHOME/keep.txt"
    for proto in ftp sftp webdav; do
        $PY "$FAULTS" diskfull $proto "big-$proto.bin" 3000000 || fail "disk full over $proto"
        cmp -s "$FHOME/keep.txt" "$FERRY_DIR/keep.txt" || fail "keep.txt changed"
        # The failed upload's partial may stay (it ends abnormally): clear it for the next.
        find "$FHOME" -name '.ferry~*' -delete
    done
    curl -sk -u "$FUSER:$FPASS" "https://127.0.0.1:$HTTPS_PORT/keep.txt" | cmp -s - "$FERRY_DIR/keep.txt" ||
        fail "not serving after disk full"
    ferry_stop
    umount "$TMPFS" || umount -l "$TMPFS"
    TMPFS=
    FERRY_ROOT=$FERRY_ROOT_SAVE
    no_sanitizer
fi

# ---- 4. the upstream killed mid-mirror
SRC=$FERRY_DIR/msrc DST=$FERRY_DIR/mdst
mkdir -p "$SRC/d"
head -c 900000 /dev/urandom >"$SRC/big.bin"
head -c 300000 /dev/urandom >"$SRC/d/mid.bin"
printf 'small\n' >"$SRC/small.txt"
port=$(free_port)
ftpd() {
    $PY "$FERRY_SRC/tests/integration/pyftpd_mirror.py" "$port" "$SRC" "$@" >>"$FERRY_DIR/ftpd.log" 2>&1 &
    FTPD=$!
    _bg_pids="$_bg_pids $FTPD"
    for _ in $(seq 50); do curl -s "ftp://127.0.0.1:$port/" >/dev/null && return 0; sleep 0.1; done
    fail "pyftpdlib did not start"
}
for round in $(seq "${FAULT_MIRROR:-1}"); do
    rm -rf "$DST"
    ftpd 200000
    "$FERRY_BIN" mirror "ftp://u:p@127.0.0.1:$port/" "$DST" --retries 5 --quiet >"$FERRY_DIR/m.out" 2>&1 &
    m=$!
    sleep "1.$((RANDOM % 9))"
    kill -9 "$FTPD"; wait "$FTPD" 2>/dev/null
    for f in big.bin d/mid.bin small.txt; do
        [ -e "$DST/$f" ] && ! cmp -s "$DST/$f" "$SRC/$f" && fail "mirror: $f partial under its final name"
    done
    sleep 0.5
    ftpd
    rc=0 how="retried and resumed within the run"
    wait "$m" || rc=$?
    if [ $rc -eq 75 ]; then
        how="exit 75, completed by the next run"
        rc=0
        "$FERRY_BIN" mirror "ftp://u:p@127.0.0.1:$port/" "$DST" --retries 5 --quiet || rc=$?
    fi
    [ $rc -eq 0 ] || { cat "$FERRY_DIR/m.out" >&2; fail "mirror after the upstream died: exit $rc"; }
    diff -r --exclude='.ferry*' "$SRC" "$DST" >/dev/null || fail "mirror not identical after the kill"
    kill "$FTPD"; wait "$FTPD" 2>/dev/null
    echo "mirror round $round: upstream killed mid-transfer, $how, mirror identical"
done
