#!/usr/bin/env bash
# The pipeline as an operator meets it (three classes of
# ../shared/data/fruits360 copied to a temporary folder):
#  1. make demo (scripts/demo.sh) keeps what the state database holds: unset
#     SOURCE/OUT keep the stored values, another SOURCE on a database holding
#     images is refused unchanged (the message says what it would drop) unless
#     NEW_SOURCE=1
#  2. every setting is checked before it sticks: the message names the
#     parameter, the value and its origin (parameter, stored setting); a bad
#     SPEC or a K too large fails without being stored; K=0.95 (a variance
#     fraction) is accepted; tampered stored values are refused; an error
#     names its stage file; $out/$source read from the database are said
#     before anything is written
#  3. a source without training images fails (exit 1) saying what it found
#     and the layout it expects, without a summary or outputs
#  4. make install DESTDIR=...: the installed `imgpca pipeline` and the
#     single-file pipeline.sql run from another folder with relative source
#     and out; sql/pipeline.sql from a folder without sql/ says how to run it
#  5. two pipelines at once on one state database (new database, 4 trials):
#     both finish, no "database is locked", no unfinished runs row
#  6. unknown photos: the per-model threshold against a brute-force
#     computation; a bus and a landscape are "unknown", a test kiwi is not
#  7. csv_export into a missing folder says so; REPORT_THUMBS; scatter.svg
#     colours PLOT_LABELS, then the most separated labels (NumPy)
#  8. imgpca passes progress lines on as they come (before the summary)
# Last line: the checks passed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_setup it34
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "missing test data $data"; exit 1; }
mkdir -p "$work/src/Training" "$work/src/Test" "$work/other/Training/Lemon 1" "$work/testonly/Test"
for c in "Apple Braeburn 1" "Banana 1" "Kiwi 1"; do
  cp -r "$data/Training/$c" "$work/src/Training/"; cp -r "$data/Test/$c" "$work/src/Test/"
done
cp "$data/Training/Lemon 1/"*.jpg "$work/other/Training/Lemon 1/"
cp -r "$data/Test/Kiwi 1" "$work/testonly/Test/"
nsrc=$(find "$work/src" -name '*.jpg' | wc -l)
sq() { sqlite3 -batch "$@"; }
demo() { (env -u SOURCE -u OUT -u SPEC -u K -u NEW_SOURCE -u REPORT_THUMBS -u PLOT_LABELS "$@" scripts/demo.sh) > "$work/demo.log" 2>&1; }
log() { cat "$work/demo.log"; }

# ---- 1. make demo keeps the dataset ---------------------------------------
db=$work/keep.db
demo DB="$db" SOURCE="$work/src" OUT="$work/out1" || bad "first demo run" "$(log)"
expect_eq "first run: images" "$(sq "$db" "SELECT count(*) FROM images")" "$nsrc"
demo DB="$db" || bad "rerun without SOURCE and OUT" "$(log)"
expect_eq "unset SOURCE keeps the stored source" "$(sq "$db" "SELECT value FROM settings WHERE key = 'source'")" "$work/src"
expect_eq "unset OUT keeps the stored out" "$(sq "$db" "SELECT value FROM settings WHERE key = 'out'")" "$work/out1"
expect_eq "rerun: images kept" "$(sq "$db" "SELECT count(*) FROM images")" "$nsrc"
expect_eq "rerun: nothing processed" "$(sq "$db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")" 0
expect_has "rerun says where source and out came from" "$(log)" \
  "settings: \$source and \$out taken from the state database (no parameter given): source '$work/src', out '$work/out1'"
# the stored out is announced before anything is written (before the listing)
expect_eq "stored out announced before the first stage" \
  "$(grep -n -m1 -e '^settings: ' -e '^listed: ' "$work/demo.log" | cut -d: -f2)" "settings"
demo DB="$db" SORCE="$work/other" || bad "a mistyped variable" "$(log)"
expect_eq "mistyped SORCE= keeps the source" "$(sq "$db" "SELECT value FROM settings WHERE key = 'source'")" "$work/src"
before=$(sq "$db" "SELECT count(*), count(features) FROM images")
if demo DB="$db" SOURCE="$work/other"; then bad "another SOURCE was accepted" "$(log)"; else ok "another SOURCE refused (exit $?)"; fi
expect_has "refusal says what it would drop" "$(log)" \
  "pipeline: \$source = '$work/other' (parameter): differs from the source of this state database, '$work/src', whose $nsrc images ($nsrc with features) this run would drop"
expect_has "refusal names NEW_SOURCE" "$(log)" "NEW_SOURCE=1"
expect_eq "refused: images unchanged" "$(sq "$db" "SELECT count(*), count(features) FROM images")" "$before"
expect_eq "refused: source unchanged" "$(sq "$db" "SELECT value FROM settings WHERE key = 'source'")" "$work/src"
demo DB="$db" SOURCE="$work/other" NEW_SOURCE=1 K=10 || bad "NEW_SOURCE=1 run" "$(log)"
expect_eq "NEW_SOURCE=1 switches" "$(sq "$db" "SELECT value FROM settings WHERE key = 'source'")" "$work/other"
expect_eq "NEW_SOURCE=1: the new source's images" "$(sq "$db" "SELECT count(*) FROM images")" \
  "$(find "$work/other" -name '*.jpg' | wc -l)"

# ---- 2. settings checked before they stick --------------------------------
db=$work/set.db
demo DB="$db" SOURCE="$work/src" OUT="$work/out2" || bad "settings: first run" "$(log)"
stored() { sq "$db" "SELECT group_concat(key || '=' || quote(value), ' ') FROM (SELECT * FROM settings ORDER BY key)"; }
good=$(stored)
if demo DB="$db" SPEC='histo:bins=8' K=abc; then bad "bad SPEC and K accepted" "$(log)"; else ok "bad SPEC and K refused"; fi
expect_has "SPEC error names parameter, value, origin, cause" "$(log)" \
  "pipeline: \$spec = 'histo:bins=8' (parameter): invalid spec: unknown kind 'histo'"
expect_has "K error names parameter, value, origin" "$(log)" \
  "pipeline: \$k = 'abc' (parameter): must be a number of components >= 1 or a fraction of the variance to keep in (0, 1)"
expect_has "error names the stage file" "$(log)" "Runtime error in sql/stages/00-setup.sql line "
expect_eq "refused settings not stored" "$(stored)" "$good"
demo DB="$db" K=0 || true
expect_has "K=0 named" "$(log)" "pipeline: \$k = 0 (parameter): must be"
demo DB="$db" BATCH=-3 || true
expect_has "BATCH=-3 named" "$(log)" "pipeline: \$batch = -3 (parameter): must be an integer from 1 to 1000000"
# the report's parameters are checked like the others (they were clamped silently)
demo DB="$db" REPORT_POINTS=0 REPORT_THUMBS=-1 || true
expect_has "REPORT_POINTS=0 named" "$(log)" "pipeline: \$report_points = 0 (parameter): must be an integer from 1 to 10000000"
expect_has "REPORT_THUMBS=-1 named" "$(log)" "pipeline: \$report_thumbs = -1 (parameter): must be an integer from 0 to 10000000"
expect_eq "REPORT_POINTS=0 not stored" "$(stored)" "$good"
if demo DB="$db" K=600; then bad "K=600 accepted" "$(log)"; else ok "K=600 refused"; fi
expect_has "K too large: the bound and why" "$(log)" "pipeline: \$k = 600 (parameter): at most 149 here"
expect_has "K too large: stage file" "$(log)" "in sql/stages/40-fit.sql line "
expect_eq "K=600 not stored" "$(stored)" "$good"
demo DB="$db" || bad "a run after refused settings fails" "$(log)"
expect_has "a run after refused settings uses the stored k" "$(log)" "k 50 (stored by the previous run)"
demo DB="$db" K=0.95 || bad "K=0.95 refused" "$(log)"
kept=$(sq -cmd ".load $root/dist/imgpca" "$db" "SELECT json_extract(pca_info(model), '\$.k') FROM models ORDER BY id DESC LIMIT 1")
var=$(sq -cmd ".load $root/dist/imgpca" "$db" "SELECT json_extract(pca_info(model), '\$.cumulative[#-1]') >= 0.95 AND json_extract(pca_info(model), '\$.cumulative[#-2]') < 0.95 FROM models ORDER BY id DESC LIMIT 1")
expect_eq "K=0.95: the fewest components keeping 95 % of the variance" "$var" 1
expect_eq "K=0.95: CSV columns" "$(head -1 "$work/out2/pca.csv" | tr ',' '\n' | grep -c '^pc')" "$kept"
expect_eq "K=0.95 stored" "$(sq "$db" "SELECT value FROM settings WHERE key = 'k'")" 0.95
# a tampered database: stored values are checked like parameters
sq "$db" "UPDATE settings SET value = 'abc' WHERE key = 'batch'; UPDATE settings SET value = 7 WHERE key = 'classify'"
if demo DB="$db"; then bad "tampered settings accepted" "$(log)"; else ok "tampered settings refused"; fi
expect_has "tampered batch named as a stored setting" "$(log)" \
  "pipeline: \$batch = 'abc' (stored setting: table settings of the state database; set the parameter to replace it): must be an integer from 1 to 1000000"
expect_has "tampered classify named" "$(log)" "pipeline: \$classify = 7 (stored setting"
expect_not "tampered: nothing listed" "$(log)" "listed:"
sq "$db" "UPDATE settings SET value = 'x' || char(27) || ']0;pwned' || char(7) WHERE key = 'batch'"
demo DB="$db" || true
expect_has "control characters shown as a BLOB literal" "$(log)" "\$batch = X'781B5D303B70776E656407' "
expect_not "no raw ESC reaches the terminal" "$(log)" $'\e'
demo DB="$db" BATCH=100 CLASSIFY=1 || true
expect_has "a parameter replaces a bad stored value" "$(log)" "pipeline: \$classify = 7"
sq "$db" "UPDATE settings SET value = 1 WHERE key = 'classify'"
demo DB="$db" BATCH=100 || bad "a parameter replacing a bad stored value" "$(log)"
expect_eq "the replaced value is stored" "$(sq "$db" "SELECT value FROM settings WHERE key = 'batch'")" 100

# ---- 3. no training image ---------------------------------------------------
if demo DB="$work/testonly.db" SOURCE="$work/testonly" OUT="$work/out3"; then bad "a source without training images succeeded" "$(log)"
else ok "a source without training images fails"; fi
expect_has "says what it found" "$(log)" \
  "pipeline: no training image with features under '$work/testonly': found 15 images, 15 of them test images (in a folder named Test), 0 training images without features"
expect_has "says the layout" "$(log)" "expected layout: $work/testonly/Training/<label>/*.jpg and $work/testonly/Test/<label>/*.jpg"
expect_not "no summary" "$(log)" "outputs "
[ ! -e "$work/out3/pca.csv" ] && [ ! -e "$work/out3/report.html" ] && ok "no outputs written" || bad "outputs written without a model"

# ---- 4. the installed pipeline from any folder -----------------------------
make -s install DESTDIR="$work/inst" PREFIX=/usr/local > "$work/install.log" 2>&1 || bad "make install" "$(cat "$work/install.log")"
prefix=$work/inst/usr/local
[ -x "$prefix/bin/imgpca" ] && [ -f "$prefix/share/imgpca/pipeline.sql" ] && ok "installed bin/imgpca and share/imgpca/pipeline.sql" ||
  bad "make install: bin/imgpca or share/imgpca/pipeline.sql missing"
expect_eq "the single-file pipeline reads no file" "$(grep -c '^\.read' "$prefix/share/imgpca/pipeline.sql")" 0
mkdir -p "$work/user/photos" && cp -r "$work/src/"* "$work/user/photos/"
reference() { sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$work/src'" \
  -cmd ".parameter set \$out '$work/out-ref'" "$work/ref.db" < sql/pipeline.sql > /dev/null 2>&1; }
reference || bad "reference run"
(cd "$work/user" && "$prefix/bin/imgpca" pipeline state.db source=photos out=results) > "$work/inst.log" 2>&1 ||
  bad "installed imgpca pipeline from the user's folder" "$(cat "$work/inst.log")"
cmp -s "$work/user/results/pca.csv" "$work/out-ref/pca.csv" && ok "imgpca pipeline: same CSV" || bad "imgpca pipeline: CSV differs"
expect_eq "relative source stored as an absolute path" "$(sq "$work/user/state.db" "SELECT value FROM settings WHERE key = 'source'")" "$work/user/photos"
mkdir -p "$work/elsewhere"
(cd "$work/elsewhere" && "$prefix/bin/imgpca" pipeline ../user/state.db) > "$work/inst2.log" 2>&1 ||
  bad "installed imgpca rerun from another folder" "$(cat "$work/inst2.log")"
expect_has "rerun from another folder reads the same images" "$(cat "$work/inst2.log")" "to process: 0 images ($nsrc already done)"
photo=$(find "$work/src/Test/Kiwi 1" -name '*.jpg' | sort | sed -n 1p)
cp "$photo" "$work/elsewhere/kiwi.jpg"
expect_has "imgpca classify with a relative photo" "$(cd "$work/elsewhere" && "$prefix/bin/imgpca" classify ../user/state.db kiwi.jpg 2>&1)" "predicted: Kiwi 1"
(cd "$work/user" && sqlite3 -batch -cmd ".load $prefix/lib/imgpca" -cmd ".parameter set \$source 'photos'" \
   -cmd ".parameter set \$out 'results-sql'" single.db < "$prefix/share/imgpca/pipeline.sql") > "$work/inst3.log" 2>&1 ||
  bad "installed single-file pipeline from the user's folder" "$(cat "$work/inst3.log")"
cmp -s "$work/user/results-sql/pca.csv" "$work/out-ref/pca.csv" && ok "single-file pipeline: same CSV" || bad "single-file pipeline: CSV differs"
if (cd "$work/user" && sqlite3 -batch -cmd ".load $prefix/lib/imgpca" x.db < "$prefix/share/imgpca/sql/pipeline.sql") > "$work/inst4.log" 2>&1; then
  bad "sql/pipeline.sql without its stage files succeeded"
else
  expect_has "sql/pipeline.sql without its stage files points at the fix" "$(cat "$work/inst4.log")" \
    "pipeline: cannot find sql/stages/00-setup.sql from this working directory"
  expect_has "... naming imgpca pipeline" "$(cat "$work/inst4.log")" "imgpca pipeline STATE.db"
fi

# ---- 5. two pipelines on one state database --------------------------------
# new databases through imgpca (4 trials), then an existing database with the
# plain shell (4 trials, new images each time)
locked=0; unfinished=0; failed=0
both() { # DB STDIN CMD...: two pipelines at once
  local db=$1 in=$2; shift 2
  "$@" < "$in" > "$work/b1.log" 2>&1 & local p1=$!
  "$@" < "$in" > "$work/b2.log" 2>&1 & local p2=$!
  wait "$p1" || { failed=$((failed + 1)); cat "$work/b1.log"; }
  wait "$p2" || { failed=$((failed + 1)); cat "$work/b2.log"; }
  cat "$work/b1.log" "$work/b2.log" | grep "database is locked" && locked=$((locked + 1))
  unfinished=$((unfinished + $(sq "$db" "SELECT count(*) FROM runs WHERE finished IS NULL")))
}
for t in 1 2 3 4; do
  both "$work/both$t.db" /dev/null scripts/imgpca pipeline "$work/both$t.db" source="$work/src" out="$work/out-both$t" batch=20
  cmp -s "$work/out-both$t/pca.csv" "$work/out-ref/pca.csv" || failed=$((failed + 1))
done
cp -r "$work/src" "$work/grow"
mkdir -p "$work/held"
mv "$work/grow/Training/Kiwi 1/"*.jpg "$work/held/"
# (an existing database: with the plain shell, two first runs at the same
# moment on a new one may race on the switch to WAL, see docs/RELIABILITY.md)
sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$work/grow'" \
  -cmd ".parameter set \$out '$work/out-grow'" "$work/grow.db" < sql/pipeline.sql > /dev/null 2>&1 || bad "first run on grow.db"
for t in 1 2 3 4; do
  find "$work/held" -name '*.jpg' | sort | sed -n 1,3p | while read -r f; do mv "$f" "$work/grow/Training/Kiwi 1/"; done
  both "$work/grow.db" sql/pipeline.sql sqlite3 -batch -cmd '.timeout 600000' -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$work/grow'" \
    -cmd ".parameter set \$out '$work/out-grow'" -cmd '.parameter set $batch 5' "$work/grow.db"
done
expect_eq "existing database: images of the last run" "$(sq "$work/grow.db" "SELECT count(*) FROM images")" \
  "$(find "$work/grow" -name '*.jpg' | wc -l)"
expect_eq "two pipelines on one database: failures, 'database is locked', unfinished runs" "$failed $locked $unfinished" "0 0 0"

# ---- 6. unknown photos ------------------------------------------------------
# The whole Fruits-360 sample; the threshold against a brute-force fvec_l2
# leave-one-out computation; a bus and a landscape are "unknown", a test kiwi
# is not.
db=$work/fruits.db
scripts/imgpca pipeline "$db" source="$data" out="$work/out-fruits" > "$work/fruits.log" 2>&1 || bad "pipeline on the sample" "$(cat "$work/fruits.log")"
# imgpca passes stderr through its error-line mapper line by line: the
# progress of stage 3 comes before the summary (Debian's mawk read the pipe
# in blocks, so every progress line used to arrive after the run).
first_progress=$(grep -n '^features: [0-9]*/' "$work/fruits.log" | head -1 | cut -d: -f1)
summary=$(grep -n '^== summary' "$work/fruits.log" | cut -d: -f1)
[ -n "$first_progress" ] && [ -n "$summary" ] && [ "$first_progress" -lt "$summary" ] &&
  ok "imgpca: progress lines as they come (line $first_progress, summary line $summary)" ||
  bad "imgpca: progress lines after the summary" "progress at line ${first_progress:-none}, summary at ${summary:-none}"
want=$(sq -cmd ".load $root/dist/imgpca" "$db" "
  WITH t AS (SELECT p.key, p.pc, row_number() OVER (ORDER BY p.key) AS r, count(*) OVER () AS c
             FROM projections AS p JOIN images AS i USING (key) WHERE i.split = 'train'),
       s AS (SELECT * FROM t WHERE (r - 1) % max(1, c / 1000) = 0),
       d AS (SELECT s.key, min(fvec_l2(s.pc, t.pc)) AS d FROM s, t WHERE s.key <> t.key GROUP BY s.key),
       q AS (SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM d)
  SELECT printf('%.5f %d', 2 * d, n) FROM q WHERE rn = CAST(ceil(0.99 * n) AS INTEGER)")
expect_eq "threshold = 2 x the 99th percentile of brute-force leave-one-out distances" \
  "$(sq "$db" "SELECT printf('%.5f %d', distance, sample) FROM thresholds")" "$want"
nunk=$(sq "$db" "SELECT count(*) FROM predictions, thresholds WHERE predictions.distance > thresholds.distance")
grep -q "^unknown: $nunk test images farther from every training image than the model's threshold" "$work/fruits.log" &&
  ok "stage 6 reports $nunk unknown test images" || bad "stage 6 unknown line" "$(grep unknown "$work/fruits.log")"
[ "$nunk" -le 21 ] && ok "at most 1 % of the test images unknown ($nunk)" || bad "too many unknown test images: $nunk"
for photo in 012mp-bus.jpg Landscape_0.jpg; do
  out=$(scripts/imgpca classify "$db" "$root/../shared/data/images-edge/photos/$photo" 2>&1)
  expect_has "$photo is unknown" "$(echo "$out" | tail -1)" "predicted: unknown (the nearest training image, "
  expect_eq "$photo: header line" "$(echo "$out" | sed -n 1p)" "label                          distance  training image"
done
expect_has "a test kiwi is known" "$(scripts/imgpca classify "$db" "$data/Test/Kiwi 1/34_100.jpg" 2>&1 | tail -1)" "predicted: Kiwi 1 ("

# ---- 7. smaller traps -------------------------------------------------------
# csv_export into a folder that does not exist says so (or refuses with
# {"mkdir": false}); REPORT_THUMBS sizes the report; scatter.svg colours the
# labels named by PLOT_LABELS first, then the most separated ones (checked
# against NumPy on the CSV the pipeline wrote).
out=$(cd "$work" && sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: "SELECT csv_export('new/dir/x.csv', 'SELECT 1 AS a')" 2>&1)
expect_has "csv_export says it created the folder" "$out" "csv_export: created the folder 'new/dir'"
[ -f "$work/new/dir/x.csv" ] && ok "csv_export wrote into the new folder" || bad "csv_export: no file"
out=$(cd "$work" && sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: "SELECT csv_export('new2/x.csv', 'SELECT 1 AS a', '{\"mkdir\": false}')" 2>&1)
expect_has "csv_export with mkdir false refuses" "$out" "csv_export: folder 'new2' does not exist"
[ ! -e "$work/new2" ] && ok "mkdir false: nothing created" || bad "mkdir false created the folder"
nimg() { grep -o 'data:image/jpeg;base64' "$work/out-fruits/report.html" | wc -l; }
demo DB="$work/fruits.db" REPORT_THUMBS=0 || bad "REPORT_THUMBS=0 run" "$(log)"
n0=$(nimg)
demo DB="$work/fruits.db" REPORT_THUMBS=7 || bad "REPORT_THUMBS=7 run" "$(log)"
expect_eq "REPORT_THUMBS=7: 7 hover thumbnails more than REPORT_THUMBS=0" "$(( $(nimg) - n0 ))" 7
legend() { grep -o '<text x="628" y="[0-9]*">[^<]*' "$work/out-fruits/scatter.svg" | sed 's/.*">//; s/ ([0-9]*)$//' | head -12 | paste -sd'|'; }
separated() { /usr/bin/python3 - "$work/out-fruits/pca.csv" "$@" <<'PY'
import csv, sys
import numpy as np
allrows = list(csv.reader(open(sys.argv[1], newline="")))
pc1 = allrows[0].index("pc1")                   # key,label,split,pc1..
rows = [[r[0], r[1], r[pc1], r[pc1 + 1]] for r in allrows[1:]]
rows.sort(key=lambda r: r[0].encode())
step = max(1, (len(rows) + 4999) // 5000)       # $plot_max 5000: every step-th point in key order
rows = rows[::step]
lab = np.array([r[1] for r in rows])
xy = np.array([[float(r[2]), float(r[3])] for r in rows])
span = xy.max(0) - xy.min(0)
mean = xy.mean(0)
named = [x.strip() for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else []
key = []
for l in sorted(set(lab)):
    m = xy[lab == l].mean(0)
    sep = float((((m - mean) / span) ** 2).sum())
    pos = named.index(l) if l in named else None
    key.append(((pos is None), pos or 0, -sep, -int((lab == l).sum()), l))
print("|".join(k[-1] for k in sorted(key)[:12]))
PY
}
want=$(separated)
expect_eq "scatter.svg colours the 12 most separated labels" "$(legend)" "$want"
[ "$(echo "$want" | cut -d'|' -f1-3)" != "Apple 10|Apple 11|Apple 12" ] && ok "not the first labels in alphabetical order" || bad "alphabetical legend"
demo DB="$work/fruits.db" PLOT_LABELS="Kiwi 1, Banana 1" || bad "PLOT_LABELS run" "$(log)"
expect_eq "PLOT_LABELS first, then the most separated" "$(legend)" "$(separated 'Kiwi 1, Banana 1')"
expect_eq "PLOT_LABELS order" "$(legend | cut -d'|' -f1-2)" "Kiwi 1|Banana 1"

echo "operator: $((n - fail))/$n checks passed (demo keeps its dataset, settings validated, no-training refusal, installed pipeline from any folder, 2 pipelines on one database, unknown photos, csv folders, report size, scatter colours)"
[ "$fail" = 0 ]
