#!/bin/bash
# TLS configuration, checked with `openssl s_client` on FTPS explicit (AUTH TLS), implicit
# FTPS and HTTPS: TLS 1.0 and 1.1 refused, TLS 1.2 and 1.3 accepted; no weak cipher suite
# (NULL, anonymous, export, RC4, DES/3DES, MD5, non-forward-secret key exchange) is
# accepted; every TLS 1.2 suite the server accepts is listed.
. tests/integration/lib.sh
command -v openssl >/dev/null || fail "openssl missing"
FTPS_PORT=$(free_port)
ferry_start --ftps-port "$FTPS_PORT"
# SECLEVEL=0 makes the client offer what OpenSSL 3 would otherwise refuse on its own side,
# so a failed handshake is the server's refusal.
sc() { # sc ENDPOINT ARGS...: 0 when the handshake succeeds
    local ep=$1
    shift
    case $ep in
    ftpes) set -- -starttls ftp -connect "127.0.0.1:$FTP_PORT" "$@" ;;
    ftps) set -- -connect "127.0.0.1:$FTPS_PORT" "$@" ;;
    https) set -- -connect "127.0.0.1:$HTTPS_PORT" "$@" ;;
    esac
    timeout 10 openssl s_client "$@" </dev/null >"$FERRY_DIR/sc.out" 2>&1 &&
        grep -q '^New, TLSv1\.[0-3], Cipher is [A-Z]' "$FERRY_DIR/sc.out"
}
for ep in ftpes ftps https; do
    for v in tls1 tls1_1; do
        sc $ep -$v -cipher 'ALL:@SECLEVEL=0' && fail "$ep accepts -$v"
    done
    sc $ep -tls1_2 || fail "$ep refuses TLS 1.2"
    sc $ep -tls1_3 || fail "$ep refuses TLS 1.3"
    for c in NULL aNULL eNULL EXPORT RC4 DES 3DES MD5 kRSA PSK SRP; do
        sc $ep -tls1_2 -cipher "$c:@SECLEVEL=0" && fail "$ep accepts weak TLS 1.2 suites '$c': $(grep '^New,' "$FERRY_DIR/sc.out")"
    done
    echo "$ep: TLS 1.0/1.1 refused, 1.2/1.3 accepted, no NULL/anon/export/RC4/DES/3DES/MD5/RSA-kx/PSK/SRP suite"
done
# Every TLS 1.2 suite HTTPS accepts, one handshake per suite the client knows.
accepted=
for c in $(openssl ciphers -tls1_2 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' | tr ':' ' '); do
    case $c in TLS_*) continue ;; esac # TLS 1.3 suites are not chosen by -cipher
    sc https -tls1_2 -cipher "$c:@SECLEVEL=0" && accepted="$accepted $c"
done
echo "https TLS 1.2 suites accepted:$accepted"
[ -n "$accepted" ] || fail "no TLS 1.2 suite accepted"
for c in $accepted; do
    case $c in ECDHE-* | DHE-*) ;; *) fail "suite without forward secrecy accepted: $c" ;; esac
    case $c in *-SHA) echo "note: CBC with SHA-1 MAC accepted: $c" ;; esac
done
ferry_stop
echo "t_tls_policy: ok"
