#!/bin/bash
# Hidden upstream files: vsftpd as it ships (no force_dot_files) lists dot files only for
# "LIST -a". ferry ls and ferry mirror send "LIST -a" to Unix servers without MLSD, so a
# mirror of a tree with dot files is complete; the mount shows them too.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/peers/peers.sh

src=$FERRY_DIR/src
mkdir -p "$src/.hidden-dir"
printf 'visible\n' >"$src/plain.txt"
printf 'dot\n' >"$src/.dotfile"
printf 'inside\n' >"$src/.hidden-dir/in.txt"
PEER_DOTFILES=no peer_start vsftpd "$src" user || fail "vsftpd did not start"
# The server really hides them from a plain LIST.
plain=$(curl -sS --max-time 20 "$PEER_URL")
case "$plain" in *.dotfile*) fail "vsftpd shows dot files without -a; the test proves nothing" ;; esac

out=$("$FERRY_BIN" ls "$PEER_URL" --json) || fail "ferry ls"
assert_contains "$out" '"name": ".dotfile"' "ferry ls shows the dot file"
assert_contains "$out" '"name": ".hidden-dir", "type": "dir"' "ferry ls shows the dot directory"
"$FERRY_BIN" mirror "$PEER_URL" "$FERRY_DIR/m" --quiet || fail "ferry mirror"
diff -r "$src" "$FERRY_DIR/m" -x .ferry-mirror.lock >/dev/null || fail "mirror lacks hidden files"

cat >"$FERRY_DIR/ferry.conf" <<EOC
[mount /up]
url = $PEER_URL
EOC
ferry_start --config "$FERRY_DIR/ferry.conf" --set ftp_allow_plaintext=yes
ferry_user_add hd 'hd-pw' --home /
# Ferry's FTP front end hides dot files unless asked, like the servers it replaces.
l=$(curl -sS --max-time 20 -X "LIST -a" "ftp://hd:hd-pw@127.0.0.1:$FTP_PORT/up/")
case "$l" in *.dotfile*) ;; *) fail "the mount does not list .dotfile: $l" ;; esac
assert_eq "$(curl -sS --max-time 20 "ftp://hd:hd-pw@127.0.0.1:$FTP_PORT/up/.hidden-dir/in.txt")" \
    inside "download from a hidden directory through the mount"
echo "t_list_hidden: ok"
