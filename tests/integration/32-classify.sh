#!/usr/bin/env bash
# sql/classify.sql against a pipeline state database (sql/pipeline.sql run
# on 4 classes of ../shared/data/fruits360):
#  1. a test image: its nearest neighbour and distance equal a brute-force
#     fvec_l2 scan of the stored projections, the vote of $knn = 3 equals
#     the majority (then smallest summed distance, then label) computed here
#  2. without $image, with a missing file, with an undecodable file, with
#     $knn = 0, and on a database without a model: exit status 1 and a
#     message naming the cause, no prediction printed
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "missing test data $data"; exit 1; }
T=$(mktemp -d /tmp/imgpca-it32.XXXXXX)
trap "rm -rf \"$T\"" EXIT
fail() { echo "FAIL: $*"; exit 1; }
sq() { sqlite3 -batch -cmd ".load $root/dist/imgpca" "$@"; }

for c in "Apple Braeburn 1" "Banana 1" "Cherry 1" "Apricot 1"; do
  mkdir -p "$T/src/Training/$c" "$T/src/Test/$c"
  cp "$data/Training/$c/"*.jpg "$T/src/Training/$c/"
  cp "$data/Test/$c/"*.jpg "$T/src/Test/$c/"
done
(cd "$root" && sq -cmd ".parameter set \$source '$T/src'" -cmd ".parameter set \$out '$T/out'" \
   -cmd ".parameter set \$k 10" "$T/s.db" < "$root/sql/pipeline.sql") > "$T/run.log" 2>&1 \
  || { cat "$T/run.log"; fail "pipeline failed"; }

classify() { # classify DB [-cmd ...] -> stdout+stderr in $T/out.txt, returns the exit status
  local db=$1; shift
  (cd "$T" && sq "$@" "$db" < "$root/sql/classify.sql") > "$T/out.txt" 2>&1
}

# ---- 1. a test image -------------------------------------------------------
img=$(ls "$T/src/Test/Banana 1/"*.jpg | head -1)
classify "$T/s.db" -cmd ".parameter set \$image '$img'" -cmd ".parameter set \$knn 3" \
  || { cat "$T/out.txt"; fail "classify.sql failed on $img"; }
# independent: project the image and scan every training projection with fvec_l2
want=$(sq "$T/s.db" "WITH m AS (SELECT * FROM models ORDER BY id DESC LIMIT 1),
  q AS (SELECT pca_project(m.model, img_features(s3_fetch('$img'), m.spec)) AS pc FROM m),
  d AS (SELECT i.label, p.key, fvec_l2(p.pc, q.pc) AS dist FROM q, projections AS p JOIN images AS i USING (key)
        WHERE i.split = 'train' ORDER BY dist, p.key LIMIT 5)
  SELECT printf('%-30s %8.4f  %s', label, dist, key) FROM d")
got=$(head -5 "$T/out.txt")
[ "$got" = "$want" ] || fail "nearest neighbours differ from the fvec_l2 scan:
$got
-- expected --
$want"
vote=$(sq "$T/s.db" "WITH m AS (SELECT * FROM models ORDER BY id DESC LIMIT 1),
  q AS (SELECT pca_project(m.model, img_features(s3_fetch('$img'), m.spec)) AS pc FROM m),
  d AS (SELECT i.label, fvec_l2(p.pc, q.pc) AS dist FROM q, projections AS p JOIN images AS i USING (key)
        WHERE i.split = 'train' ORDER BY dist, p.key LIMIT 3)
  SELECT printf('predicted: %s (%d of 3 nearest)', label, count(*)) FROM d
  GROUP BY label ORDER BY count(*) DESC, sum(dist), label LIMIT 1")
[ "$(tail -1 "$T/out.txt")" = "$vote" ] || fail "vote '$(tail -1 "$T/out.txt")', expected '$vote'"
[ "$(wc -l < "$T/out.txt")" = 6 ] || fail "expected 5 neighbours and a prediction: $(cat "$T/out.txt")"

# ---- 2. errors: exit 1, a clear message, no prediction ----------------------
expect_error() { # expect_error WHAT PATTERN DB [-cmd ...]
  local what=$1 pat=$2; shift 2
  if classify "$@"; then fail "$what: exit status 0: $(cat "$T/out.txt")"; fi
  grep -q -- "$pat" "$T/out.txt" || fail "$what: message does not match '$pat': $(cat "$T/out.txt")"
  ! grep -q "^predicted" "$T/out.txt" || fail "$what: printed a prediction"
}
expect_error "no \$image" 'classify: parameter $image is required' "$T/s.db"
expect_error "missing file" "s3_fetch: .*$T/nosuch.jpg" "$T/s.db" -cmd ".parameter set \$image '$T/nosuch.jpg'"
echo "not an image" > "$T/bad.jpg"
expect_error "undecodable file" "img_features: " "$T/s.db" -cmd ".parameter set \$image '$T/bad.jpg'"
expect_error "\$knn = 0" 'classify: parameter $knn must be a positive integer' "$T/s.db" \
  -cmd ".parameter set \$image '$img'" -cmd ".parameter set \$knn 0"
sq "$T/empty.db" "CREATE TABLE settings(key TEXT PRIMARY KEY, value ANY); CREATE TABLE models(id INTEGER PRIMARY KEY,
  source TEXT, spec TEXT, k INTEGER, n INTEGER, model BLOB); CREATE TABLE projections(key, model_id, pc);
  CREATE TABLE images(key, url, label, split, etag, spec, features)"
expect_error "no model" 'classify: no PCA model in this database' "$T/empty.db" -cmd ".parameter set \$image '$img'"

echo "classify.sql: 5 nearest = fvec_l2 scan, vote of 3 as computed independently; 5 bad inputs exit 1 with a message"
