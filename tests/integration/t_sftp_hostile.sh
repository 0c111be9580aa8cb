# Hostile SFTP input, spoken raw over `ssh -s sftp` by a small Python client: paths
# escaping the root with "..", symlinks planted on the host (absolute, to /), symlinks
# created to "/" and outside, hidden partial names, bogus and stale handles, the handle
# limit, unknown types and extensions, malformed packets, garbage after INIT, requests
# before INIT, oversized packets; and shell, exec and forwarding requests. The server
# must refuse each cleanly and keep serving.
. tests/integration/lib.sh
command -v ssh >/dev/null || fail "OpenSSH client missing"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

ferry_start --set sftp_max_handles=16
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_mallory" || fail "ssh-keygen"
ferry_user_add mallory 'mallory-Secret-4' --key "$FERRY_DIR/id_mallory.pub"
HOME_DIR=$FERRY_ROOT/mallory
SSH="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
 -o BatchMode=yes -i $FERRY_DIR/id_mallory -p $SFTP_PORT"
export SSH

# A file outside the user's home that nothing may reach, and traps planted on the host.
printf 'top secret\n' >"$FERRY_ROOT/secret.txt"
$SSH -s mallory@127.0.0.1 sftp </dev/null >/dev/null 2>&1 # first login creates the home
[ -d "$HOME_DIR" ] || fail "home not created"
ln -s /etc "$HOME_DIR/etc_link"
ln -s / "$HOME_DIR/host_root"
ln -s ../secret.txt "$HOME_DIR/up_link"

cat >"$FERRY_DIR/raw.py" <<'EOF'
import os, struct, subprocess, sys

SSH = os.environ["SSH"].split()
FX_OK, FX_EOF, FX_NOFILE, FX_PERM, FX_FAIL, FX_BAD, FX_UNSUP = 0, 1, 2, 3, 4, 5, 8
errors = []

def check(cond, what):
    if not cond:
        errors.append(what)
        print("FAIL:", what, file=sys.stderr)

def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b

class Conn:
    def __init__(self):
        self.p = subprocess.Popen(SSH + ["-s", "mallory@127.0.0.1", "sftp"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.id = 0
    def raw(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
    def send(self, t, body, with_id=True):
        self.id += 1
        head = struct.pack(">B", t) + (struct.pack(">I", self.id) if with_id else b"")
        pkt = head + body
        self.raw(struct.pack(">I", len(pkt)) + pkt)
        return self.id
    def recv(self):
        h = self.p.stdout.read(4)
        if len(h) < 4:
            return None
        n = struct.unpack(">I", h)[0]
        d = self.p.stdout.read(n)
        return d[0], d[1:]
    def init(self):
        self.raw(struct.pack(">IBI", 5, 1, 3))
        t, d = self.recv()
        check(t == 2 and d[:4] == b"\0\0\0\3", "VERSION 3")
        return d
    def status(self, rid):
        r = self.recv()
        check(r is not None, "a reply to request %d" % rid)
        if r is None:
            return None
        t, d = r
        check(struct.unpack(">I", d[:4])[0] == rid, "reply id %d" % rid)
        if t != 101:
            return ("type", t, d[4:])
        return struct.unpack(">I", d[4:8])[0]
    def reply(self, rid):
        t, d = self.recv()
        check(struct.unpack(">I", d[:4])[0] == rid, "reply id %d" % rid)
        return t, d[4:]
    def close(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        return self.p.wait(timeout=30)

def names(c, path):
    t, d = c.reply(c.send(11, s(path)))
    if t != 102:
        return None
    h = d[4:4 + struct.unpack(">I", d[:4])[0]]
    out = []
    while True:
        t, d = c.reply(c.send(12, s(h)))
        if t != 104:
            break
        n = struct.unpack(">I", d[:4])[0]
        off = 4
        for _ in range(n):
            l = struct.unpack(">I", d[off:off + 4])[0]
            out.append(d[off + 4:off + 4 + l].decode())
            off += 4 + l
            l = struct.unpack(">I", d[off:off + 4])[0]
            off += 4 + l
            flags = struct.unpack(">I", d[off:off + 4])[0]
            off += 4 + (8 if flags & 1 else 0) + (8 if flags & 2 else 0) + \
                (4 if flags & 4 else 0) + (8 if flags & 8 else 0)
    c.reply(c.send(4, s(h)))
    return out

def read_file(c, path):
    t, d = c.reply(c.send(3, s(path) + struct.pack(">II", 1, 0)))
    if t != 102:
        return None
    h = d[4:4 + struct.unpack(">I", d[:4])[0]]
    t, d = c.reply(c.send(5, s(h) + struct.pack(">QI", 0, 4096)))
    c.reply(c.send(4, s(h)))
    return d[4:] if t == 103 else b""

c = Conn()
ver = c.init()
for ext in (b"posix-rename@openssh.com", b"statvfs@openssh.com", b"hardlink@openssh.com",
            b"fsync@openssh.com", b"limits@openssh.com"):
    check(ext in ver, "VERSION advertises " + ext.decode())

# Escapes by "..": they end at the user's root.
for p in ["../secret.txt", "/../../secret.txt", "../../../../etc/passwd", "a/../../secret.txt"]:
    check(read_file(c, p) is None, "reading %s is refused" % p)
t, d = c.reply(c.send(16, s("../../..")))
check(t == 104 and d[8:9] == b"/", "REALPATH ../../.. is /")

# Host symlinks leading out: absolute, to /, relative upwards.
for p in ["etc_link/passwd", "host_root/etc/passwd", "up_link", "host_root" + os.environ.get("FERRY_ROOT", "") + "/secret.txt"]:
    check(read_file(c, p) is None, "reading through %s is refused" % p)
check(names(c, "etc_link") is None, "listing etc_link is refused")
check(names(c, "host_root") is None, "listing host_root is refused")
r = c.status(c.send(17, s("etc_link")))
check(r != FX_OK and not isinstance(r, tuple), "STAT through etc_link is refused")

# Symlinks created over SFTP: "/" is the user's own root, outside targets are refused or
# stay inside.
check(c.status(c.send(20, s("/") + s("/myroot"))) == FX_OK, "SYMLINK to / is accepted")
lst = names(c, "myroot")
check(lst is not None and "etc_link" in lst and "secret.txt" not in lst,
      "a link to / lists the user's root, not the host's: %r" % (lst,))
c.status(c.send(20, s("/etc/passwd") + s("/abs")))
check(read_file(c, "abs") is None, "an absolute link target does not reach /etc/passwd")
c.status(c.send(20, s("../../../secret.txt") + s("/rel")))
check(read_file(c, "rel") is None, "a ../ link target does not reach outside")

# Hidden partial names cannot be addressed.
check(c.status(c.send(17, s("/.ferry~0123456789abcdef"))) not in (FX_OK, None),
      "partial names are unreachable")

# Bogus and stale handles.
check(c.status(c.send(5, s(b"garbage") + struct.pack(">QI", 0, 10))) == FX_FAIL, "READ on a bogus handle")
check(c.status(c.send(4, s(os.urandom(8)))) == FX_FAIL, "CLOSE on a random handle")
t, d = c.reply(c.send(3, s("/f.txt") + struct.pack(">II", 0x1a, 0)))
check(t == 102, "OPEN for writing")
h = d[4:12]
check(c.status(c.send(4, s(h))) == FX_OK, "CLOSE")
check(c.status(c.send(6, s(h) + struct.pack(">Q", 0) + s(b"x"))) == FX_FAIL, "WRITE on a closed handle")

# The handle limit (16 here): the 17th open fails, the session goes on.
hs = []
for i in range(17):
    t, d = c.reply(c.send(11, s("/")))
    if t == 102:
        hs.append(d[4:12])
check(len(hs) == 16, "exactly 16 handles open, got %d" % len(hs))
for h in hs:
    c.status(c.send(4, s(h)))

# Unknown types and extensions, malformed requests.
check(c.status(c.send(150, b"whatever")) == FX_UNSUP, "unknown type -> OP_UNSUPPORTED")
check(c.status(c.send(200, s("no-such@example.com") + b"args")) == FX_UNSUP, "unknown extension")
check(c.status(c.send(17, struct.pack(">I", 100000) + b"short")) == FX_BAD, "string past the end")
check(c.status(c.send(3, s("/x"))) == FX_BAD, "OPEN without pflags")
check(c.status(c.send(17, s(b"/a\0b"))) not in (FX_OK, None), "NUL in a path")
c.raw(struct.pack(">IB", 1, 77))  # a type byte and nothing else: dropped
check(c.status(c.send(16, s("."))) is not None or True, "still answering")
check(c.close() is not None, "session ends")

# Garbage after INIT: random packets of every size; then the connection still works or
# is closed, and the server lives on.
c = Conn()
c.init()
rnd = os.urandom(20000)
for i in range(0, 20000, 200):
    chunk = rnd[i:i + 200]
    c.raw(struct.pack(">I", len(chunk)) + chunk)
rid = c.send(16, s("."))
while True:
    r = c.recv()
    if r is None or (r[0] == 104 and struct.unpack(">I", r[1][:4])[0] == rid):
        break
c.close()

# A request before INIT, a zero-length packet, an oversized packet: the session ends.
for junk in (struct.pack(">IBI", 5, 17, 1), struct.pack(">I", 0),
             struct.pack(">IBI", 5, 1, 3)[:0] + struct.pack(">I", 0x7fffffff) + b"\x03" * 64):
    c = Conn()
    if junk.startswith(struct.pack(">I", 0x7fffffff)):
        c.init()
    c.raw(junk)
    c.raw(struct.pack(">IBI", 9, 16, 1) + b"\0\0\0\1.")
    r = c.recv()
    check(r is None, "session closed after %r" % junk[:8])
    c.close()

# After all of that, the server still serves.
c = Conn()
c.init()
check(read_file(c, "f.txt") == b"", "server alive and serving")
c.close()
sys.exit(1 if errors else 0)
EOF
$PY "$FERRY_DIR/raw.py" || fail "raw SFTP checks failed"

# The planted traps are untouched and nothing was written outside the home.
[ "$(cat "$FERRY_ROOT/secret.txt")" = "top secret" ] || fail "secret.txt changed"
[ -z "$(find "$FERRY_ROOT" -path "$HOME_DIR" -prune -o -newer "$FERRY_DIR/raw.py" -print | grep -v "^$FERRY_ROOT\$")" ] ||
    fail "something was written outside the home"

# Only the sftp subsystem: shell, exec, other subsystems and forwarding are refused.
if $SSH mallory@127.0.0.1 true </dev/null 2>/dev/null; then fail "exec was allowed"; fi
if $SSH -tt mallory@127.0.0.1 </dev/null >/dev/null 2>&1; then fail "a shell was allowed"; fi
if $SSH -s mallory@127.0.0.1 netconf </dev/null >/dev/null 2>&1; then
    fail "another subsystem was allowed"
fi
if $SSH -W 127.0.0.1:$SFTP_PORT mallory@127.0.0.1 </dev/null >/dev/null 2>&1; then
    fail "direct-tcpip forwarding was allowed"
fi
if $SSH -o ExitOnForwardFailure=yes -N -R 0:127.0.0.1:$SFTP_PORT mallory@127.0.0.1 \
    </dev/null >/dev/null 2>&1; then
    fail "remote forwarding was allowed"
fi
# keyboard-interactive and none are not offered.
out=$($SSH -o PreferredAuthentications=keyboard-interactive,none -o IdentitiesOnly=yes \
    -o IdentityFile=/dev/null nobody@127.0.0.1 true </dev/null 2>&1)
case "$out" in *"(publickey,password)"*) ;; *) fail "offered auth methods: $out" ;; esac

ferry_stop
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "ok"
