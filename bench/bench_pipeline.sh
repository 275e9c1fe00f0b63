#!/usr/bin/env bash
# Whole-pipeline benchmark (issue 5): sql/pipeline.sql on the 9,165 shared
# Fruits-360 images (list, fetch, hist features, PCA(50) fit on Training,
# project all, CSV, plots) against bench/pipeline_peer.py doing the same with
# Pillow + NumPy + scikit-learn; then 1-NN classification of Test on both
# sides; then scaling of imgpca from 1x to 11x the sample (hard-linked
# copies: 9,165 vs 100,815 images, classification off): time per image and
# peak RSS.  Prints a markdown section.  BENCH_COPIES overrides 11.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=$root/../shared/data/fruits360
copies=${BENCH_COPIES:-11}
W=$(mktemp -d /tmp/imgpca-bench-pipeline.XXXXXX)
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null

# run_imgpca DB SOURCE OUT CLASSIFY -> "<wall s> <peak RSS KB>", .timer log in DB.log
run_imgpca() {
  local db=$1 src=$2 out=$3 cls=$4
  mkdir -p "$out"
  (cd "$root" && /usr/bin/time -f '%e %M %U %S' -o "$db.time" sqlite3 -batch -cmd ".load $root/dist/imgpca" \
     -cmd ".parameter set \$source '$src'" -cmd ".parameter set \$out '$out'" \
     -cmd ".parameter set \$classify $cls" -cmd '.timer on' \
     "$db" < "$root/sql/pipeline.sql" > "$db.log" 2> "$db.err") || { tail -5 "$db.log" "$db.err" >&2; return 1; }
  cat "$db.time"
}
# Stage times from the .timer log (stdout only: progress lines go to stderr,
# which is not buffered like stdout).  A statement's time goes to the stage
# of the next progress line, except: the csv and plot lines come before their
# own timer line, and the statements after the last plot line up to the
# report line (thumbnails, eigen-images, the page) and up to the summary are
# the report's.
stages() {
  awk 'function t() { return $4 }
       /^Run Time/ { if (mode == "csv") { s["csv"] += t(); mode = "" }
                     else if (mode == "plot") { s["plots"] += t(); mode = "report" }
                     else if (mode == "report") s["report"] += t()
                     else p += t(); next }
       /^== summary/ { mode = "summary"; next }
       mode == "summary" { next }
       /^(listed|to process)/ {s["list"] += p; p = 0; next}
       /^(features:|errors)/ {s["features"] += p; p = 0; next}
       /^(model|projected)/ {s["fit_project"] += p; p = 0; next}
       /^classified/ {s["classify"] += p; p = 0; next}
       /^csv/ {s["classify"] += p; p = 0; mode = "csv"; next}
       /^plot/ {s["plots"] += p; p = 0; mode = "plot"; next}
       /^report/ {mode = "report"; next}
       END {printf "%.2f %.2f %.2f %.2f %.2f %.2f %.2f\n", s["list"], s["features"], s["fit_project"], s["classify"],
            s["csv"], s["plots"], s["report"]}' "$1"
}

# ---- same run, same images --------------------------------------------------
read -r i_wall i_rss i_usr i_sys < <(run_imgpca "$W/a.db" "$data" "$W/out-a" 1)
read -r i_list i_feat i_fit i_cls i_csv i_plots i_report < <(stages "$W/a.db.log")
i_cpu=$(awk -v u="$i_usr" -v s="$i_sys" -v w="$i_wall" 'BEGIN { printf "%.0f", 100 * (u + s) / w }')
i_acc=$(sqlite3 "$W/a.db" "SELECT percent FROM accuracy")
/usr/bin/time -f '%e %M %U %S' -o "$W/peer.time" /usr/bin/python3 bench/pipeline_peer.py "$data" "$W/peer.csv" 50 > "$W/peer.json"
read -r p_wall p_rss p_usr p_sys < "$W/peer.time"
p_cpu=$(awk -v u="$p_usr" -v s="$p_sys" -v w="$p_wall" 'BEGIN { printf "%.0f", 100 * (u + s) / w }')
eval "$(/usr/bin/python3 -c "
import json; d = json.load(open('$W/peer.json'))
print(' '.join(f'p_{k}={v:.3f}' for k, v in d.items() if isinstance(v, float)))")"
n=$(sqlite3 "$W/a.db" "SELECT count(*) FROM images")
i_nocls=$(awk -v a="$i_list" -v b="$i_feat" -v c="$i_fit" -v d="$i_csv" 'BEGIN { printf "%.2f", a + b + c + d }')
i_all=$(awk -v a="$i_nocls" -v b="$i_cls" -v c="$i_plots" -v d="$i_report" 'BEGIN { printf "%.2f", a + b + c + d }')
i_rshare=$(awk -v r="$i_report" -v w="$i_wall" 'BEGIN { printf "%.0f", 100 * r / w }')
p_nocls=$(awk -v a="$p_list" -v b="$p_features" -v c="$p_fit_project" -v d="$p_csv" 'BEGIN { printf "%.2f", a + b + c + d }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "-" }'; }

echo "## Whole pipeline (bench_pipeline.sh)"
echo
echo "Same run, the same $n Fruits-360 images, spec \`hist:bins=8,sqrt\` (512 dims), PCA k = 50 fitted on"
echo "Training, every image projected, CSV \`key,label,pc1..pc50\`. imgpca: \`sql/pipeline.sql\` in the"
echo "sqlite3 shell on a fresh state database (stage times from \`.timer on\`). Peer: \`bench/pipeline_peer.py\`"
echo "on every core (recursive \`os.scandir\` walk; Pillow decode + vectorised NumPy histogram in a"
echo "\`multiprocessing.Pool\` of $(nproc) processes; scikit-learn \`PCA(50)\` with its default solver, fit +"
echo "transform; \`KNeighborsClassifier\` brute force; Python \`csv\` writer). Ratio = peer time / imgpca time."
echo
echo "| stage | imgpca (s) | Pillow+NumPy+sklearn, all cores (s) | ratio |"
echo "|---|---:|---:|---:|"
echo "| list | $i_list | $p_list | $(ratio "$i_list" "$p_list") |"
echo "| fetch + decode + features | $i_feat | $p_features | $(ratio "$i_feat" "$p_features") |"
echo "| PCA fit + project (\`pca_fit\` + \`pca_project_rows\` vs sklearn fit + transform) | $i_fit | $p_fit_project | $(ratio "$i_fit" "$p_fit_project") |"
echo "| 1-NN classification of Test (SQL \`knn_search\` vs sklearn brute force) | $i_cls | $p_classify | $(ratio "$i_cls" "$p_classify") |"
echo "| CSV (\`csv_export\` vs Python \`csv\`) | $i_csv | $p_csv | $(ratio "$i_csv" "$p_csv") |"
echo "| 2 SVG plots (imgpca only) | $i_plots | — | |"
echo "| HTML report (imgpca only; $i_rshare % of the wall clock) | $i_report | — | |"
echo "| **pipeline without classification, plots, report** | **$i_nocls** | **$p_nocls** | **$(ratio "$i_nocls" "$p_nocls")** |"
echo "| **whole process, wall clock incl. start-up, classification, plots, report** | **$i_wall** | **$p_wall** | **$(ratio "$i_wall" "$p_wall")** |"
echo "| CPU use (user + sys over wall clock) | $i_cpu % | $p_cpu % | |"
echo "| peak RSS | $((i_rss / 1024)) MiB | $((p_rss / 1024)) MiB | |"
echo
echo "1-NN accuracy on Test: imgpca $i_acc %, peer $(awk -v a="$p_accuracy" 'BEGIN { printf "%.2f", 100 * a }') %."
echo

# ---- held-out data: one core vs every core ----------------------------------
echo "### Held-out images: one core vs every core"
echo
echo "The Test split replicated ${copies}x (hard links, in folders not named test, so that the model is fitted"
echo "on them), pipeline without classification, fresh state database: \`taskset -c 0\` against every core."
echo "Output bytes must not differ (they do not depend on the core count)."
echo
echo "| run | images | wall (s) | CPU (s) | CPU use | features (s) | fit + project (s) | CSV (s) | plots (s) | report (s) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
rm -rf "$W/held"
for c in $(seq 1 "$copies"); do
  mkdir -p "$W/held/c$c"
  cp -al "$data/Test" "$W/held/c$c/Held" 2>/dev/null || cp -r "$data/Test" "$W/held/c$c/Held"
done
for mode in one all; do
  rm -rf "$W/h-$mode.db"* "$W/out-h-$mode"
  if [ $mode = one ]; then pre=(taskset -c 0); else pre=(); fi
  mkdir -p "$W/out-h-$mode"
  (cd "$root" && /usr/bin/time -f '%e %M %U %S' -o "$W/h-$mode.time" "${pre[@]}" sqlite3 -batch -cmd ".load $root/dist/imgpca" \
     -cmd ".parameter set \$source '$W/held'" -cmd ".parameter set \$out '$W/out-h-$mode'" \
     -cmd ".parameter set \$classify 0" -cmd '.timer on' "$W/h-$mode.db" < "$root/sql/pipeline.sql" > "$W/h-$mode.db.log" 2> "$W/h-$mode.db.err")
  read -r wall rss usr sys < "$W/h-$mode.time"
  read -r _ f fp _ c pl r < <(stages "$W/h-$mode.db.log")
  m=$(sqlite3 "$W/h-$mode.db" "SELECT count(*) FROM images")
  eval "h_wall_$mode=$wall"
  echo "| $([ $mode = one ] && echo 'taskset -c 0' || echo "all $(nproc) cores") | $m | $wall | $(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') | $(awk -v u="$usr" -v s="$sys" -v w="$wall" 'BEGIN { printf "%.0f %%", 100 * (u + s) / w }') | $f | $fp | $c | $pl | $r |"
done
same=$(cmp -s "$W/out-h-one/pca.csv" "$W/out-h-all/pca.csv" && echo "identical" || echo "DIFFERENT")
echo
echo "Speed-up of every core over one: $(ratio "$h_wall_all" "$h_wall_one"); pca.csv of the two runs: $same."
rm -rf "$W/held"
echo

# ---- scaling ---------------------------------------------------------------
mk_copies() { # DIR N: N hard-linked (or copied) replicas of the sample
  local d=$1 c
  for c in $(seq 1 "$2"); do
    mkdir -p "$d/c$c"
    cp -al "$data/Training" "$data/Test" "$d/c$c/" 2>/dev/null || cp -r "$data/Training" "$data/Test" "$d/c$c/"
  done
}
echo "### Scaling (imgpca, classification off)"
echo
echo "The sample replicated 1x and ${copies}x (hard links, so decoding work is real and identical per copy);"
echo "fresh state database each time (batches of 500 images fetched by \`s3_fetch_many\`)."
echo
echo "| images | wall (s) | µs per image | CPU (s) | CPU µs per image | peak RSS | features (s) | fit + project (s) | CSV + plots + report (s) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 1 "$copies"; do
  rm -rf "$W/rep" "$W/out-r" "$W/r.db"*
  mk_copies "$W/rep" "$c"
  read -r wall rss usr sys < <(run_imgpca "$W/r.db" "$W/rep" "$W/out-r" 0)
  cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  read -r _ f fp _ c1 c2 c3 < <(stages "$W/r.db.log")
  cp=$(awk -v a="$c1" -v b="$c2" -v c="$c3" 'BEGIN { printf "%.2f", a + b + c }')
  m=$(sqlite3 "$W/r.db" "SELECT count(*) FROM images")
  echo "| $m | $wall | $(awk -v w="$wall" -v m="$m" 'BEGIN { printf "%.0f", 1e6 * w / m }') | $cpu | $(awk -v w="$cpu" -v m="$m" 'BEGIN { printf "%.0f", 1e6 * w / m }') | $((rss / 1024)) MiB | $f | $fp | $cp |"
done
rm -rf "$W/rep"
echo
echo "Stage columns are wall-clock (sqlite3 \`.timer\`); CPU = user + sys of the sqlite3 process. Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "(other processes inflate both sides; compare ratios within one run)."
