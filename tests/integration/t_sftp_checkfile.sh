# The check-file hash extension (draft-ietf-secsh-filexfer-extensions, SHA-256) spoken raw
# over `ssh -s sftp` by a small Python client, so it is tested without paramiko: whole
# files and ranges, block hashes, offsets above 4 GiB in a sparse file, the algorithm
# list, check-file-handle on read and write handles, and refusals (a name outside the
# root, a block size below 256, a range past the end, md5 only). Every digest is
# compared with hashlib's over the same bytes.
. tests/integration/lib.sh
command -v ssh >/dev/null || fail "OpenSSH client missing"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

ferry_start
ssh-keygen -q -t ed25519 -N "" -f "$FERRY_DIR/id_hana" || fail "ssh-keygen"
ferry_user_add hana 'hana-Secret-7' --key "$FERRY_DIR/id_hana.pub"
HOME_DIR=$FERRY_ROOT/hana
SSH="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
 -o BatchMode=yes -i $FERRY_DIR/id_hana -p $SFTP_PORT"
export SSH
$SSH -s hana@127.0.0.1 sftp </dev/null >/dev/null 2>&1 # first login creates the home
[ -d "$HOME_DIR" ] || fail "home not created"
head -c 1000000 /dev/urandom >"$HOME_DIR/data.bin" || fail "test file"
# Sparse, above 4 GiB, with a marker past 4 GiB so a wrong offset shows.
truncate -s $((4 * 1024 * 1024 * 1024 + 8 * 1024 * 1024)) "$HOME_DIR/sparse.img" ||
    fail "sparse file"
printf 'marker above 4 GiB' | dd of="$HOME_DIR/sparse.img" bs=1 \
    seek=$((4 * 1024 * 1024 * 1024 + 1024 * 1024)) conv=notrunc 2>/dev/null || fail "marker"
printf 'outside\n' >"$FERRY_ROOT/outside.txt"

cat >"$FERRY_DIR/checkfile.py" <<'EOF'
import hashlib, os, struct, subprocess, sys

SSH = os.environ["SSH"].split()
HOME = os.environ["HOMEDIR"]
FX_OK, FX_EOF, FX_NOFILE, FX_PERM, FX_FAIL, FX_UNSUP = 0, 1, 2, 3, 4, 8
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
        self.p = subprocess.Popen(SSH + ["-s", "hana@127.0.0.1", "sftp"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.id = 0
    def send(self, t, body):
        self.id += 1
        pkt = struct.pack(">BI", t, self.id) + body
        self.p.stdin.write(struct.pack(">I", len(pkt)) + pkt)
        self.p.stdin.flush()
        return self.id
    def recv(self):
        n = struct.unpack(">I", self.p.stdout.read(4))[0]
        d = self.p.stdout.read(n)
        return d[0], d[1:]
    def reply(self, rid):
        t, d = self.recv()
        check(struct.unpack(">I", d[:4])[0] == rid, "reply id %d" % rid)
        return t, d[4:]
    def close(self):
        self.p.stdin.close()
        return self.p.wait(timeout=30)

def parse_check_reply(t, d):
    """(algorithm, [digests]) of an EXTENDED_REPLY, or the status code."""
    if t == 101:
        return struct.unpack(">I", d[:4])[0]
    check(t == 201, "check-file answers with EXTENDED_REPLY (got type %d)" % t)
    n = struct.unpack(">I", d[:4])[0]
    ext = d[4:4 + n]
    d = d[4 + n:]
    n = struct.unpack(">I", d[:4])[0]
    alg = d[4:4 + n].decode()
    rest = d[4 + n:]
    check(ext == b"check-file", "reply names check-file")
    check(len(rest) % 32 == 0, "whole SHA-256 digests")
    return alg, [rest[i:i + 32] for i in range(0, len(rest), 32)]

def by_name(c, path, algs="sha256", off=0, length=0, bs=0):
    rid = c.send(200, s("check-file-name") + s(path) + s(algs) + struct.pack(">QQI", off, length, bs))
    return parse_check_reply(*c.reply(rid))

def by_handle(c, h, algs="sha256", off=0, length=0, bs=0):
    rid = c.send(200, s("check-file-handle") + s(h) + s(algs) + struct.pack(">QQI", off, length, bs))
    return parse_check_reply(*c.reply(rid))

def open_(c, path, pflags):
    t, d = c.reply(c.send(3, s(path) + struct.pack(">II", pflags, 0)))
    check(t == 102, "open %s" % path)
    return d[4:4 + struct.unpack(">I", d[:4])[0]]

def sha(b):
    return hashlib.sha256(b).digest()

data = open(os.path.join(HOME, "data.bin"), "rb").read()
c = Conn()
c.p.stdin.write(struct.pack(">IBI", 5, 1, 3))
c.p.stdin.flush()
t, ver = c.recv()
check(t == 2 and b"check-file" in ver, "VERSION advertises check-file")

# Whole file, one digest; the algorithm picked from a list.
check(by_name(c, "data.bin") == ("sha256", [sha(data)]), "whole-file digest")
check(by_name(c, "/data.bin", "md5,sha1,sha256") == ("sha256", [sha(data)]),
      "sha256 picked from a list")
# A range, and blocks (the last one short).
check(by_name(c, "data.bin", off=1000, length=5000) == ("sha256", [sha(data[1000:6000])]),
      "range digest")
bs = 256 * 1024
want = [sha(data[i:i + bs]) for i in range(0, len(data), bs)]
check(by_name(c, "data.bin", bs=bs) == ("sha256", want), "block digests")
check(by_name(c, "data.bin", off=999000, length=0) == ("sha256", [sha(data[999000:])]),
      "length 0 runs to the end")
# Offsets above 4 GiB in a sparse file: the marker is seen where it is.
G4 = 4 * 1024 * 1024 * 1024
with open(os.path.join(HOME, "sparse.img"), "rb") as f:
    f.seek(G4 + 1024 * 1024 - 100)
    chunk = f.read(4096)
check(by_name(c, "sparse.img", off=G4 + 1024 * 1024 - 100, length=4096) == ("sha256", [sha(chunk)]),
      "range above 4 GiB")
check(b"marker above 4 GiB" in chunk, "test setup: marker in the range")

# Through a handle opened for reading: the same digest.
h = open_(c, "data.bin", 1)
check(by_handle(c, h) == ("sha256", [sha(data)]), "check-file-handle digest")
c.reply(c.send(4, s(h)))
# A write handle is refused (the draft requires read access), and the upload still works.
h = open_(c, "new.bin", 0x02 | 0x08 | 0x10)
check(by_handle(c, h) == FX_PERM, "check-file-handle on a write handle refused")
t, d = c.reply(c.send(6, s(h) + struct.pack(">Q", 0) + s(b"hello")))
check(t == 101 and struct.unpack(">I", d[:4])[0] == FX_OK, "write after the refusal")
c.reply(c.send(4, s(h)))
check(by_name(c, "new.bin") == ("sha256", [sha(b"hello")]), "digest of the committed upload")

# Refusals.
check(by_name(c, "data.bin", "md5") == FX_UNSUP, "md5 only: OP_UNSUPPORTED")
check(by_name(c, "data.bin", bs=100) == FX_FAIL, "block size below 256 refused")
check(by_name(c, "data.bin", off=2000000) == FX_FAIL, "offset past the end refused")
r = by_name(c, "../outside.txt")
check(r == FX_NOFILE, "a name outside the root is not found (got %r)" % (r,))
check(by_handle(c, b"\0" * 8) == FX_FAIL, "bogus handle refused")
check(by_name(c, "missing.bin") == FX_NOFILE, "missing file")
# The session still serves after all of that.
check(by_name(c, "data.bin") == ("sha256", [sha(data)]), "still serving")
check(c.close() == 0, "clean exit")
sys.exit(1 if errors else 0)
EOF
HOMEDIR=$HOME_DIR $PY "$FERRY_DIR/checkfile.py" || fail "check-file checks"
! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$FERRY_DIR/serve.log" || fail "sanitizer report"
echo "ok"
