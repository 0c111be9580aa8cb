#!/bin/bash
# WebDAV on HTTPS against hostile input, sent raw over TLS: request smuggling (Content-
# Length with Transfer-Encoding, duplicate Content-Length, unknown codings), obs-fold,
# bare CR and LF, over-long request lines and header sections, path traversal in URLs
# and in Destination (.., %2e%2e, %2f, overlong UTF-8, NUL, partial names, other hosts),
# XML bombs and external entities, oversized and over-deep XML, broken chunked framing,
# slowloris, plaintext and old TLS on the TLS port. Each is refused cleanly with the
# right status, and the server keeps serving everyone else.
. tests/integration/lib.sh
PY=${PYTHON:-/usr/bin/python3}

ferry_start --set login_timeout=3 --set idle_timeout=5
ferry_user_add alice 'alice-pw'
mkdir -p "$FERRY_ROOT/alice"
printf 'secret\n' >"$FERRY_ROOT/outside.txt"
printf 'x\n' >"$FERRY_ROOT/alice/f.txt"
W=$FERRY_DIR/work
mkdir -p "$W"
AUTH="Authorization: Basic $(printf 'alice:alice-pw' | base64)"
B="https://127.0.0.1:$HTTPS_PORT"

# raw.py: sends stdin over TLS, prints every response status line, then CLOSED when the
# server closed the connection (or OPEN after the read timeout).
cat >"$W/raw.py" <<'PYEOF'
import socket, ssl, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 8
data = sys.stdin.buffer.read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout),
                    server_hostname="localhost")
try:
    s.sendall(data)
except OSError:
    pass
out, state = b"", "OPEN"
try:
    while True:
        d = s.recv(65536)
        if not d:
            state = "CLOSED"
            break
        out += d
except socket.timeout:
    pass
except (OSError, ssl.SSLError):
    state = "CLOSED"
for line in out.split(b"\n"):
    if line.startswith(b"HTTP/1."):
        print(line.rstrip(b"\r").decode("latin-1"))
print(state)
PYEOF
raw() { $PY "$W/raw.py" "$HTTPS_PORT" "$@"; }
# expect STATUS NAME: the request on stdin gets exactly one response, STATUS, and the
# connection is closed.
expect() {
    local want=$1 name=$2 out
    out=$(raw)
    assert_eq "$out" "$(printf 'HTTP/1.1 %s\nCLOSED' "$want")" "$name"
}
req() { printf '%s\r\nHost: h\r\n%s\r\n' "$1" "$AUTH"; }

# Smuggling and framing.
printf 'POST /f.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n' |
    expect "400 Bad Request" "CL + TE"
printf 'PUT /f.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n' |
    expect "400 Bad Request" "TE + CL"
printf 'PUT /f.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxx' |
    expect "400 Bad Request" "duplicate Content-Length"
printf 'PUT /f.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nx' |
    expect "400 Bad Request" "Content-Length list"
printf 'PUT /f.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' |
    expect "501 Not Implemented" "unknown transfer coding"
printf 'PUT /f.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n' |
    expect "400 Bad Request" "chunked not last"
printf 'GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n' | expect "400 Bad Request" "obs-fold"
printf 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n' | expect "400 Bad Request" "bare CR"
printf 'GET / HTTP/1.1\nHost: h\n\n' | expect "400 Bad Request" "bare LF"
printf 'GET / HTTP/1.1\r\nHost : h\r\n\r\n' | expect "400 Bad Request" "space before colon"
printf 'GET / HTTP/1.1\r\n\r\n' | expect "400 Bad Request" "missing Host"
printf 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' | expect "400 Bad Request" "two Hosts"
printf 'GET / HTTP/2.0\r\nHost: h\r\n\r\n' | expect "505 HTTP Version Not Supported" "HTTP/2.0"
{ printf 'GET /'; head -c 9000 /dev/zero | tr '\0' a; printf ' HTTP/1.1\r\nHost: h\r\n\r\n'; } |
    expect "414 URI Too Long" "long request line"
{ printf 'GET / HTTP/1.1\r\nHost: h\r\nX-Big: '; head -c 70000 /dev/zero | tr '\0' b; printf '\r\n\r\n'; } |
    expect "431 Request Header Fields Too Large" "long header section"
{ printf 'GET / HTTP/1.1\r\nHost: h\r\n'; for i in $(seq 120); do printf 'X-%d: y\r\n' $i; done; printf '\r\n'; } |
    expect "431 Request Header Fields Too Large" "too many fields"
printf 'PUT /chunky.txt HTTP/1.1\r\nHost: h\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n' "$AUTH" |
    expect "400 Bad Request" "broken chunk framing"
[ -e "$FERRY_ROOT/alice/chunky.txt" ] && fail "broken chunked PUT created the file"

# A keep-alive connection answers pipelined requests in order, then a bad one ends it.
out=$({ req 'GET /f.txt HTTP/1.1'; printf '\r\n'; req 'HEAD /f.txt HTTP/1.1'; printf '\r\n';
    printf 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'; } | raw)
assert_eq "$out" "$(printf 'HTTP/1.1 200 OK\nHTTP/1.1 200 OK\nHTTP/1.1 400 Bad Request\nCLOSED')" \
    "pipelining"

# Traversal in request-targets.
for t in '/../outside.txt' '/%2e%2e/outside.txt' '/.%2E/outside.txt' '/x/..%2foutside.txt' \
    '/x%2f..%2f..%2foutside.txt' '/%c0%ae%c0%ae/outside.txt' '/%e0%80%ae%e0%80%ae/outside.txt' \
    '/f.txt%00.jpg' '/%00' '/a%zz' '/.ferry~0123456789abcdef' 'http://evil.example/outside.txt' \
    '/f.txt#frag' 'outside.txt'; do
    { req "GET $t HTTP/1.1"; printf 'Connection: close\r\n\r\n'; } | expect "400 Bad Request" "GET $t"
done
assert_eq "$(curl -sk -u alice:alice-pw --path-as-is "$B/../outside.txt")" "400 Bad Request" \
    "curl --path-as-is .."

# Traversal and foreign hosts in Destination.
for d in "https://h/../outside.txt" "https://h/%2e%2e/outside.txt" "https://h/a%2f..%2f..%2fo" \
    "https://h/%c0%ae%c0%ae/o" "https://h/o%00" "/%2E%2E/o"; do
    { req 'COPY /f.txt HTTP/1.1'; printf 'Destination: %s\r\nConnection: close\r\n\r\n' "$d"; } |
        expect "400 Bad Request" "Destination $d"
done
{ req 'MOVE /f.txt HTTP/1.1'; printf 'Destination: https://evil.example/f.txt\r\nConnection: close\r\n\r\n'; } |
    expect "502 Bad Gateway" "Destination on another host"
[ -e "$FERRY_ROOT/alice/f.txt" ] || fail "f.txt moved"
[ "$(cat "$FERRY_ROOT/outside.txt")" = secret ] || fail "outside.txt touched"

# XML bodies: entity expansion, external entities, depth, size.
propfind() { # propfind NAME STATUS < body
    local body
    body=$(cat)
    { req 'PROPFIND /f.txt HTTP/1.1'; printf 'Depth: 0\r\nContent-Type: application/xml\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "${#body}" "$body"; } | expect "$2" "$1"
}
propfind "billion laughs" "400 Bad Request" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:foo>&lol4;</D:foo></D:prop></D:propfind>
XML
propfind "external entity" "400 Bad Request" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:foo>&e;</D:foo></D:prop></D:propfind>
XML
propfind "parameter entity" "400 Bad Request" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>
<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>
XML
deep=$(printf '<D:propfind xmlns:D="DAV:"><D:prop>'; for i in $(seq 3000); do printf '<a>'; done)
printf '%s' "$deep" | propfind "deep nesting" "413 Content Too Large"
printf '<D:propfind xmlns:D="DAV:"><D:prop><D:x' | propfind "malformed XML" "400 Bad Request"
{ req 'PROPPATCH /f.txt HTTP/1.1'; printf 'Content-Length: 2000000\r\n\r\n'; head -c 2000000 /dev/zero; } |
    expect "413 Content Too Large" "oversized XML body"

# Slowloris: three clients trickle a request head; each is cut off after the head
# timeout (login_timeout=3 here) while a normal client is served meanwhile.
cat >"$W/slow.py" <<'PYEOF'
import socket, ssl, sys, time
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                    server_hostname="localhost")
start = time.time()
try:
    for ch in b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"a" * 100:
        s.sendall(bytes([ch]))
        time.sleep(0.5)
    print("NOT CUT")
except (OSError, ssl.SSLError):
    print("CUT %.0f" % (time.time() - start))
PYEOF
slow_pids=
for i in 1 2 3; do
    $PY "$W/slow.py" "$HTTPS_PORT" >"$W/slow$i" &
    slow_pids="$slow_pids $!"
done
sleep 1
assert_eq "$(curl -sk -u alice:alice-pw "$B/f.txt")" "x" "served during slowloris"
for p in $slow_pids; do wait "$p"; done
for i in 1 2 3; do
    read -r verdict secs <"$W/slow$i"
    assert_eq "$verdict" CUT "slowloris client $i"
    [ "$secs" -le 8 ] || fail "slowloris client $i lasted ${secs}s"
done

# Not TLS, or too old a TLS, on the TLS port: the handshake fails, nothing else does.
$PY -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
try:
    s.recv(100)
except OSError:
    pass' "$HTTPS_PORT" 
curl -sk --tls-max 1.1 "$B/" -o /dev/null 2>/dev/null && fail "TLS 1.1 accepted"

# Still serving, and nothing crashed.
assert_eq "$(curl -sk -u alice:alice-pw "$B/f.txt")" "x" "still serving"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
