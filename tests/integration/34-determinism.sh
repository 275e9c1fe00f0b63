#!/usr/bin/env bash
# Output bytes independent of the core count (issue: OpenBLAS changed its
# summation order with its thread count, so the model's last bits, and then
# CSV values, depended on the machine).  sql/pipeline.sql on the shared
# Fruits-360 sample, each run on a fresh state database:
#   a. one core (taskset -c 0), OPENBLAS_NUM_THREADS=1, imgpca.threads 1
#   b. every core, OPENBLAS_NUM_THREADS=2, imgpca.threads 2
#   c. every core, OPENBLAS_NUM_THREADS=4, imgpca.threads 4
#   d. every core, OPENBLAS_NUM_THREADS=64 (as on a 64-core machine), imgpca.threads 0
# The model BLOB, pca.csv, scree.svg, scatter.svg and the report's data (less
# the run's output folder, duration and date) must be byte-identical.
# Last line: the runs' wall-clock times.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "missing test data $data"; exit 1; }
T=$(mktemp -d /tmp/imgpca-it34.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run() { # run NAME ENV... : pipeline into $T/NAME
  local name=$1; shift
  mkdir -p "$T/$name"
  local t0=$(date +%s.%N)
  (cd "$root" && env "$@" sqlite3 -batch -cmd ".load $root/dist/imgpca" \
     -cmd ".parameter set \$source '$data'" -cmd ".parameter set \$out '$T/$name/out'" \
     "$T/$name/state.db" < sql/pipeline.sql > "$T/$name/log" 2>&1) || { tail -5 "$T/$name/log"; fail "run $name"; }
  sqlite3 "$T/$name/state.db" "SELECT writefile('$T/$name/model.bin', model) FROM models" > /dev/null
  python3 - "$T/$name/out/report.html" > "$T/$name/report.json" <<'PY'
import json, sys
s = open(sys.argv[1], encoding='utf-8').read()
i = s.index('const DATA = ') + len('const DATA = ')
d, _ = json.JSONDecoder().raw_decode(s[i:])
for key in ('out', 'seconds', 'generated'):
    d['summary'].pop(key)
print(json.dumps(d, sort_keys=True))
PY
  echo "$name $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s" >> "$T/times"
}

run a OPENBLAS_NUM_THREADS=1 IMGPCA_THREADS=1 taskset -c 0
run b OPENBLAS_NUM_THREADS=2 IMGPCA_THREADS=2
run c OPENBLAS_NUM_THREADS=4 IMGPCA_THREADS=4
run d OPENBLAS_NUM_THREADS=64 IMGPCA_THREADS=0
[ "$(wc -c < "$T/a/out/pca.csv")" -gt 1000000 ] || fail "pca.csv is too small"
for r in b c d; do
  for f in model.bin out/pca.csv out/scree.svg out/scatter.svg report.json; do
    cmp -s "$T/a/$f" "$T/$r/$f" || fail "$f differs between run a (1 core, 1 thread) and run $r"
  done
done
echo "ok: model, pca.csv, SVGs and report data identical on 1 core / 1 thread and 2, 4, 64 OpenBLAS threads ($(tr '\n' ' ' < "$T/times"))"
