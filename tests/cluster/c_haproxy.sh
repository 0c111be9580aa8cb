#!/bin/bash
# Two Ferry nodes sharing one root behind HAProxy (Debian's, TCP mode, send-proxy-v2,
# round robin, health checks that send a PROXY v2 LOCAL header). The client connects
# from 127.0.0.2, HAProxy from 127.0.0.1: through HAProxy, FTP (control through the
# balancer, passive data straight to the node), WebDAV over HTTPS (TLS passed through)
# and SFTP log in on both nodes, see one tree, and each node knows the client's address;
# the balancer's health checks are served, not refused; a direct connection that skips
# the balancer is refused.
. tests/cluster/lib.sh
command -v "$HAPROXY" >/dev/null || fail "haproxy not installed (make cluster-test installs it)"
PY=/usr/bin/python3
CLIENT=127.0.0.2

proxy_flags=(--set proxy_protocol=yes --set proxy_trusted=127.0.0.1 --set ftp_allow_plaintext=yes)
# Node A creates the state (host key, certificate, users); B starts from a copy of it, so
# clients see one server whichever node they reach. Each keeps its own audit chain.
node_start A "${proxy_flags[@]}"
printf '%s\n' 'tina-pw-5' | "$FERRY_BIN" user add tina --password-stdin --home / \
    --state "$FERRY_DIR/state-A" >/dev/null || fail "user add"
cp -a "$FERRY_DIR/state-A" "$FERRY_DIR/state-B"
rm -f "$FERRY_DIR/state-B/audit.jsonl"
node_start B "${proxy_flags[@]}"

FE_FTP=$(free_port) FE_HTTPS=$(free_port) FE_SFTP=$(free_port)
cfg=$FERRY_DIR/haproxy.cfg
{
    printf 'global\n    maxconn 256\n'
    printf 'defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n'
    printf '    timeout server 60s\n    default-server send-proxy-v2 check check-send-proxy inter 1s\n'
    for svc in ftp https sftp; do
        case $svc in
        ftp) fe=$FE_FTP a=${NODE_FTP[A]} b=${NODE_FTP[B]} ;;
        https) fe=$FE_HTTPS a=${NODE_HTTPS[A]} b=${NODE_HTTPS[B]} ;;
        sftp) fe=$FE_SFTP a=${NODE_SFTP[A]} b=${NODE_SFTP[B]} ;;
        esac
        printf 'frontend %s\n    bind 127.0.0.1:%s\n    default_backend %s_nodes\n' "$svc" "$fe" "$svc"
        printf 'backend %s_nodes\n    balance roundrobin\n' "$svc"
        printf '    server a 127.0.0.1:%s\n    server b 127.0.0.1:%s\n' "$a" "$b"
    done
} >"$cfg"
haproxy_start "$cfg" "$FE_FTP" "$FE_HTTPS" "$FE_SFTP"
sleep 1.5 # a round of health checks

# FTP: upload through one node, download through both (round robin), listings.
echo "shared root, one tree" >"$FERRY_DIR/up.txt"
ftp=ftp://tina:tina-pw-5@127.0.0.1:$FE_FTP
curl -sS --max-time 30 --interface "$CLIENT" -T "$FERRY_DIR/up.txt" "$ftp/up.txt" ||
    fail "FTP upload through HAProxy"
for i in 1 2; do
    got=$(curl -sS --max-time 30 --interface "$CLIENT" "$ftp/up.txt") || fail "FTP download $i"
    assert_eq "$got" "shared root, one tree" "FTP download $i through HAProxy"
done
list=$(curl -sS --max-time 30 --interface "$CLIENT" --disable-epsv "$ftp/") || fail "FTP PASV listing"
assert_contains "$list" "up.txt" "FTP listing through HAProxy (PASV)"
echo "ftp: upload and downloads through HAProxy, both nodes serve the shared root"

# WebDAV over HTTPS, TLS passed through HAProxy.
for i in 1 2; do
    got=$(curl -sSk --max-time 30 --interface "$CLIENT" -u tina:tina-pw-5 \
        "https://127.0.0.1:$FE_HTTPS/up.txt") || fail "WebDAV GET $i"
    assert_eq "$got" "shared root, one tree" "WebDAV GET $i through HAProxy"
done
echo "webdav: GET through HAProxy on both nodes"

# SFTP: both nodes present the same host key.
export FE_SFTP CLIENT
$PY - <<'PYEOF' || fail "SFTP through HAProxy"
import os, socket, paramiko
keys = set()
for i in range(2):
    s = socket.socket(); s.bind((os.environ["CLIENT"], 0)); s.settimeout(30)
    s.connect(("127.0.0.1", int(os.environ["FE_SFTP"])))
    t = paramiko.Transport(s); t.connect(username="tina", password="tina-pw-5")
    keys.add(t.get_remote_server_key().get_fingerprint())
    sf = paramiko.SFTPClient.from_transport(t)
    assert "up.txt" in sf.listdir("/"), sf.listdir("/")
    sf.close(); t.close()
assert len(keys) == 1, keys
print("sftp: two logins through HAProxy, one host key")
PYEOF

# A client that skips the balancer is not a trusted proxy.
if curl -sS -I --max-time 10 --interface "$CLIENT" "ftp://tina:tina-pw-5@127.0.0.1:${NODE_FTP[A]}/" \
    >/dev/null 2>&1; then
    fail "a direct connection to node A, skipping HAProxy, was served"
fi

for n in A B; do
    log=$(cat "$FERRY_DIR/node-$n.log")
    for svc in ftp https sftp; do
        assert_contains "$log" "$svc connection from $CLIENT:" "node $n: a $svc session via HAProxy"
    done
    assert_contains "$log" "via proxy 127.0.0.1:" "node $n: the balancer named"
    case "$log" in
    *"no valid PROXY header"*) fail "node $n refused a connection from HAProxy (health check?)" ;;
    esac
done
assert_contains "$(cat "$FERRY_DIR/node-A.log")" "connection from $CLIENT:" "direct connection"
assert_contains "$(cat "$FERRY_DIR/node-A.log")" "not a trusted proxy" "direct connection refused"
echo "nodes: every session through HAProxy carries the client address $CLIENT"

for n in A B; do
    audit=$FERRY_DIR/state-$n/audit.jsonl
    grep '"event":"login"' "$audit" | grep -q "\"remote\":\"$CLIENT:" ||
        fail "node $n: no login record from $CLIENT"
    grep '"event":"login"' "$audit" | grep -q '"remote":"127.0.0.1:' &&
        fail "node $n: a login record with the balancer's address"
    "$FERRY_BIN" audit verify --log "$audit" >/dev/null || fail "node $n: audit chain"
done
echo "audit: both nodes' login records carry $CLIENT"

node_stop A
node_stop B
echo "c_haproxy: ok"
