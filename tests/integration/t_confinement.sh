#!/bin/bash
# The short confinement matrix: the rows of tests/reliability/hostile_paths.tsv marked
# short, through FTP, SFTP, WebDAV and an upstream mount (the whole matrix runs in
# `make reliability`). Every case is refused or confined; outside trees stay unchanged.
. tests/integration/lib.sh
. tests/peers/peers.sh
[ "$(id -u)" = 0 ] || fail "needs root (planted links under the server root, peer users)"
. tests/reliability/confine_setup.sh --short
ferry_stop
echo "t_confinement: ok"
