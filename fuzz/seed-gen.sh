#!/usr/bin/env bash
# Generates the seed corpus of one fuzz target into DIR from the shared test
# data (../shared/data, never copied into the repository) -- run at fuzzing
# time.  Targets without generated seeds use only fuzz/seeds/<name>.
#   fuzz/seed-gen.sh NAME DIR
set -u
name=$1; dir=$2
cd "$(dirname "$0")/.."
data=../shared/data
[ -n "$(ls -A "$dir" 2>/dev/null)" ] && exit 0   # already generated
small_images() {  # images of at most 64 KiB (fast executions), linked not copied
  find "$data/images-edge" -type f -size -65k ! -iname '*.json' ! -iname 'LICENSE*' \
       ! -iname '*.txt' ! -iname '*.md' | while read -r f; do
    ln -sf "$(realpath "$f")" "$dir/$(echo "$f" | md5sum | cut -c1-16)"
  done
  find "$data/fruits360/Training" -name '*.jpg' 2>/dev/null | head -20 | while read -r f; do
    ln -sf "$(realpath "$f")" "$dir/$(echo "$f" | md5sum | cut -c1-16)"
  done
}
# the documented spec forms, prefixed to images for fuzz_image_features
specs=('hist:bins=8,sqrt' 'pixels:size=32x32' 'pixels:size=8,color=grey,norm=standard'
       'hist:bins=4x4x4,white=250' 'hog' 'decode:dct=off,warnings=ignore;pixels:size=4x4;hist:bins=6;hog:size=16x16,cell=4')
case $name in
  state_schema)
    # a state database with exactly the pipeline's schema, and variants with
    # a view / trigger writing a marker file through s3_put, an extra table
    [ -f dist/imgpca.so ] || exit 1
    sqlite3 -batch "$dir/valid.db" < sql/stages/01-schema.sql || exit 1
    cp "$dir/valid.db" "$dir/view.db"
    sqlite3 -batch "$dir/view.db" "DROP VIEW errors; CREATE VIEW errors AS SELECT s3_put('fuzz-state-marker', 'x') AS key, 1 AS error" 2>/dev/null
    cp "$dir/valid.db" "$dir/trigger.db"
    sqlite3 -batch "$dir/trigger.db" "CREATE TRIGGER t AFTER INSERT ON runs BEGIN SELECT s3_put('fuzz-state-marker', 'x'); END"
    cp "$dir/valid.db" "$dir/extra.db"
    sqlite3 -batch "$dir/extra.db" "CREATE TABLE extra(x DEFAULT (s3_put('fuzz-state-marker', 'x')))"
    ;;
  image_decode) small_images ;;
  image_features)
    find "$data/images-edge" -type f -size -33k ! -iname '*.json' ! -iname 'LICENSE*' ! -iname '*.txt' \
         ! -iname '*.md' | sort | awk 'NR % 3 == 1' | while read -r f; do
      for i in "${!specs[@]}"; do
        { printf '%s\n' "${specs[$i]}"; cat "$f"; } > "$dir/$(echo "$f" | md5sum | cut -c1-12)-$i"
      done
    done ;;
  pca_load)
    # models and states of several shapes, made now with the release build;
    # selector byte: bit0 state, bit1 fix the checksum
    [ -f dist/imgpca.so ] || exit 1
    sqlite3 -batch -cmd ".load dist/imgpca" :memory: >/dev/null <<SQL || exit 1
CREATE TABLE t AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
  SELECT i, fvec(i % 3, i * 0.5, sin(i), cos(i * 0.7), i % 5 - 2) AS v FROM n;
CREATE TABLE b(name, blob);
INSERT INTO b SELECT 'm-exact-k2', pca_fit(v, 2) FROM t;
INSERT INTO b SELECT 'm-std-frac', pca_fit(v, 0.8, '{"standardize":true}') FROM t;
INSERT INTO b SELECT 'm-stream', pca_fit(v, 2, '{"solver":"streaming","sketch":3}') FROM t;
INSERT INTO b SELECT 'm-k1-d2', pca_fit(fvec_slice(v, 0, 2), 1) FROM t;
INSERT INTO b SELECT 's-exact', pca_partial(v) FROM t;
INSERT INTO b SELECT 's-stream', pca_partial(v, '{"solver":"streaming","sketch":3}') FROM t;
INSERT INTO b SELECT 's-merged', pca_merge(s) FROM (SELECT pca_partial(v) AS s FROM t GROUP BY i % 3);
SELECT writefile('$dir/' || name || '-' || sel, CAST(char(sel) AS BLOB) || blob)
  FROM b, (SELECT 0 AS sel UNION ALL SELECT 2) WHERE (name GLOB 's-*') = 0
  UNION ALL SELECT writefile('$dir/' || name || '-' || sel, CAST(char(sel) AS BLOB) || blob)
  FROM b, (SELECT 1 AS sel UNION ALL SELECT 3) WHERE name GLOB 's-*';
SQL
    ;;
  onnx)
    # small models of the ONNX node tests for the supported operators, the
    # hostile models, and the heads (graph structure) of the shared MobileNets
    find /usr/share/libonnx-testdata/data/node -name model.onnx -size -4k 2>/dev/null | \
      grep -E '/test_(conv|batchnorm|relu|clip|leakyrelu|sigmoid|hardsigmoid|hardswish|mul|add|sub|div|concat|maxpool|averagepool|globalaveragepool|globalmaxpool|flatten|reshape|squeeze|unsqueeze|gemm|matmul|softmax|identity|dropout|constant|shape|gather)(_[a-z0-9_]*)?/' | \
      while read -r f; do ln -sf "$f" "$dir/$(echo "$f" | md5sum | cut -c1-16)"; done
    /usr/bin/python3 tests/cnn/hostile_models.py "$dir/hostile" >/dev/null 2>&1 && \
      for f in "$dir"/hostile/*.onnx; do mv "$f" "$dir/hostile-$(basename "$f")"; done
    rm -rf "$dir/hostile"
    for m in ../shared/models/*.onnx; do
      [ -f "$m" ] || continue
      head -c 4096 "$m" > "$dir/$(basename "$m" .onnx)-4k"
      head -c 65536 "$m" > "$dir/$(basename "$m" .onnx)-64k"
    done ;;
  *) : ;;
esac
exit 0
