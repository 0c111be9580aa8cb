#!/bin/bash
# Crash and fault injection, short version of tests/reliability/r_faults.sh: sessions and
# the parent killed mid-transfer (nothing partial under a final name, uploads resume to
# identical bytes, the audit log verifies), disk full on a tmpfs root (452/552,
# SSH_FX_FAILURE with a message, 507), the upstream killed mid-mirror.
. tests/integration/lib.sh
[ "$(id -u)" = 0 ] || fail "needs root (tmpfs mount)"
FAULT_N=3 FAULT_K=1 FAULT_MIRROR=1
. tests/reliability/faults_run.sh
echo "t_faults: ok"
