#!/usr/bin/env bash
# s3_fetch_many: what the concurrent fetch operator and its worker pool buy.
#
# (a) Latency.  A throwaway Ceph RGW behind bench/latency_proxy.py (loopback,
#     30 ms added to every request/response exchange, as a distant region
#     would).  1,500 Fruits-360 JPEGs uploaded once under one flat prefix and
#     once under three prefixes of 500.  Timed, fetch + hist features:
#       - s3_fetch_many over the flat prefix (url IN (SELECT url FROM s3_list(..)))
#       - s3_list(...).content + img_features, one statement per prefix of 500
#         (the path the pipeline used per folder)
#       - s3_list(...).content + img_features over the flat prefix
#       - a sequential s3_fetch loop (a sample of FETCH_BENCH_SEQ_N objects,
#         rate extrapolated to 1,500)
#     The concurrent paths run twice each, the best time counts.
#     Goals: flat s3_fetch_many >= 0.9x the three-prefix path; both >= 15x
#     the sequential loop.
# (b) Threads.  The feature stage alone (local files, hist:bins=8,sqrt) over
#     the 9,165 sample images replicated with hard links to FETCH_BENCH_N
#     images (default 100,000): imgpca.threads = 1 vs 2, and the Python peer
#     (Pillow + NumPy, bench/pipeline_peer.py's histogram, multiprocessing
#     Pool(2)) on the first FETCH_BENCH_PEER_N of them (default 4,000; rates
#     compared per image).  Goals: 2 threads >= 1.8x one thread on 2 cores;
#     >= 5x the peer.
# Prints a markdown section.  Env: FETCH_BENCH_N, FETCH_BENCH_PEER_N,
# FETCH_BENCH_SEQ_N (150), FETCH_BENCH_DELAY_MS (30), FETCH_BENCH_PARTS (ab).
set -u
cd "$(dirname "$0")/.."
root=$PWD
ext=$root/dist/imgpca
data=$root/../shared/data/fruits360
N=${FETCH_BENCH_N:-100000}
NPEER=${FETCH_BENCH_PEER_N:-4000}
SEQ=${FETCH_BENCH_SEQ_N:-150}
DELAY=${FETCH_BENCH_DELAY_MS:-30}
NLAT=1500
PARTS=${FETCH_BENCH_PARTS:-ab}   # a = latency, b = threads
spec='hist:bins=8,sqrt'
work=$(mktemp -d /tmp/imgpca-bench-fetch.XXXXXX)
rgw=
proxy=
cleanup() {
  [ -n "$proxy" ] && kill "$proxy" 2>/dev/null
  [ -n "$rgw" ] && scripts/rgw-stop.sh "$rgw"
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work AWS_EC2_METADATA_DISABLED=true
now() { date +%s.%N; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = (b > 0 ? a / b : 0); printf (r < 1 ? "%.2f" : "%.1f"), r}'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN {print (a < b ? a : b)}'; }
die() { echo "bench_fetch: $*" >&2; exit 1; }

echo "## s3_fetch_many"
echo
# ---------------- (a) latency ----------------
if [[ $PARTS == *a* ]]; then
rgw=$(RGW_MEMSTORE_MB=1024 scripts/rgw-start.sh "$work/rgw" 2>/dev/null) || die "cannot start RGW"
. "$rgw/env"
B=$RGW_BUCKET
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }
mkdir -p "$work/one" "$work/three/p1" "$work/three/p2" "$work/three/p3"
find "$data/Training" -name '*.jpg' | sort | awk -v n=$NLAT 'NR <= n {printf "%s\t%05d.jpg\t%d\n", $0, NR, (NR - 1) / (n / 3) + 1}' |
  while IFS=$'\t' read -r src name p; do
    cp "$src" "$work/one/$name"
    ln "$work/one/$name" "$work/three/p$p/$name"
  done
awsc s3 cp --recursive --quiet "$work/one" "s3://$B/one/" || die "upload"
awsc s3 cp --recursive --quiet "$work/three" "s3://$B/three/" || die "upload"
/usr/bin/python3 bench/latency_proxy.py "$work/proxy.port" "${RGW_ENDPOINT##*:}" "$DELAY" &
proxy=$!
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.05; done
[ -s "$work/proxy.port" ] || die "latency proxy did not start"
pq() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY \
       AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$work/proxy.port") sqlite3 -batch -cmd ".load $ext" :memory: "$@"; }
la_a=$(cut -d' ' -f1 /proc/loadavg)

# the three concurrent paths, twice each; the best time counts
t_many=999999; t_three=999999; t_flat=999999
for round in 1 2; do
  t0=$(now); r_many=$(pq "SELECT count(features) FROM s3_fetch_many
     WHERE url IN (SELECT url FROM s3_list('s3://$B/one/')) AND spec = '$spec';"); t1=$(now)
  t_many=$(min "$t_many" "$(dt "$t0" "$t1")")
  t0=$(now); r_three=$(pq "SELECT count(img_features_or_null(content, '$spec')) FROM s3_list('s3://$B/three/p1/');
     SELECT count(img_features_or_null(content, '$spec')) FROM s3_list('s3://$B/three/p2/');
     SELECT count(img_features_or_null(content, '$spec')) FROM s3_list('s3://$B/three/p3/');" | awk '{s += $1} END {print s}'); t1=$(now)
  t_three=$(min "$t_three" "$(dt "$t0" "$t1")")
  t0=$(now); r_flat=$(pq "SELECT count(img_features_or_null(content, '$spec')) FROM s3_list('s3://$B/one/');"); t1=$(now)
  t_flat=$(min "$t_flat" "$(dt "$t0" "$t1")")
done
t0=$(now); r_seq=$(pq "SELECT count(img_features_or_null(s3_fetch(url), '$spec')) FROM
   (SELECT url FROM s3_list('s3://$B/one/') LIMIT $SEQ);"); t1=$(now)
t_seq=$(awk -v t="$(dt "$t0" "$t1")" -v n=$NLAT -v s=$SEQ 'BEGIN {printf "%.2f", t * n / s}')
[ "$r_many" = $NLAT ] && [ "$r_three" = $NLAT ] && [ "$r_flat" = $NLAT ] && [ "$r_seq" = "$SEQ" ] ||
  die "unexpected counts: $r_many $r_three $r_flat $r_seq"
kill "$proxy" 2>/dev/null; proxy=
scripts/rgw-stop.sh "$rgw"; rgw=

echo "### Latency: $NLAT objects, ${DELAY} ms added per request (fetch + \`$spec\` features)"
echo
echo "Ceph RGW on this host behind a loopback proxy adding ${DELAY} ms to every request/response"
echo "exchange; \`s3.max_inflight\` = 32 (default), \`imgpca.threads\` = default ($(nproc) CPUs);"
echo "load average before the runs: $la_a (RGW, the proxy and the client share the CPUs)."
echo "Concurrent paths: best of two runs each; the sequential loop: one run."
echo
echo "| path | layout | time (s) | objects/s | vs sequential |"
echo "|---|---|---:|---:|---:|"
for row in "s3_fetch_many, url IN (s3_list(prefix))|1 prefix of $NLAT|$t_many" \
           "s3_list(prefix).content + img_features, one statement per prefix|3 prefixes of $((NLAT / 3))|$t_three" \
           "s3_list(prefix).content + img_features|1 prefix of $NLAT|$t_flat" \
           "sequential s3_fetch loop ($SEQ objects, extrapolated)|1 prefix of $NLAT|$t_seq"; do
  IFS='|' read -r name layout t <<< "$row"
  echo "| $name | $layout | $t | $(awk -v n=$NLAT -v t="$t" 'BEGIN {printf "%.0f", n / t}') | $(ratio "$t_seq" "$t")x |"
done
echo
echo "Flat prefix with \`s3_fetch_many\` vs three prefixes with the listing's content column:"
echo "**$(ratio "$t_three" "$t_many")x** the speed (goal >= 0.9x); vs the sequential loop:"
echo "**$(ratio "$t_seq" "$t_many")x** and **$(ratio "$t_seq" "$t_three")x** (goal >= 15x)."
echo

fi
# ---------------- (b) threads ----------------
[[ $PARTS == *b* ]] || exit 0
mkdir -p "$work/base" "$work/rep"
find "$data" -name '*.jpg' | sort | awk '{printf "%s\t%05d.jpg\n", $0, NR}' |
  while IFS=$'\t' read -r src name; do cp "$src" "$work/base/$name"; done
nbase=$(ls "$work/base" | wc -l)
i=0
while [ $((i * nbase)) -lt "$N" ]; do cp -al "$work/base" "$work/rep/$i"; i=$((i + 1)); done
/usr/bin/python3 - "$work/rep" "$N" "$work/urls.json" <<'PY'
import json, os, sys
root, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = [os.path.join(root, d, f) for d in sorted(os.listdir(root), key=int) for f in sorted(os.listdir(os.path.join(root, d)))]
json.dump(files[:n], open(out, 'w'))
PY
la_b=$(cut -d' ' -f1 /proc/loadavg)
lq() { sqlite3 -batch -cmd ".load $ext" :memory: "$@"; }
declare -A tt cpu
# wall and CPU (user + sys, children included) seconds of a command
timed() { /usr/bin/time -f '%e %U %S' -o "$work/time.txt" "$@"; }
wall() { awk '{print $1}' "$work/time.txt"; }
cpus() { awk '{printf "%.2f", $2 + $3}' "$work/time.txt"; }
for t in 1 2; do
  r=$(timed sqlite3 -batch -cmd ".load $ext" :memory: "SELECT imgpca_config('imgpca.threads', $t);
    SELECT count(features) FROM s3_fetch_many(CAST(s3_fetch('$work/urls.json') AS TEXT), '$spec');" | tail -1)
  [ "$r" = "$N" ] || die "threads=$t: $r features for $N images"
  tt[$t]=$(wall); cpu[$t]=$(cpus)
done
timed /usr/bin/python3 - "$work/urls.json" "$NPEER" <<'PY' || die "python peer failed"
import json, sys
from multiprocessing import Pool
sys.path.insert(0, 'bench')
from pipeline_peer import hist
files = json.load(open(sys.argv[1]))[:int(sys.argv[2])]
with Pool(2) as p:
    X = p.map(hist, files, chunksize=64)
assert len(X) == len(files)
PY
t_peer=$(wall); cpu_peer=$(cpus)
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.0f", n / t}'; }
r1=$(rate "$N" "${tt[1]}"); r2=$(rate "$N" "${tt[2]}"); rp=$(rate "$NPEER" "$t_peer")
c1=$(rate "$N" "${cpu[1]}"); c2=$(rate "$N" "${cpu[2]}"); cp_=$(rate "$NPEER" "$cpu_peer")
echo "### Threads: feature stage on $N local images"
echo
echo "The $nbase sample JPEGs (100x100) replicated with hard links to $N files; \`$spec\`;"
echo "the whole statement (JSON list of paths, read, decode, features); $(nproc) CPUs on a"
echo "shared machine, load average $la_b before the runs. Wall time depends on what the other"
echo "jobs leave; CPU time (user + sys of the process and its children) does not, so"
echo "images per CPU-second is the per-core figure."
echo
echo "| run | images | wall (s) | images/s | vs 1 thread | CPU (s) | images per CPU-second |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "| s3_fetch_many, imgpca.threads = 1 | $N | ${tt[1]} | $r1 | 1.0x | ${cpu[1]} | $c1 |"
echo "| s3_fetch_many, imgpca.threads = 2 | $N | ${tt[2]} | $r2 | $(ratio "$r2" "$r1")x | ${cpu[2]} | $c2 |"
echo "| Python peer: Pillow + NumPy, Pool(2) | $NPEER | $t_peer | $rp | $(ratio "$rp" "$r1")x | $cpu_peer | $cp_ |"
echo
echo "2 threads vs 1: **$(ratio "$r2" "$r1")x** (goal >= 1.8x on 2 cores); vs the Python peer with"
echo "2 processes: **$(ratio "$r2" "$rp")x** per image (goal >= 5x), **$(ratio "$c2" "$cp_")x** per CPU-second."
