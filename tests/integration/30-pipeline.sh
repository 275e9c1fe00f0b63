#!/usr/bin/env bash
# End-to-end: sql/pipeline.sql on local files (a copy of ../shared/data/fruits360).
#  1. full run minus 20 held-out images: CSV header, row count, every value
#     equal to the projections table and, for a sample, to a direct
#     pca_project(model, img_features(file)) computed here
#  2. rerun: zero images processed, identical CSV bytes
#  3. add the 20 images + one corrupt file: only those 21 are processed, the
#     corrupt one lands in the errors table
#  4. refit, then a fresh run killed with SIGKILL mid-way and resumed: the
#     same CSV bytes as the refitted run
#  5. 1-NN classification accuracy on Test/ with hist features >= 98 %
#  6. the messages: a non-image file counted apart, counts of this run's work
#     (not totals), the model's rows equal to the summary's, no errors line
#     without errors, each setting's origin, the accuracy line explained when
#     there is no Test folder
# Last line: the measured figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "missing test data $data"; exit 1; }
T=$(mktemp -d /tmp/imgpca-it30.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sq() { sqlite3 -batch -cmd ".load $root/dist/imgpca" "$@"; }
# the batch loop of stage 3 is comment lines, then 1024 times one line (the shell has no loop)
[ "$(grep -v '^--' sql/stages/32-batch-loop.sql | sort | uniq -c | sed 's/^ *//')" = "1024 .read sql/stages/31-batch.sql" ] ||
  fail "sql/stages/32-batch-loop.sql is not 1024 reads of sql/stages/31-batch.sql"

cp -r "$data/Training" "$data/Test" "$T/" 2>/dev/null
mkdir -p "$T/src" "$T/held"
mv "$T/Training" "$T/Test" "$T/src/"
held_dir="$T/src/Training/Banana 1"
ls "$held_dir" | sort | sed -n 1,20p | while read -r f; do mv "$held_dir/$f" "$T/held/$f"; done
nfiles=$(find "$T/src" -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
echo "not an image" > "$T/src/LICENSE"

run() { # run DB OUT [extra -cmd args...]; cwd = $T
  local db=$1 out=$2; shift 2
  (cd "$root" && sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$T/src'" \
     -cmd ".parameter set \$out '$out'" "$@" "$db" < "$root/sql/pipeline.sql")
}

# ---- 1. full run ----------------------------------------------------------
t0=$EPOCHREALTIME
run "$T/a.db" "$T/out-a" > "$T/run1.log" 2>&1 || { cat "$T/run1.log"; fail "first run failed"; }
t1=$EPOCHREALTIME
csv=$T/out-a/pca.csv
[ -f "$csv" ] || fail "no CSV written"
[ -f "$T/out-a/scree.svg" ] && [ -f "$T/out-a/scatter.svg" ] || fail "plots missing"
k=$(sq "$T/a.db" "SELECT value FROM settings WHERE key = 'k'")
[ "$k" = 50 ] || fail "k = $k"
header=$(head -1 "$csv")
want="key,label,split,$(seq -s, -f 'pc%g' 1 "$k")"
[ "$header" = "$want" ] || fail "header '$header'"
rows=$(( $(wc -l < "$csv") - 1 ))
[ "$rows" = "$nfiles" ] || fail "CSV has $rows rows, expected $nfiles images"
processed=$(sq "$T/a.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$processed" = "$nfiles" ] || fail "first run processed $processed"

# Read the CSV back into SQLite and compare every value with the stored
# projection (exact: %.9g round-trips float32), and a sample of 100 rows
# with a projection computed directly from the image file here.
pcs=$(seq -s, -f 'CAST(pc%g AS REAL)' 1 "$k")
check=$(sq "$T/a.db" <<SQL
.mode list
.import --csv --schema temp $csv csvrows
SELECT count(*) FROM temp.csvrows AS c JOIN projections AS p ON p.key = c.key
  JOIN images AS i ON i.key = c.key
  WHERE fvec($pcs) = p.pc AND c.label = i.label;
SELECT count(*) FROM (SELECT * FROM temp.csvrows ORDER BY key LIMIT 100) AS c
  JOIN images AS i ON i.key = c.key, models AS m
  WHERE fvec($pcs) = pca_project(m.model, img_features(s3_fetch('$T/src/' || i.key), m.spec));
SQL
)
[ "$check" = "$rows"$'\n'"100" ] || fail "CSV values differ from pca_project: $check (rows $rows)"

# the log of the first run
has() { grep -qxF "$2" "$T/$1" || { cat "$T/$1"; fail "$1: no line '$2'"; }; }
has run1.log "listed: $((nfiles + 1)) files: $nfiles images, 1 other file (not .jpg, .jpeg or .png) left alone"
has run1.log "to process: $nfiles images (0 already done), in $(( (nfiles + 499) / 500 )) batches of 500"
has run1.log "projected: $nfiles images this run, $nfiles in total with model #1"
! grep -q '^errors:' "$T/run1.log" || fail "an errors line without errors"
ntrain=$(find "$T/src/Training" -name '*.jpg' | wc -l)
grep -q "^model #1: fitted now on $ntrain training images with features, 512 -> 50 dimensions" "$T/run1.log" || fail "model line"
has run1.log "split         $ntrain training ($ntrain with features), $((nfiles - ntrain)) test ($((nfiles - ntrain)) with features)"
grep -q "^model         #1, fitted .* on $ntrain training images, 50 components" "$T/run1.log" || fail "summary model line"
grep -q "^settings      source '$T/src' (parameter), out '$T/out-a' (parameter), spec 'hist:bins=8,sqrt' (default), k 50 (default)," "$T/run1.log" || fail "settings origins"
grep -q '^features: [0-9]*/[0-9]* images ([0-9]* %), [0-9]* images/s, .* left$' "$T/run1.log" || fail "no progress line"

# ---- 2. rerun: nothing to do, same bytes -----------------------------------
cp "$csv" "$T/csv1"
run "$T/a.db" "$T/out-a" > "$T/run2.log" 2>&1 || { cat "$T/run2.log"; fail "rerun failed"; }
processed=$(sq "$T/a.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$processed" = 0 ] || fail "rerun processed $processed images"
cmp -s "$csv" "$T/csv1" || fail "rerun changed the CSV"
has run2.log "projected: 0 images this run, $nfiles in total with model #1"
grep -q "^model #1: kept (fitted .*; \$refit = 1 fits again) on $ntrain training images" "$T/run2.log" || fail "kept model line"
grep -q "spec 'hist:bins=8,sqrt' (stored by the previous run), k 50 (stored by the previous run)," "$T/run2.log" || fail "stored origins"

# ---- 3. new images + a corrupt one: only those are processed ---------------
mv "$T/held/"* "$held_dir/"
head -c 700 "$held_dir/$(ls "$held_dir" | sed -n 1p)" > "$held_dir/zz_corrupt.jpg"
run "$T/a.db" "$T/out-a" > "$T/run3.log" 2>&1 || { cat "$T/run3.log"; fail "run after adding images failed"; }
processed=$(sq "$T/a.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$processed" = 21 ] || fail "run after adding 21 files processed $processed"
nerr=$(sq "$T/a.db" "SELECT count(*) FROM errors WHERE key LIKE '%zz_corrupt.jpg'")
[ "$nerr" = 1 ] || fail "corrupt image not in errors"
has run3.log "errors: 1 image(s) without features in the state database, see the view errors"
has run3.log "projected: 20 images this run, $((nfiles + 20)) in total with model #1"
rows=$(( $(wc -l < "$csv") - 1 ))
[ "$rows" = $((nfiles + 20)) ] || fail "CSV has $rows rows after adding 20 images"
nmodels=$(sq "$T/a.db" "SELECT count(*) FROM models")
[ "$nmodels" = 1 ] || fail "model refitted without \$refit"

# ---- 4. explicit refit vs an interrupted-and-resumed fresh run -------------
run "$T/a.db" "$T/out-a" -cmd '.parameter set $refit 1' > "$T/run4.log" 2>&1 || { cat "$T/run4.log"; fail "refit failed"; }
nmodels=$(sq "$T/a.db" "SELECT count(*) FROM models")
[ "$nmodels" = 2 ] || fail "refit did not fit a new model"
(cd "$root" && exec sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$T/src'" \
   -cmd ".parameter set \$out '$T/out-b'" -cmd '.parameter set $batch 100' "$T/b.db" \
   < "$root/sql/pipeline.sql" > "$T/run5.log" 2>&1) &
pid=$!
disown "$pid"   # no job-control "Killed" notice
for _ in $(seq 1 600); do
  n=$(sqlite3 "$T/b.db" "SELECT count(*) FROM images" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 1500 ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "pipeline finished before it could be killed"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
done_before=$(sqlite3 "$T/b.db" "SELECT count(*) FROM images")
[ "$done_before" -lt $((nfiles + 21)) ] || fail "the kill came after the feature stage ($done_before images done)"
[ ! -f "$T/out-b/pca.csv" ] || fail "killed run left a CSV"
run "$T/b.db" "$T/out-b" > "$T/run6.log" 2>&1 || { cat "$T/run6.log"; fail "resume failed"; }
processed=$(sq "$T/b.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$processed" = $((nfiles + 21 - done_before)) ] || fail "resume processed $processed, expected $((nfiles + 21 - done_before))"
cmp -s "$T/out-a/pca.csv" "$T/out-b/pca.csv" || fail "resumed run's CSV differs from the refitted run's"

# ---- 5. classification -----------------------------------------------------
read -r tested correct percent < <(sq "$T/a.db" "SELECT tested, correct, percent FROM accuracy" | tr '|' ' ')
[ "$tested" = "$(find "$T/src/Test" -type f | wc -l)" ] || fail "classified $tested test images"
awk -v p="$percent" 'BEGIN { exit !(p >= 98) }' || fail "accuracy $percent % < 98 %"
# sql/classify.sql on one test image finds the same nearest neighbour as the pipeline
IFS='|' read -r qurl qlabel qnn < <(sq "$T/a.db" "SELECT '$T/src/' || i.key, i.label, p.neighbour FROM predictions AS p
  JOIN images AS i USING (key) WHERE p.predicted = i.label ORDER BY key LIMIT 1")
cls=$(cd "$root" && sq -cmd ".parameter set \$image '$qurl'" "$T/a.db" < sql/classify.sql)
[ "$(echo "$cls" | sed -n 2p | sed 's/.*  //')" = "$qnn" ] || fail "classify.sql: nearest '$(echo "$cls" | sed -n 2p)', pipeline: '$qnn'"
echo "$cls" | grep -q "^predicted: $qlabel (" || fail "classify.sql did not predict '$qlabel': $cls"

# ---- 6. a source without a Test folder: the summary says why there is no accuracy
run "$T/c.db" "$T/out-c" -cmd ".parameter set \$source '$T/src/Training/Banana 1'" -cmd '.parameter set $k 10' > "$T/run7.log" 2>&1 || { cat "$T/run7.log"; fail "run without Test failed"; }
has run7.log "accuracy      not measured: no test images (no folder named Test under the source)"

secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "pipeline: $nfiles images in ${secs}s, CSV ${rows} rows x $k pcs equal to pca_project, rerun 0 processed, +21 -> 21, killed at $done_before/$((nfiles + 21)) and resumed to identical bytes, 1-NN accuracy $percent % ($correct/$tested)"
