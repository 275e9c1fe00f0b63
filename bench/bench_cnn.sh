#!/usr/bin/env bash
# CNN embeddings benchmark (issue 20): imgpca's cnn: feature kind against
# ONNX Runtime (onnxruntime-node) and OpenCV DNN (python3-opencv), same
# models, same images, same run.  Prints a markdown section.
#
#   throughput  MobileNetV2 1.0 224 (../shared/models, `embedding`) and
#               ResNet50 (torchvision, random weights, exported at opset 13 by
#               tests/cnn/torch_export.py), on BENCH_CNN_N (default 200)
#               Fruits-360 images turned into 224x224 PNGs: imgpca =
#               s3_fetch_many(urls, 'cnn:model=...') on the local PNGs
#               (read + PNG decode + stretch (no-op at 224) + inference), default
#               threads and pinned to one CPU; peers get the decoded pixels
#               as float32 NCHW already in memory (no decode: in their favour),
#               at batch 1 and at their best batch, with their default threads
#   memory      peak RSS (/usr/bin/time) of s3_fetch_many over BENCH_CNN_RSS_N
#               (default 10,000) images, against the model's weight size
#   pipeline    sql/pipeline.sql with spec cnn:model=mobilenet_v2 on the 9,165
#               shared images (PCA 50, 1-NN of Test) against
#               bench/cnn_peer.py pipeline (Pillow in a Pool + OpenCV DNN,
#               all cores, + scikit-learn); BENCH_CNN_PIPELINE=0 skips it
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=/usr/bin/python3
N=${BENCH_CNN_N:-200}
RSS_N=${BENCH_CNN_RSS_N:-10000}
data=$root/../shared/data/fruits360
v2=$(realpath ../shared/models/mobilenet_v2_1.0_224.onnx)
W=$(mktemp -d /tmp/imgpca-bench-cnn.XXXXXX)
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null
node_modules=$(tests/cnn/ort-install.sh)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ResNet50 with random weights (cached by the torchvision cross-check)
r50=$($PY -c "
import sys; sys.path.insert(0, 'tests/cnn')
import torch_export as t
_, x = t.inputs()
print(t.export('resnet50', 13, x)[0])" | tail -1)

$PY bench/cnn_peer.py prepare "$data" "$N" "$W"
urls=$W/urls.json

# imgpca over the URL list; prints "<real s> <cpu s>" (model already loaded).
# THREADS = 1: the process pinned to one CPU (taskset -c 0), so that neither
# the workers nor OpenBLAS use a second core: the one-core baseline.
imgpca_run() { # MODEL THREADS
  local spec="cnn:model=$1" out pin=()
  [ "$2" = 1 ] && pin=(taskset -c 0)
  out=$("${pin[@]}" sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: <<SQL
SELECT imgpca_config('imgpca.threads', $2);
SELECT length(img_features(content, '$spec')) FROM s3_fetch_many(json_array(json_extract(readfile('$urls'), '\$[0]')));
.timer on
SELECT count(*), sum(length(features)), count(error) FROM s3_fetch_many(CAST(readfile('$urls') AS TEXT), '$spec');
SQL
)
  echo "$out" | grep -q "^$N|" || { echo "bench_cnn: imgpca failed: $out" >&2; return 1; }
  echo "$out" | awk '/^Run Time/ {print $4, $6 + $8}' | tail -1
}
ms() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.1f", 1000 * s / n }'; }
pct() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.0f %%", 100 * c / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", b / a }'; }

echo "## CNN embeddings (bench_cnn.sh)"
echo
echo "Same run, same $N Fruits-360 images as 224x224 PNGs. imgpca: \`s3_fetch_many(urls, 'cnn:model=…')\`"
echo "on the local files (read, PNG decode, inference; model loaded before timing); peers get the decoded"
echo "pixels as float32 NCHW in memory. ms/image = wall time / images; CPU = (user + sys) / wall."
echo "onnxruntime-node $(node -e "console.log(require('$node_modules/onnxruntime-node/package.json').version)"),"
echo "OpenCV $($PY -c 'import cv2; print(cv2.__version__)') (Clip rewritten to attributes), default thread counts."
echo "Ratio = peer time / imgpca time (> 1: imgpca faster)."
echo
for model in "$v2" "$r50"; do
  name=$(basename "$model" .onnx)
  $PY bench/cnn_peer.py dynbatch "$model" "$W/dyn.onnx"
  read -r i_s i_c < <(imgpca_run "$model" 0)
  read -r i1_s i1_c < <(imgpca_run "$model" 1)
  NODE_PATH=$node_modules node bench/cnn_ort.js "$W/dyn.onnx" "$W/images.f32" "$N" 1,4,8,16 > "$W/ort.json" 2>/dev/null
  $PY bench/cnn_peer.py opencv "$W/dyn.onnx" "$W/images.f32" "$N" 1,8,16 > "$W/cv.json"
  read -r o1_s o1_c ob ob_s ob_c < <($PY -c "
import json; r = [json.loads(l) for l in open('$W/ort.json')]
b1 = r[0]; best = min(r, key=lambda x: x['seconds'])
print(b1['seconds'], b1['cpu_seconds'], best['batch'], best['seconds'], best['cpu_seconds'])")
  read -r c1_s c1_c cb cb_s cb_c < <($PY -c "
import json; r = [json.loads(l) for l in open('$W/cv.json')]
b1 = r[0]; best = min(r, key=lambda x: x['seconds'])
print(b1['seconds'], b1['cpu_seconds'], best['batch'], best['seconds'], best['cpu_seconds'])")
  echo "### $name ($(($(stat -c %s "$model") / 1048576)) MiB of weights)"
  echo
  echo "| tool | ms / image | CPU | ratio |"
  echo "|---|---:|---:|---:|"
  echo "| **imgpca**, default threads ($(nproc) CPUs) | **$(ms "$i_s" "$N")** | $(pct "$i_c" "$i_s") | 1 |"
  echo "| imgpca, one CPU (\`taskset -c 0\`, imgpca.threads = 1) | $(ms "$i1_s" "$N") | $(pct "$i1_c" "$i1_s") | scaling all CPUs / one: $(ratio "$i_s" "$i1_s") |"
  echo "| onnxruntime-node, batch 1 | $(ms "$o1_s" "$N") | $(pct "$o1_c" "$o1_s") | $(ratio "$i_s" "$o1_s") |"
  echo "| onnxruntime-node, best batch ($ob of 1, 4, 8, 16) | $(ms "$ob_s" "$N") | $(pct "$ob_c" "$ob_s") | $(ratio "$i_s" "$ob_s") |"
  echo "| OpenCV DNN, batch 1 | $(ms "$c1_s" "$N") | $(pct "$c1_c" "$c1_s") | $(ratio "$i_s" "$c1_s") |"
  echo "| OpenCV DNN, best batch ($cb of 1, 8, 16) | $(ms "$cb_s" "$N") | $(pct "$cb_c" "$cb_s") | $(ratio "$i_s" "$cb_s") |"
  echo
done

# ---- peak RSS -------------------------------------------------------------------
$PY -c "
import json; u = json.load(open('$urls')); n = $RSS_N
json.dump([u[i % len(u)] for i in range(n)], open('$W/many.json', 'w'))
json.dump(u[:1], open('$W/one.json', 'w'))"
rss() { # URLS_JSON -> "<peak RSS KiB> <wall s>"
  /usr/bin/time -f '%M %e' -o "$W/rss.time" sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: \
    "SELECT count(*), count(error) FROM s3_fetch_many(CAST(readfile('$1') AS TEXT), 'cnn:model=$v2')" > "$W/rss.out"
  cat "$W/rss.time"
}
read -r rss1 _ < <(rss "$W/one.json")
read -r rssN rssN_s < <(rss "$W/many.json")
wmib=$(awk -v b="$(stat -c %s "$v2")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "### Memory (MobileNetV2, default threads)"
echo
echo "| images | peak RSS | over the weights ($wmib MiB) | wall |"
echo "|---:|---:|---:|---:|"
echo "| 1 | $((rss1 / 1024)) MiB | $(awk -v r="$rss1" -v w="$wmib" 'BEGIN { printf "%.0f MiB", r / 1024 - w }') | |"
echo "| $RSS_N | $((rssN / 1024)) MiB | $(awk -v r="$rssN" -v w="$wmib" 'BEGIN { printf "%.0f MiB", r / 1024 - w }') | ${rssN_s} s ($(ms "$rssN_s" "$RSS_N") ms/image) |"
echo
echo "Result of the $RSS_N-image query (count, errors): $(cat "$W/rss.out")."
echo

# ---- whole pipeline ----------------------------------------------------------------
if [ "${BENCH_CNN_PIPELINE:-1}" = 1 ]; then
  mkdir -p "$W/out"
  (cd "$root" && /usr/bin/time -f '%e %M' -o "$W/pipe.time" sqlite3 -batch -cmd ".load $root/dist/imgpca" \
     -cmd ".parameter set \$source '$data'" -cmd ".parameter set \$out '$W/out'" \
     -cmd ".parameter set \$spec 'cnn:model=$v2'" -cmd ".parameter set \$classify 1" \
     "$W/p.db" < sql/pipeline.sql > "$W/p.log" 2> "$W/p.err") || { tail -5 "$W/p.log" "$W/p.err" >&2; exit 1; }
  read -r p_wall p_rss < "$W/pipe.time"
  p_acc=$(sqlite3 "$W/p.db" "SELECT percent FROM accuracy")
  p_n=$(sqlite3 "$W/p.db" "SELECT count(*) FROM images")
  /usr/bin/time -f '%e %M' -o "$W/peer.time" $PY bench/cnn_peer.py pipeline "$data" 50 "$v2" > "$W/peer.json"
  read -r q_wall q_rss < "$W/peer.time"
  q_acc=$($PY -c "import json; print('%.2f' % (100 * json.load(open('$W/peer.json'))['accuracy']))")
  q_n=$($PY -c "import json; print(json.load(open('$W/peer.json'))['images'])")
  echo "### Whole pipeline, MobileNetV2 \`embedding\` (1280-d) → PCA 50 → 1-NN"
  echo
  echo "| | images | wall (s) | peak RSS | 1-NN accuracy on Test |"
  echo "|---|---:|---:|---:|---:|"
  echo "| imgpca \`sql/pipeline.sql\`, spec \`cnn:model=mobilenet_v2_1.0_224.onnx\` | $p_n | $p_wall | $((p_rss / 1024)) MiB | $p_acc % |"
  echo "| Python: Pillow (Pool, all cores) + OpenCV DNN (all cores, batch 32) + scikit-learn | $q_n | $q_wall | $((q_rss / 1024)) MiB | $q_acc % |"
  echo
  echo "Ratio peer / imgpca wall time: $(ratio "$p_wall" "$q_wall")."
  echo
fi
echo "Load average at the start: $load0, at the end: $(cut -d' ' -f1-3 /proc/loadavg), on $(nproc) CPUs shared with other"
echo "work ($(uptime | sed 's/.*up/up/')); absolute times are inflated, compare ratios within this run."
