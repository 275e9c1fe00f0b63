#!/usr/bin/env bash
# Runs C unit test binaries; each prints its failures and exits non-zero on any.
set -u
dir=$1; shift
fail=0
for t in "$@"; do
  if out=$("$t" 2>&1); then
    echo "ok   unit $(basename "$t") ${out##*$'\n'}"
  else
    echo "FAIL unit $(basename "$t")"; echo "$out" | tail -30; fail=1
  fi
done
exit $fail
