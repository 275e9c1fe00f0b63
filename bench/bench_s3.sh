#!/usr/bin/env bash
# S3 fetch throughput against a throwaway Ceph RGW on this machine: the 9,165
# Fruits-360 JPEGs (Training + Test) uploaded under one prefix, then
#   1. imgpca: s3_list(...) with its content column (curl multi, s3.max_inflight)
#   2. aws s3 cp --recursive of the same prefix (Debian AWS CLI, its defaults)
#   3. a sequential s3_fetch loop (one request at a time; a sample of 500
#      objects, rates extrapolated)
# Then the same on a second gateway started with RGW_TCP_NODELAY=0, where every
# request on a kept-alive connection waits ~40 ms (Nagle + delayed ACK): a
# high-latency link, using the 2,115 test images and a 100-object sequential
# sample.  On one 2-core host without latency the run is CPU-bound, so the
# second table is the one that shows what concurrency buys.
# Prints a markdown section; ratios are against imgpca's listing in the same run.
set -u
cd "$(dirname "$0")/.."
root=$PWD
ext=$root/dist/imgpca
data=$root/../shared/data/fruits360
work=$(mktemp -d /tmp/imgpca-bench-s3.XXXXXX)
rgw=
cleanup() { [ -n "$rgw" ] && scripts/rgw-stop.sh "$rgw"; rm -rf "$work"; }
trap cleanup EXIT
export HOME=$work AWS_EC2_METADATA_DISABLED=true
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }
q() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT \
      sqlite3 -batch -cmd ".load $ext" :memory: "$@"; }
now() { date +%s.%N; }
run() { # title nodelay sequential-sample folders... ; prints a table
  local title=$1 nodelay=$2 seqn=$3; shift 3
  rgw=$(RGW_MEMSTORE_MB=2048 RGW_TCP_NODELAY=$nodelay scripts/rgw-start.sh "$work/rgw" 2>/dev/null) || { echo "bench_s3: cannot start RGW" >&2; exit 1; }
  . "$rgw/env"
  local f n_local bytes_local t0 t1 r1 r2 r3 t_ours t_ours64 t_aws t_seq n_aws b_aws ref
  for f in "$@"; do awsc s3 cp --recursive --quiet "$data/$f" "s3://$RGW_BUCKET/fruits/$f/" || exit 1; done
  n_local=$(for f in "$@"; do find "$data/$f" -type f -name '*.jpg'; done | wc -l)
  bytes_local=$(for f in "$@"; do find "$data/$f" -type f -name '*.jpg' -printf '%s\n'; done | awk '{s+=$1} END {print s}')
  t0=$(now); r1=$(q "SELECT count(*) || ' ' || sum(length(content)) FROM s3_list('s3://$RGW_BUCKET/fruits/**/*.jpg');"); t1=$(now)
  t_ours=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  t0=$(now); r2=$(q "SELECT imgpca_config('s3.max_inflight', 64);
    SELECT count(*) || ' ' || sum(length(content)) FROM s3_list('s3://$RGW_BUCKET/fruits/**/*.jpg');" | tail -1); t1=$(now)
  t_ours64=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  t0=$(now); awsc s3 cp --recursive --quiet "s3://$RGW_BUCKET/fruits/" "$work/dl/"; t1=$(now)
  t_aws=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  n_aws=$(find "$work/dl" -type f | wc -l); b_aws=$(find "$work/dl" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  rm -rf "$work/dl"
  t0=$(now); r3=$(q "SELECT count(*) || ' ' || sum(length(s3_fetch(url))) FROM
    (SELECT url FROM s3_list('s3://$RGW_BUCKET/fruits/**/*.jpg') LIMIT $seqn);"); t1=$(now)
  t_seq=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  ref=$(awk -v n="${r1% *}" -v t="$t_ours" 'BEGIN {print n/t}')
  echo "### $title"
  echo
  echo "$n_local Fruits-360 JPEGs ($(awk -v b="$bytes_local" 'BEGIN {printf "%.1f", b/1e6}') MB) under one prefix."
  echo "Ratio = objects/s relative to imgpca's s3_list content column (32 in flight)."
  echo
  echo "| method | objects | MB | seconds | objects/s | MB/s | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  row "imgpca s3_list content (s3.max_inflight=32)" "${r1% *}" "${r1#* }" "$t_ours" "$ref"
  row "imgpca s3_list content (s3.max_inflight=64)" "${r2% *}" "${r2#* }" "$t_ours64" "$ref"
  row "aws s3 cp --recursive (AWS CLI defaults)" "$n_aws" "$b_aws" "$t_aws" "$ref"
  row "sequential s3_fetch loop ($seqn-object sample)" "${r3% *}" "${r3#* }" "$t_seq" "$ref"
  echo
  awk -v a="$t_aws" -v o="$t_ours" -v n="${r1% *}" -v s="$t_seq" -v ns="${r3% *}" -v na="$n_aws" 'BEGIN {
    printf "imgpca vs AWS CLI: %.2fx; imgpca vs sequential: %.1fx (objects/s).\n\n", (n/o)/(na/a), (n/o)/(ns/s) }'
  [ "${r1% *}" = "$n_local" ] && [ "${r1#* }" = "$bytes_local" ] || echo "_warning: imgpca fetched ${r1} (expected $n_local $bytes_local)_"
  scripts/rgw-stop.sh "$rgw"; rgw=
}
row() { # name objects bytes seconds ref
  awk -v name="$1" -v n="$2" -v b="$3" -v t="$4" -v ref="$5" 'BEGIN {
    printf "| %s | %d | %.1f | %.2f | %.0f | %.2f | %.2fx |\n", name, n, b/1e6, t, n/t, b/1e6/t, (n/t)/ref }'
}
echo "## S3 fetch (bench_s3.sh)"
echo
echo "Ceph RGW (memstore OSD, one host, 127.0.0.1), $(nproc) cores shared by the gateway and the clients."
echo
run "Low latency (RGW tcp_nodelay=1): all 9,165 images" 1 500 Training Test
run "~40 ms per request (RGW tcp_nodelay=0): the 2,115 test images" 0 100 Test
