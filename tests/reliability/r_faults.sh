#!/bin/bash
# Reliability: crash and fault injection at length (see tests/reliability/faults_run.sh):
# 50 session kills per protocol and direction (100 transfers cut per protocol), 5 parent kills per
# protocol, disk full, 3 upstream kills mid-mirror.
. tests/integration/lib.sh
[ "$(id -u)" = 0 ] || fail "needs root (tmpfs mount)"
FAULT_N=${FAULT_N:-50} FAULT_K=${FAULT_K:-5} FAULT_MIRROR=${FAULT_MIRROR:-3}
. tests/reliability/faults_run.sh
echo "r_faults: ok"
