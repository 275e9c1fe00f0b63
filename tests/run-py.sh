#!/usr/bin/env bash
# Cross-checks in Python against independent implementations (Pillow,
# NumPy, scikit-learn from Debian).  Each tests/py/test_*.py exits non-zero
# on failure.  Uses Debian's /usr/bin/python3 (not a pyenv one).
set -u
cd "$(dirname "$0")/.."
export IMGPCA_EXT=${IMGPCA_EXT:-$PWD/dist/imgpca}
fail=0
for t in tests/py/test_*.py; do
  [ -e "$t" ] || continue
  if out=$(/usr/bin/python3 "$t" 2>&1); then
    echo "ok   py $(basename "$t") ${out##*$'\n'}"
  else
    echo "FAIL py $(basename "$t")"; echo "$out" | tail -30; fail=1
  fi
done
exit $fail
