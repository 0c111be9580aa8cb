#!/bin/bash
# Builds the trees that legacy FTP peers serve in the tests (tests/peers/peers.sh).
#   make_tree.sh DIR                      the tricky tree of issue 5
#   make_tree.sh DIR --integrity KEYDIR   files with verification evidence (anonymous tests)
# DIR is created (it must not exist or be empty). Every directory is left mode 0755 and
# every file 0644 so that a server session running as an unprivileged user can read them.
#
# Tricky tree (names are exact; tests compare against them):
#   plain.txt                 1000 random bytes (base64 text)
#   random.bin                100000 random bytes
#   " leading space.txt"      leading space in the name
#   "trailing space.txt "     trailing space
#   café.txt, 日本語.txt      UTF-8 names
#   latin1-<0xE9>.txt         a raw Latin-1 byte: not valid UTF-8
#   "arrow -> name.txt"       " -> " inside a plain file's name (not a link)
#   link-to-plain             symlink to plain.txt
#   empty-dir/                empty directory
#   nested/a/b/deep.bin       4096 random bytes, three levels down
#   sparse-5g.bin             5 GiB sparse file (sizes and offsets above 4 GiB)
#   old-2001.txt              mtime 2001-06-15 12:34 UTC
#   last-week.txt             mtime 7 days ago, whole minute
# Integrity tree:
#   good.bin, good.txt        listed in SHA256SUMS (signed: SHA256SUMS.minisig)
#   tampered.bin              listed in SHA256SUMS but changed afterwards: hash mismatch
#   unlisted.bin              in the same directory, in no manifest: no evidence
#   sidecar.bin + sidecar.bin.sha256        per-file hash (sha256sum format)
#   signed.bin + signed.bin.minisig         per-file minisign signature
#   bare/lonely.bin           a directory without any evidence at all
#   KEYDIR/minisign.pub, KEYDIR/minisign.key (unencrypted, made with minisign -G -W)
set -eu

rand_file() { # PATH BYTES
    head -c "$2" /dev/urandom >"$1"
}

tricky_tree() {
    local d=$1
    head -c 750 /dev/urandom | base64 -w 0 | head -c 1000 >"$d/plain.txt"
    rand_file "$d/random.bin" 100000
    echo "leading" >"$d/ leading space.txt"
    echo "trailing" >"$d/trailing space.txt "
    echo "cafe" >"$d/café.txt"
    echo "nihongo" >"$d/日本語.txt"
    echo "latin1" >"$d/$(printf 'latin1-\351.txt')"
    echo "arrow" >"$d/arrow -> name.txt"
    ln -s plain.txt "$d/link-to-plain"
    mkdir "$d/empty-dir"
    mkdir -p "$d/nested/a/b"
    rand_file "$d/nested/a/b/deep.bin" 4096
    echo "top of nested" >"$d/nested/readme.txt"
    truncate -s 5G "$d/sparse-5g.bin"
    # A few recognisable bytes past 4 GiB, so a read at a high offset is checkable.
    printf 'past-4GiB' | dd of="$d/sparse-5g.bin" bs=1 seek=$((4 * 1024 * 1024 * 1024 + 17)) \
        conv=notrunc status=none
    echo "old" >"$d/old-2001.txt"
    TZ=UTC touch -d '2001-06-15 12:34:00' "$d/old-2001.txt"
    echo "recent" >"$d/last-week.txt"
    touch -d "@$(( ($(date +%s) - 7 * 86400) / 60 * 60 ))" "$d/last-week.txt"
}

integrity_tree() {
    local d=$1 keys=$2
    mkdir -p "$keys" "$d/bare"
    rand_file "$d/good.bin" 65536
    echo "good text" >"$d/good.txt"
    rand_file "$d/tampered.bin" 5000
    (cd "$d" && sha256sum good.bin good.txt tampered.bin >SHA256SUMS)
    printf 'X' | dd of="$d/tampered.bin" bs=1 seek=100 conv=notrunc status=none
    rand_file "$d/unlisted.bin" 3000
    rand_file "$d/sidecar.bin" 7000
    (cd "$d" && sha256sum sidecar.bin >sidecar.bin.sha256)
    rand_file "$d/signed.bin" 9000
    rm -f "$keys/minisign.pub" "$keys/minisign.key"
    minisign -G -W -p "$keys/minisign.pub" -s "$keys/minisign.key" >/dev/null
    minisign -S -s "$keys/minisign.key" -m "$d/SHA256SUMS" >/dev/null
    minisign -S -s "$keys/minisign.key" -m "$d/signed.bin" >/dev/null
    rand_file "$d/bare/lonely.bin" 2000
}

[ $# -ge 1 ] || { echo "usage: make_tree.sh DIR [--integrity KEYDIR]" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
if [ $# -ge 3 ] && [ "$2" = --integrity ]; then
    integrity_tree "$dir" "$3"
elif [ $# -eq 1 ]; then
    tricky_tree "$dir"
else
    echo "usage: make_tree.sh DIR [--integrity KEYDIR]" >&2
    exit 2
fi
find "$dir" -type d -exec chmod 0755 {} +
find "$dir" -type f -exec chmod 0644 {} +
