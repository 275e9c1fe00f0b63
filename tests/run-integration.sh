#!/usr/bin/env bash
# Integration suites (real Ceph RGW, real Slurm, end-to-end pipeline):
# each tests/integration/NN-*.sh starts what it needs and exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
fail=0
for t in tests/integration/[0-9]*.sh; do
  [ -e "$t" ] || continue
  start=$(date +%s)
  if out=$(bash "$t" 2>&1); then
    echo "ok   integration $(basename "$t") ($(( $(date +%s) - start ))s) ${out##*$'\n'}"
  else
    echo "FAIL integration $(basename "$t")"; echo "$out" | tail -40; fail=1
  fi
done
exit $fail
