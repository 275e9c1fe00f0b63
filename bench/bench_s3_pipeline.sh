#!/usr/bin/env bash
# The whole pipeline (sql/pipeline.sql) on a bucket against the same pipeline
# on a local folder: the 9,165-image Fruits-360 sample uploaded to a
# throwaway Ceph RGW (memstore) under one prefix, output written back to the
# bucket.  Each case on a new state database: a first run, then a rerun with
# nothing changed, then a run after 10 new images; S3 directly (0 ms added)
# and behind bench/latency_proxy.py adding 30 ms to every request/response
# exchange.  A counting fault proxy (tests/faultproxy) in front of RGW counts
# the GETs of images of each S3 run: thumbnails come from the state database,
# so a rerun GETs no image and a first run one per image.
# Prints a markdown section; ratios are against the local run of the same
# kind measured in the same run (the issue's goals: rerun <= 1.5x, first run
# <= 1.5x at 0 ms and <= 3x at 30 ms).
set -u
cd "$(dirname "$0")/.."
root=$PWD
ext=$root/dist/imgpca
data=$root/../shared/data/fruits360
work=$(mktemp -d /tmp/imgpca-bench-s3p.XXXXXX)
rgw=; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "$rgw" ] && scripts/rgw-stop.sh "$rgw" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
rgw=$(RGW_MEMSTORE_MB=2048 scripts/rgw-start.sh "$work/rgw" 2>/dev/null) || { echo "bench_s3_pipeline: cannot start RGW" >&2; exit 1; }
. "$rgw/env"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION \
       AWS_EC2_METADATA_DISABLED=true IMGPCA_S3_URL_STYLE=path
b=s3://$RGW_BUCKET
mkdir -p "$work/src"; cp -r "$data/Training" "$data/Test" "$work/src/"
n=$(find "$work/src" -name '*.jpg' | wc -l)
AWS_ENDPOINT_URL=$RGW_ENDPOINT sqlite3 -batch -cmd ".load $ext" :memory: \
  "SELECT count(s3_put('$b/fruits360/' || key, content)) FROM s3_list('$work/src/**/*.jpg')" >/dev/null
# 10 new images for the third run: copies of existing ones under new names
mapfile -t new < <(find "$work/src/Training" -name '*.jpg' | sort | sed -n '1,10p')
/usr/bin/python3 tests/faultproxy/faultproxy.py --listen 0 --upstream "${RGW_ENDPOINT#http://}" \
  --port-file "$work/count.port" >"$work/count.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/count.port" ] && break; sleep 0.1; done
cport=$(cat "$work/count.port")
/usr/bin/python3 bench/latency_proxy.py "$work/lat.port" "$cport" 30 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/lat.port" ] && break; sleep 0.1; done
gets() { curl -sf "http://127.0.0.1:$cport/__fault/log" | /usr/bin/python3 -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["method"] == "GET" and "/fruits360/" in e["path"] and "list-type" not in e["query"]))'; }
run() { # DB SOURCE OUT ENDPOINT -> seconds
  local t0 t1
  curl -sf -X POST "http://127.0.0.1:$cport/__fault/reset" >/dev/null
  t0=$(now)
  AWS_ENDPOINT_URL=$4 sqlite3 -batch -cmd ".load $ext" -cmd ".parameter set \$source '$2'" \
    -cmd ".parameter set \$out '$3'" "$1" < sql/pipeline.sql >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; echo "bench_s3_pipeline: run failed" >&2; exit 1; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
add_new() { # SOURCE-KIND
  local f i=0
  for f in "${new[@]}"; do i=$((i+1))
    if [ "$1" = local ]; then cp "$f" "$work/src/Training/Apple 6/zz-new-$i.jpg"
    else AWS_ENDPOINT_URL=$RGW_ENDPOINT sqlite3 -batch -cmd ".load $ext" :memory: \
      "SELECT s3_put('$b/fruits360/Training/Apple 6/zz-new-$i.jpg', s3_fetch('$f'))" >/dev/null; fi
  done
}
del_new() {
  rm -f "$work/src/Training/Apple 6/"zz-new-*.jpg
  AWS_ENDPOINT_URL=$RGW_ENDPOINT sqlite3 -batch -cmd ".load $ext" :memory: \
    "SELECT count(s3_delete(url)) FROM s3_list('$b/fruits360/Training/Apple 6/zz-new-*')" >/dev/null
}
declare -A T G S
# the floors: one listing of the prefix, and the transfer of every image (s3_list's content
# column, s3.max_inflight requests in flight), each alone
floor() { # ENDPOINT SQL -> seconds
  local t0 t1
  t0=$(now)
  AWS_ENDPOINT_URL=$1 sqlite3 -batch -cmd ".load $ext" :memory: "$2" >/dev/null
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
case_run() { # NAME SOURCE OUT ENDPOINT KIND
  local db=$work/$1.db
  T[$1.first]=$(run "$db" "$2" "$3" "$4"); G[$1.first]=$(gets)
  T[$1.rerun]=$(run "$db" "$2" "$3" "$4"); G[$1.rerun]=$(gets)
  add_new "$5"
  T[$1.new]=$(run "$db" "$2" "$3" "$4"); G[$1.new]=$(gets)
  del_new
}
l0=$(load)
for e in s3 s3lat; do
  ep=http://127.0.0.1:$cport; [ $e = s3lat ] && ep=http://127.0.0.1:$(cat "$work/lat.port")
  T[$e.list]=$(floor "$ep" "SELECT count(*) FROM s3_list('$b/fruits360/**/*')")
  T[$e.xfer]=$(floor "$ep" "SELECT count(*), sum(length(content)) FROM s3_list('$b/fruits360/**/*')")
done
case_run local "$work/src" "$work/out-local" "$RGW_ENDPOINT" local
case_run s3 "$b/fruits360" "$b/out-s3" "http://127.0.0.1:$cport" s3
case_run s3lat "$b/fruits360" "$b/out-s3lat" "http://127.0.0.1:$(cat "$work/lat.port")" s3
# the sharded path on the same bucket, 4 shards run one after the other on this machine
# (scripts/imgpca-worker.sh), output on RGW; publish (CSV + report) behind the counting proxy
shard_t() { # STAGE [ARGS] -> seconds
  local t0 t1
  t0=$(now)
  AWS_ENDPOINT_URL=http://127.0.0.1:$cport IMGPCA_RUN=bench IMGPCA_SOURCE="$b/fruits360/**/*.jpg" IMGPCA_OUT="$b/sharded" \
    IMGPCA_SPEC='hist:bins=8,sqrt' IMGPCA_K=50 IMGPCA_NSHARD=4 scripts/imgpca-worker.sh "$@" >>"$work/shard.log" 2>&1 ||
    { tail -20 "$work/shard.log" >&2; echo "bench_s3_pipeline: sharded $1 failed" >&2; exit 1; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
S[plan]=$(shard_t plan)
S[map]=0; S[project]=0
for i in 0 1 2 3; do S[map]=$(awk -v a="${S[map]}" -v b="$(shard_t map $i 4)" 'BEGIN {print a + b}'); done
S[reduce]=$(shard_t reduce)
for i in 0 1 2 3; do S[project]=$(awk -v a="${S[project]}" -v b="$(shard_t project $i 4)" 'BEGIN {print a + b}'); done
curl -sf -X POST "http://127.0.0.1:$cport/__fault/reset" >/dev/null
S[publish]=$(shard_t publish)
curl -sf "http://127.0.0.1:$cport/__fault/log" >"$work/pub.json"
csvb=$(AWS_ENDPOINT_URL=$RGW_ENDPOINT sqlite3 -batch -cmd ".load $ext" :memory: "SELECT length(s3_fetch('$b/sharded/projection.csv'))")
pubstat=$(/usr/bin/python3 - "$work/pub.json" "$csvb" <<'PY'
import collections, json, sys
log = json.load(open(sys.argv[1])); csvb = int(sys.argv[2])
g = [e for e in log if e["method"] == "GET" and "list-type" not in e["query"]]
per = collections.Counter(e["path"] for e in g)
def b(suffix): return sum(e.get("bytes", 0) for e in g if e["path"].endswith(suffix))
pts, th, csv, allb = b(".points.json"), b(".thumbs.json"), b(".csv"), sum(e.get("bytes", 0) for e in g)
twice = sorted(p.split("/sharded/")[-1] for p, c in per.items() if c > 1)
print("%d GETs (at most %d of one object%s), %.2f MB in all: CSV parts %.2f MB (%.2fx the CSV), points %.2f MB (%.2fx), thumbnails %.2f MB; CSV %.2f MB"
      % (len(g), max(per.values(), default=0), (": " + ", ".join(twice)) if twice else "", allb / 1e6, csv / 1e6, csv / csvb,
         pts / 1e6, pts / csvb, th / 1e6, csvb / 1e6))
PY
)
# the same run again: plan, then the 4 map tasks (each reused when its key list is unchanged)
curl -sf -X POST "http://127.0.0.1:$cport/__fault/reset" >/dev/null
S[plan2]=$(shard_t plan)
S[map2]=0
for i in 0 1 2 3; do S[map2]=$(awk -v a="${S[map2]}" -v b="$(shard_t map $i 4)" 'BEGIN {print a + b}'); done
G[map2]=$(gets)
S[reused]=$(grep -c 'unchanged since its manifest.*reused' "$work/shard.log")
l1=$(load)
cmp -s "$work/out-local/pca.csv" <(AWS_ENDPOINT_URL=$RGW_ENDPOINT sqlite3 -batch -cmd ".load $ext" :memory: \
  "SELECT CAST(s3_fetch('$b/out-s3/pca.csv') AS TEXT)" | head -c -1) && same=yes || same=no
echo "## Pipeline on a bucket vs a local folder (bench_s3_pipeline.sh)"
echo
echo "sql/pipeline.sql on the $n-image Fruits-360 sample (hist:bins=8,sqrt, k = 50, report with thumbnails):"
echo "local folder -> local folder, vs RGW prefix -> same bucket (memstore, 127.0.0.1) directly and behind"
echo "a proxy adding 30 ms to every request. Each case on a new state database: first run, rerun with"
echo "nothing changed, run after 10 new images. GETs = image GETs counted by a proxy in front of RGW."
echo "Same S3 and local pca.csv bytes: $same. Load average (1, 5, 15 min) before: $l0, after: $l1"
echo "(the $(nproc)-core machine is shared with other engineers' builds and tests: only the ratios"
echo "inside this run mean anything)."
echo
echo "| run | local s | S3 0 ms s | ratio | GETs | S3 30 ms s | ratio | GETs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in first rerun new; do
  awk -v r="$r" -v l="${T[local.$r]}" -v s="${T[s3.$r]}" -v g="${G[s3.$r]}" -v x="${T[s3lat.$r]}" -v gx="${G[s3lat.$r]}" 'BEGIN {
    printf "| %s | %.2f | %.2f | %.2fx | %d | %.2f | %.2fx | %d |\n", r, l, s, s / l, g, x, x / l, gx }'
done
echo
echo "Floors measured alone in the same run: one listing of the prefix ${T[s3.list]} s (30 ms: ${T[s3lat.list]} s);"
echo "the transfer of every image through s3_list's content column ${T[s3.xfer]} s (30 ms: ${T[s3lat.xfer]} s)."
echo "Against the goals \"S3 first run <= local first run + transfer\" and \"S3 rerun <= 1.5x local rerun + one listing\":"
echo
echo "| run | S3 0 ms - floor s | vs local | S3 30 ms - floor s | vs local |"
echo "|---|---:|---:|---:|---:|"
awk -v l="${T[local.first]}" -v s="${T[s3.first]}" -v f="${T[s3.xfer]}" -v x="${T[s3lat.first]}" -v fx="${T[s3lat.xfer]}" 'BEGIN {
  printf "| first (minus transfer) | %.2f | %.2fx | %.2f | %.2fx |\n", s - f, (s - f) / l, x - fx, (x - fx) / l }'
awk -v l="${T[local.rerun]}" -v s="${T[s3.rerun]}" -v f="${T[s3.list]}" -v x="${T[s3lat.rerun]}" -v fx="${T[s3lat.list]}" 'BEGIN {
  printf "| rerun (minus listing) | %.2f | %.2fx | %.2f | %.2fx |\n", s - f, (s - f) / l, x - fx, (x - fx) / l }'
echo
echo "**Sharded path**, same bucket, 4 shards one after the other (scripts/imgpca-worker.sh; k = 50):"
echo "plan ${S[plan]} s, map ${S[map]} s (4 tasks), reduce ${S[reduce]} s, project ${S[project]} s (4 tasks),"
echo "publish with the report ${S[publish]} s. Publish GETs: $pubstat."
echo "The same run again, nothing changed: plan ${S[plan2]} s, then map ${S[map2]} s for the 4 tasks,"
echo "${S[reused]} of 4 shards reused, ${G[map2]} image GETs."
echo
echo "100k objects: not run here (uploading 100,000 objects into the memstore gateway and three"
echo "pipeline runs each way would take this shared 2-core machine most of an hour); the per-image"
echo "costs above are linear in the images processed, and bench_million.sh measures the local"
echo "pipeline at 100k."
