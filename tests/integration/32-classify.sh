#!/usr/bin/env bash
# Classification: stage 6 of sql/pipeline.sql and sql/classify.sql, on 4
# classes of ../shared/data/fruits360 (3 of them apples, PCA k = 2, so that
# some test images are misclassified):
#  0. the pipeline's k-NN predictions ($knn = 3, then $knn = 1 on a rerun)
#     equal a vote computed here from a brute-force fvec_l2 scan (most
#     votes, smallest summed distance, label); the confusions view adds up
#     to the errors of the accuracy view and its examples are such errors
#  1. sql/classify.sql on a test image: its nearest neighbour and distance equal a brute-force
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

for c in "Apple Braeburn 1" "Apple Red 1" "Apple Golden 1" "Banana 1"; do
  mkdir -p "$T/src/Training/$c" "$T/src/Test/$c"
  cp "$data/Training/$c/"*.jpg "$T/src/Training/$c/"
  cp "$data/Test/$c/"*.jpg "$T/src/Test/$c/"
done
(cd "$root" && sq -cmd ".parameter set \$source '$T/src'" -cmd ".parameter set \$out '$T/out'" \
   -cmd ".parameter set \$k 2" -cmd ".parameter set \$knn 3" "$T/s.db" < "$root/sql/pipeline.sql") > "$T/run.log" 2>&1 \
  || { cat "$T/run.log"; fail "pipeline failed"; }

# ---- 0. the pipeline's predictions ------------------------------------------
check_votes() { # check_votes KNN
  local bad
  bad=$(sq "$T/s.db" "WITH d AS (
      SELECT q.key AS qk, r.key AS rk, ri.label, fvec_l2(q.pc, r.pc) AS dist
      FROM projections AS q JOIN images AS qi ON qi.key = q.key, projections AS r JOIN images AS ri ON ri.key = r.key
      WHERE qi.split = 'test' AND ri.split = 'train'),
    top AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY qk ORDER BY dist, rk) AS rn FROM d) WHERE rn <= $1),
    v AS (SELECT qk, label, row_number() OVER (PARTITION BY qk ORDER BY count(*) DESC, sum(dist), label) AS place
          FROM top GROUP BY qk, label)
    SELECT (SELECT count(*) FROM images WHERE split = 'test') - count(*) FROM v
    JOIN top AS t ON t.qk = v.qk AND t.rn = 1
    JOIN predictions AS p ON p.key = v.qk
    WHERE v.place = 1 AND p.predicted = v.label AND p.neighbour = t.rk AND abs(p.distance - t.dist) <= 1e-12")
  [ "$bad" = 0 ] || fail "\$knn = $1: $bad test images whose prediction differs from the brute-force vote"
}
check_votes 3
grep -q "^classified: 60 test images, 3-NN accuracy" "$T/run.log" || fail "no 3-NN summary: $(cat "$T/run.log")"
read -r errors wrong examples_ok < <(sq "$T/s.db" "SELECT (SELECT sum(errors) FROM confusions),
  (SELECT tested - correct FROM accuracy),
  (SELECT count(*) FROM confusions AS c, json_each(c.examples) AS e JOIN predictions AS p ON p.key = e.value
   JOIN images AS i ON i.key = p.key WHERE p.predicted = c.predicted AND i.label = c.label)
  = (SELECT sum(min(errors, 3)) FROM confusions)" | tr '|' ' ')
[ "$wrong" -gt 0 ] || fail "no misclassified test image: the confusions check would be empty"
[ "$errors" = "$wrong" ] && [ "$examples_ok" = 1 ] || fail "confusions: $errors errors, accuracy: $wrong, examples ok: $examples_ok"
(cd "$root" && sq -cmd ".parameter set \$knn 1" "$T/s.db" < "$root/sql/pipeline.sql") > "$T/run2.log" 2>&1 \
  || { cat "$T/run2.log"; fail "rerun with \$knn = 1 failed"; }
check_votes 1
[ "$(sq "$T/s.db" "SELECT value FROM settings WHERE key = 'knn'")" = 1 ] || fail "\$knn not stored"

classify() { # classify DB [-cmd ...] -> stdout+stderr in $T/out.txt, returns the exit status
  local db=$1; shift
  (cd "$root" && sq "$@" "$db" < sql/classify.sql) > "$T/out.txt" 2>&1
}

# ---- 1. a test image -------------------------------------------------------
img=$(ls "$T/src/Test/Apple Red 1/"*.jpg | sed -n 1p)
classify "$T/s.db" -cmd ".parameter set \$image '$img'" -cmd ".parameter set \$knn 3" \
  || { cat "$T/out.txt"; fail "classify.sql failed on $img"; }
# independent: project the image and scan every training projection with fvec_l2
want=$(sq "$T/s.db" "WITH m AS (SELECT * FROM models ORDER BY id DESC LIMIT 1),
  q AS (SELECT pca_project(m.model, img_features(s3_fetch('$img'), m.spec)) AS pc FROM m),
  d AS (SELECT i.label, p.key, fvec_l2(p.pc, q.pc) AS dist FROM q, projections AS p JOIN images AS i USING (key)
        WHERE i.split = 'train' ORDER BY dist, p.key LIMIT 5)
  SELECT printf('%-30s %8.4f  %s', label, dist, key) FROM d")
[ "$(head -1 "$T/out.txt")" = "label                          distance  training image" ] || fail "no header line: $(head -1 "$T/out.txt")"
got=$(sed -n 2,6p "$T/out.txt")
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
[ "$(wc -l < "$T/out.txt")" = 7 ] || fail "expected a header, 5 neighbours and a prediction: $(cat "$T/out.txt")"

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

# ---- 3. sql/similar.sql: nearest stored images (training and test) ----------
timg=$(ls "$T/src/Training/Banana 1/"*.jpg | sed -n 7p)
(cd "$root" && sq -cmd ".parameter set \$image '$timg'" -cmd ".parameter set \$n 8" "$T/s.db" < sql/similar.sql) \
  > "$T/sim.txt" 2>&1 || { cat "$T/sim.txt"; fail "similar.sql failed"; }
want=$(sq "$T/s.db" "WITH m AS (SELECT * FROM models ORDER BY id DESC LIMIT 1),
  q AS (SELECT pca_project(m.model, img_features(s3_fetch('$timg'), m.spec)) AS pc FROM m)
  SELECT row_number() OVER (ORDER BY fvec_l2(p.pc, q.pc), p.key), printf('%.4f', fvec_l2(p.pc, q.pc)), i.label, p.key
  FROM q, projections AS p JOIN images AS i USING (key) ORDER BY fvec_l2(p.pc, q.pc), p.key LIMIT 8")
[ "$(cat "$T/sim.txt")" = "$want" ] || fail "similar.sql:
$(cat "$T/sim.txt")
-- expected --
$want"
head -1 "$T/sim.txt" | grep -q "^1|0.0000|Banana 1|Training/Banana 1/" || fail "similar.sql: a stored image is not its own nearest"
if (cd "$root" && sq "$T/s.db" < sql/similar.sql) > "$T/sim.txt" 2>&1; then fail "similar.sql without \$image: exit 0"; fi
grep -q 'similar: parameter $image is required' "$T/sim.txt" || fail "similar.sql without \$image: $(cat "$T/sim.txt")"
# from a folder without sql/ (they read sql/rules.sql): exit 1, saying how to run them
for f in classify similar; do
  if (cd "$T" && sq -cmd ".parameter set \$image '$timg'" "$T/s.db" < "$root/sql/$f.sql") > "$T/where.txt" 2>&1; then
    fail "$f.sql from a folder without sql/: exit 0"; fi
  grep -q "$f: cannot find sql/rules.sql from this working directory: run sql/$f.sql from the folder holding sql/" "$T/where.txt" ||
    fail "$f.sql from a folder without sql/: $(cat "$T/where.txt")"
done

echo "pipeline k-NN votes (\$knn 3 and 1) = brute-force votes, $wrong confusions; classify.sql: 5 nearest = fvec_l2 scan, vote of 3 as computed independently; 5 bad inputs exit 1 with a message; similar.sql = fvec_l2 scan"
