#!/bin/bash
# Scale-out, users: two nodes on one PostgreSQL (state_db) and one root behind HAProxy.
# A user added with `ferry user add --state-db` while both nodes run logs in through
# node B (FTP and WebDAV, pinned) and through the balancer on both nodes; a changed
# password and a deleted user take effect on both nodes the same way.
. tests/cluster/lib.sh
cluster_start

# Retries curl until it succeeds (the nodes reload users when the database notifies
# them; allow a few seconds). Prints curl's output.
until_ok() {
    local i out
    for i in $(seq 40); do
        out=$("$@" 2>/dev/null) && { printf '%s' "$out"; return 0; }
        sleep 0.25
    done
    return 1
}
# Retries until curl fails with a login error (FTP 67 or HTTP 401).
until_refused() {
    local i
    for i in $(seq 40); do
        "$@" >/dev/null 2>&1
        case $? in 67 | 22) return 0 ;; esac
        sleep 0.25
    done
    return 1
}

cluster_user nina 'nina-pw-1'
echo "hello from the shared root" >"$FERRY_ROOT/hello.txt"
ftp_b="ftp://nina:nina-pw-1@127.0.0.1:$FE_FTP_B"
got=$(until_ok curl -sS --max-time 60 --interface "$CLIENT" "$ftp_b/hello.txt") ||
    fail "user added while both nodes run: no FTP login through node B"
assert_eq "$got" "hello from the shared root" "FTP download through node B"
got=$(until_ok curl -sSfk --max-time 60 --interface "$CLIENT" -u nina:nina-pw-1 \
    "https://127.0.0.1:$FE_HTTPS_B/hello.txt") || fail "no WebDAV login through node B"
assert_eq "$got" "hello from the shared root" "WebDAV GET through node B"
got=$(until_ok curl -sS --max-time 60 --interface "$CLIENT" "ftp://nina:nina-pw-1@127.0.0.1:$FE_FTP_A/hello.txt") ||
    fail "no FTP login through node A"
for i in 1 2 3 4; do # round robin: both nodes
    got=$(curl -sS --max-time 60 --interface "$CLIENT" "ftp://nina:nina-pw-1@127.0.0.1:$FE_FTP/hello.txt") ||
        fail "FTP login $i through HAProxy"
    assert_eq "$got" "hello from the shared root" "FTP download $i through HAProxy"
done
echo "users: a user added while both nodes run logs in through B, A and HAProxy"

# A new password: the old one stops working on both nodes, the new one works on both.
printf '%s\n' 'nina-pw-2' | "$FERRY_BIN" user passwd nina --password-stdin --state-db "$STATE_DB" \
    >/dev/null || fail "ferry user passwd --state-db"
for fe in "$FE_FTP_A" "$FE_FTP_B"; do
    until_refused curl -sS --max-time 60 --interface "$CLIENT" "ftp://nina:nina-pw-1@127.0.0.1:$fe/hello.txt" ||
        fail "the old password still logs in through port $fe"
    until_ok curl -sS --max-time 60 --interface "$CLIENT" "ftp://nina:nina-pw-2@127.0.0.1:$fe/hello.txt" \
        >/dev/null || fail "the new password does not log in through port $fe"
done
echo "users: a password change reaches both nodes"

"$FERRY_BIN" user del nina --state-db "$STATE_DB" >/dev/null || fail "ferry user del --state-db"
for fe in "$FE_HTTPS_A" "$FE_HTTPS_B"; do
    until_refused curl -sSfk --max-time 60 --interface "$CLIENT" -u nina:nina-pw-2 \
        "https://127.0.0.1:$fe/hello.txt" || fail "a deleted user still logs in through port $fe"
done
listed=$("$FERRY_BIN" user list --state-db "$STATE_DB") || fail "ferry user list --state-db"
case "$listed" in *nina*) fail "ferry user list still shows nina: $listed" ;; esac
echo "users: a deleted user is refused by both nodes"

no_sanitizer_reports A B
node_stop A
node_stop B
echo "c_scaleout_users: ok"
