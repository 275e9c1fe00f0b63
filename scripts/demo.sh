#!/usr/bin/env bash
# The main job (README command 1, via `make demo`): runs sql/pipeline.sql on
# local files and prints a summary.
#
#   scripts/demo.sh                      generated demo image set (demo/images)
#   SOURCE=/path/to/fruits360 scripts/demo.sh       a real folder
#   SOURCE=s3://bucket/prefix OUT=s3://bucket/out scripts/demo.sh
#
# Variables: SOURCE, OUT (default demo/out), DB (default demo/state.db;
# delete it to start from scratch), SPEC, K, REFIT=1, BATCH.
# The state database makes reruns incremental: only new or changed images
# are processed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SQLITE3=${SQLITE3:-sqlite3}
DB=${DB:-demo/state.db}
OUT=${OUT:-demo/out}
if [ -z "${SOURCE:-}" ]; then
  SOURCE=demo/images
  if [ ! -f demo/images/.complete ]; then
    echo "demo: generating the synthetic demo image set in demo/images"
    rm -rf demo/images
    /usr/bin/python3 scripts/make-demo-images.py demo/images
    touch demo/images/.complete
  fi
fi
mkdir -p "$(dirname "$DB")"
case "$OUT" in s3://*|s3a://*) ;; *) mkdir -p "$OUT" ;; esac
q() { printf "'%s'" "${1//\'/\'\'}"; }   # SQL string literal
args=(-cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source $(q "$SOURCE")"
      -cmd ".parameter set \$out $(q "$OUT")")
[ -n "${SPEC:-}" ] && args+=(-cmd ".parameter set \$spec $(q "$SPEC")")
[ -n "${K:-}" ] && args+=(-cmd ".parameter set \$k $K")
[ -n "${REFIT:-}" ] && args+=(-cmd ".parameter set \$refit $REFIT")
[ -n "${BATCH:-}" ] && args+=(-cmd ".parameter set \$batch $BATCH")
start=$EPOCHREALTIME
"$SQLITE3" -batch "${args[@]}" "$DB" < sql/pipeline.sql
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
"$SQLITE3" -batch -cmd ".load $root/dist/imgpca" "$DB" <<SQL
.mode list
.headers off
SELECT '';
SELECT '== summary';
SELECT printf('images        %d listed, %d with features, %d undecodable (table errors)',
              (SELECT count(*) FROM images), (SELECT count(*) FROM images WHERE features IS NOT NULL),
              (SELECT count(*) FROM errors));
SELECT printf('split         %d training, %d test',
              (SELECT count(*) FROM images WHERE split = 'train'), (SELECT count(*) FROM images WHERE split = 'test'));
SELECT printf('features      %d dimensions (spec ''%s'')', json_extract(pca_info(model), '\$.d'), spec)
FROM models ORDER BY id DESC LIMIT 1;
SELECT printf('components    %d, explaining %.1f %% of the variance (PC1 %.1f %%, PC2 %.1f %%)', k,
              100 * json_extract(pca_info(model), '\$.cumulative[#-1]'),
              100 * json_extract(pca_info(model), '\$.ratio[0]'), 100 * json_extract(pca_info(model), '\$.ratio[1]'))
FROM models ORDER BY id DESC LIMIT 1;
SELECT printf('accuracy      %.2f %% (%d of %d test images, 1-nearest neighbour in PCA space)', percent, correct, tested)
FROM accuracy WHERE tested > 0;
SELECT printf('outputs       %s/pca.csv, %s/scree.svg, %s/scatter.svg', value, value, value) FROM settings WHERE key = 'out';
SELECT printf('state         %s (rerun: only new or changed images are processed)', '$DB');
SELECT printf('time          %.1f s this run (%d images processed)', $secs, processed) FROM runs ORDER BY id DESC LIMIT 1;
SQL
case "$OUT" in
  s3://*|s3a://*) report="${OUT%/}/report.html" ;;
  *) report="$(cd "$OUT" && pwd)/report.html" ;;
esac
echo "report        $report (open it in a browser: summary, interactive scatter, classification)"
