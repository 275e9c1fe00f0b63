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
# which is not buffered like stdout): a statement's time goes to the stage of
# the next progress line (csv/plot lines come before their own timer line).
stages() {
  awk '/^Run Time/ {p += $4; next}
       /^(listed|to process)/ {s["list"] += p; p = 0; next}
       /^(features:|errors)/ {s["features"] += p; p = 0; next}
       /^(model|projected)/ {s["fit_project"] += p; p = 0; next}
       /^classified/ {s["classify"] += p; p = 0; next}
       /^(csv|plot)/ {s["csv_plots"] += p; p = 0; next}
       END {s["csv_plots"] += p; printf "%.2f %.2f %.2f %.2f %.2f\n", s["list"], s["features"], s["fit_project"], s["classify"], s["csv_plots"]}' "$1"
}

# ---- same run, same images --------------------------------------------------
read -r i_wall i_rss _ < <(run_imgpca "$W/a.db" "$data" "$W/out-a" 1)
read -r i_list i_feat i_fit i_cls i_csv < <(stages "$W/a.db.log")
i_acc=$(sqlite3 "$W/a.db" "SELECT percent FROM accuracy")
/usr/bin/time -f '%e %M' -o "$W/peer.time" /usr/bin/python3 bench/pipeline_peer.py "$data" "$W/peer.csv" 50 > "$W/peer.json"
read -r p_wall p_rss < "$W/peer.time"
eval "$(/usr/bin/python3 -c "
import json; d = json.load(open('$W/peer.json'))
print(' '.join(f'p_{k}={v:.3f}' for k, v in d.items() if isinstance(v, float)))")"
n=$(sqlite3 "$W/a.db" "SELECT count(*) FROM images")
i_nocls=$(awk -v a="$i_list" -v b="$i_feat" -v c="$i_fit" -v d="$i_csv" 'BEGIN { printf "%.2f", a + b + c + d }')
p_nocls=$(awk -v a="$p_list" -v b="$p_features" -v c="$p_fit_project" -v d="$p_csv" 'BEGIN { printf "%.2f", a + b + c + d }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "-" }'; }

echo "## Whole pipeline (bench_pipeline.sh)"
echo
echo "Same run, the same $n Fruits-360 images, spec \`hist:bins=8,sqrt\` (512 dims), PCA k = 50 fitted on"
echo "Training, every image projected, CSV \`key,label,pc1..pc50\`. imgpca: \`sql/pipeline.sql\` in the"
echo "sqlite3 shell on a fresh state database (stage times from \`.timer on\`). Peer: \`bench/pipeline_peer.py\`"
echo "(Pillow decode, vectorised NumPy histogram, scikit-learn PCA full SVD, KNeighborsClassifier brute"
echo "force, Python CSV writer). Ratio = peer time / imgpca time."
echo
echo "| stage | imgpca (s) | Pillow+NumPy+sklearn (s) | ratio |"
echo "|---|---:|---:|---:|"
echo "| list | $i_list | $p_list | $(ratio "$i_list" "$p_list") |"
echo "| fetch + decode + features | $i_feat | $p_features | $(ratio "$i_feat" "$p_features") |"
echo "| PCA fit + project | $i_fit | $p_fit_project | $(ratio "$i_fit" "$p_fit_project") |"
echo "| CSV (+ 2 SVG plots for imgpca) | $i_csv | $p_csv | $(ratio "$i_csv" "$p_csv") |"
echo "| **pipeline without classification** | **$i_nocls** | **$p_nocls** | **$(ratio "$i_nocls" "$p_nocls")** |"
echo "| 1-NN classification of Test (SQL \`knn_search\` vs sklearn brute force) | $i_cls | $p_classify | $(ratio "$i_cls" "$p_classify") |"
echo "| whole process, wall clock incl. start-up | $i_wall | $p_wall | $(ratio "$i_wall" "$p_wall") |"
echo "| peak RSS | $((i_rss / 1024)) MiB | $((p_rss / 1024)) MiB | |"
echo
echo "1-NN accuracy on Test: imgpca $i_acc %, peer $(awk -v a="$p_accuracy" 'BEGIN { printf "%.2f", 100 * a }') %."
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
echo "| images | wall (s) | µs per image | CPU (s) | CPU µs per image | peak RSS | features (s) | fit + project (s) | CSV + plots (s) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 1 "$copies"; do
  rm -rf "$W/rep" "$W/out-r" "$W/r.db"*
  mk_copies "$W/rep" "$c"
  read -r wall rss usr sys < <(run_imgpca "$W/r.db" "$W/rep" "$W/out-r" 0)
  cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  read -r _ f fp _ cp < <(stages "$W/r.db.log")
  m=$(sqlite3 "$W/r.db" "SELECT count(*) FROM images")
  echo "| $m | $wall | $(awk -v w="$wall" -v m="$m" 'BEGIN { printf "%.0f", 1e6 * w / m }') | $cpu | $(awk -v w="$cpu" -v m="$m" 'BEGIN { printf "%.0f", 1e6 * w / m }') | $((rss / 1024)) MiB | $f | $fp | $cp |"
done
rm -rf "$W/rep"
echo
echo "Stage columns are wall-clock (sqlite3 \`.timer\`); CPU = user + sys of the sqlite3 process. Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "(other processes inflate both sides; compare ratios within one run)."
