#!/usr/bin/env bash
# Sharded runs: listing once, publishing in constant memory (bench_shard).
#   1. LIST requests for N = 4 shards over a bucket of IMGPCA_BENCH_KEYS objects (default
#      100,000 one-byte objects) on the test RGW, counted by the loopback request-counting
#      proxy (tests/faultproxy): the plan stage (scripts/imgpca-worker.sh plan, one listing) vs
#      the listing every map task did before the plan stage existed (s3_list of the whole
#      source, keeping imgpca_shard(key, N) = S): that query is run once for shard 0 and its
#      count multiplied by N (every task sent the same requests).
#   2. Publish (scripts/imgpca-worker.sh publish = s3_concat of 4 CSV parts): peak RSS
#      (/usr/bin/time -v) and wall time, for a CSV of IMGPCA_BENCH_PUBLISH_MB (default 1024) MiB
#      to a local file and to RGW (the parts on RGW: server-side copies); the peer is the
#      previous in-memory publish (sql/publish.sql before s3_concat, kept here as a heredoc)
#      at a quarter of the size, since it holds the whole CSV several times in memory and a
#      1 GiB result exceeds SQLite's 1,000,000,000-byte string limit.  The CSV-only publish
#      (IMGPCA_REPORT=0) is the measured subject; publish with its report page is measured once
#      at the quarter size (a stand-in model, since the report reads the model).
# Prints a markdown section.  Needs RAM for RGW's memstore: about 3 x the CSV size
# (RGW_MEMSTORE_MB is raised accordingly); everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ext=$root/dist/imgpca
py=/usr/bin/python3
nkeys=${IMGPCA_BENCH_KEYS:-100000}
pubmb=${IMGPCA_BENCH_PUBLISH_MB:-1024}
n=4
work=$(mktemp -d /tmp/imgpca-bench-shard.XXXXXX)
rgw=""; proxy_pid=""
cleanup() {
  [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true
  [ -z "$rgw" ] || scripts/rgw-stop.sh "$rgw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
sql() { sqlite3 -batch -bail -cmd ".load $ext" :memory: "$@"; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
# peak RSS (MiB) and wall time (s) of a command: "rss secs"
measure() {
  local log=$1; shift
  /usr/bin/time -v "$@" >"$log" 2>"$log.time" || { cat "$log" "$log.time" >&2; exit 1; }
  awk '/Maximum resident set size/ { rss = $NF / 1024 }
       /Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
       END { printf "%.1f %.2f\n", rss, s }' "$log.time"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)

rgw=$(RGW_MEMSTORE_MB=$(( pubmb * 3 + 1024 )) scripts/rgw-start.sh "$work/rgw" 2>/dev/null)
. "$rgw/env"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION \
       AWS_EC2_METADATA_DISABLED=true IMGPCA_S3_URL_STYLE=path AWS_ENDPOINT_URL=$RGW_ENDPOINT
bucket=s3://$RGW_BUCKET

# ---- 1. LIST requests ------------------------------------------------------------------------
# nkeys one-byte objects, written by 4 processes at once (keys spread over 100 folders)
a=$(now)
for p in 0 1 2 3; do
  sql "WITH RECURSIVE i(x) AS (SELECT $p UNION ALL SELECT x + 4 FROM i WHERE x + 4 < $nkeys)
       SELECT count(s3_put(printf('$bucket/many/c%02d/img-%07d.jpg', x % 100, x), 'x')) FROM i" >/dev/null &
done
wait
b=$(now); tput=$(secs "$a" "$b")
$py tests/faultproxy/faultproxy.py --listen 0 --upstream "${RGW_ENDPOINT#http://}" \
  --port-file "$work/proxy.port" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
proxy=http://127.0.0.1:$(cat "$work/proxy.port")
lists() { curl -sf "$proxy/__fault/log" | $py -c 'import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["method"] == "GET" and "list-type=2" in (r["query"] or "")))'; }
src="$bucket/many/**/*.jpg"
curl -sf -X POST "$proxy/__fault/reset" >/dev/null
a=$(now)
AWS_ENDPOINT_URL=$proxy IMGPCA_RUN=bench IMGPCA_OUT=$bucket/run IMGPCA_SOURCE=$src \
  scripts/imgpca-worker.sh plan "$n" >"$work/plan.log" 2>&1 || { cat "$work/plan.log" >&2; exit 1; }
b=$(now); tplan=$(secs "$a" "$b")
lplan=$(lists)
nplan=$(sql "SELECT CAST(s3_fetch('$bucket/run/plan/_plan.json') AS TEXT) ->> 'keys'")
curl -sf -X POST "$proxy/__fault/reset" >/dev/null
a=$(now)
nold=$(AWS_ENDPOINT_URL=$proxy sql "SELECT count(*) FROM s3_list('$src') WHERE imgpca_shard(key, $n) = 0")
b=$(now); told=$(secs "$a" "$b")
lold=$(lists)
kill "$proxy_pid" 2>/dev/null || true; proxy_pid=""

# ---- 2. publish ------------------------------------------------------------------------------
# 4 parts of pubmb/4 MiB each: a header line, then rows of the shape projection rows have
line='Training/Apple Braeburn 1/r_123_100.jpg,Apple Braeburn 1,train,-0.0772599727,-0.0697435364,0.0159283876,0.0942720473,-0.0889196247,-0.0532145537,0.0159283876,-0.0772599727'
hdr='key,label,split,pc1,pc2,pc3,pc4,pc5,pc6,pc7,pc8'
make_parts() { # dir total_mb
  local dir=$1 mb=$2 rows i
  rows=$(( mb * 1048576 / 4 / (${#line} + 1) ))
  mkdir -p "$dir/parts"
  for ((i = 0; i < n; i++)); do
    f=$(printf '%s/parts/part-%05d-of-%05d.csv' "$dir" "$i" "$n")
    { echo "$hdr"; awk -v l="$line" -v n="$rows" 'BEGIN { for (i = 0; i < n; i++) print l }'; } >"$f"
    printf '{"stage":"project","run":"bench","shard":%d,"nshard":%d,"rows":%d,"csv":"%s","bytes":%d,"header":"%s","header_bytes":%d,"csv_sha3":"%s"}' \
      "$i" "$n" "$rows" "$f" "$(stat -c %s "$f")" "$hdr" $(( ${#hdr} + 1 )) \
      "$(sql "SELECT lower(hex(sha3(s3_fetch('$f'), 256)))")" >"${f%.csv}.json"
  done
}
# the publish stage as a command line (for /usr/bin/time): out dest
# (IMGPCA_REPORT=0: the CSV and the parts manifest only; the report page is measured apart)
publish() { echo env IMGPCA_RUN=bench "IMGPCA_OUT=$1" "IMGPCA_DEST=$2" IMGPCA_NSHARD=$n IMGPCA_REPORT=${3:-0} scripts/imgpca-worker.sh publish; }
make_parts "$work/big" "$pubmb"
big=$(du -b "$work/big/parts" | awk '{print $1}')
read -r rss_loc t_loc <<<"$(measure "$work/pub-local.log" $(publish "$work/big" "$work/big/projection.csv"))"
csv_bytes=$(stat -c %s "$work/big/projection.csv")
rm -f "$work/big/projection.csv"
# the parts on RGW (then the local copies are removed to spare the disk)
sql "SELECT count(s3_put('$bucket/big/parts/' || name, content)) FROM s3_list('$work/big/parts/*.json')" >/dev/null
for f in "$work"/big/parts/*.csv; do
  aws --endpoint-url "$RGW_ENDPOINT" s3 cp --quiet "$f" "$bucket/big/parts/$(basename "$f")"
done
rm -rf "$work/big"
read -r rss_s3 t_s3 <<<"$(measure "$work/pub-s3.log" $(publish "$bucket/big" "$bucket/big/projection.csv"))"
s3stat=$(grep -o 'publish: wrote .*projection.csv ([^)]*)' "$work/pub-s3.log" | sed 's/.*(//; s/)//')
[ "$(sql "SELECT s3_fetch_or_null('$bucket/big/projection.csv', 0, 1) IS NOT NULL")" = 1 ] || { echo "bench_shard: no CSV on RGW" >&2; exit 1; }
sql "SELECT count(s3_delete(url)) FROM s3_list('$bucket/big/**')" >/dev/null

# the peer: the previous in-memory publish, at a quarter of the size
small=$(( pubmb / 4 ))
make_parts "$work/small" "$small"
cat >"$work/old-publish.sql" <<'SQL'
.bail on
CREATE TEMP TABLE parts AS
  WITH RECURSIVE i(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM i WHERE shard + 1 < $nshard)
  SELECT shard, CAST(s3_fetch(printf('%s/parts/part-%05d-of-%05d.json', $out, shard, $nshard)) AS TEXT) AS manifest FROM i;
CREATE TEMP TABLE bodies AS
  SELECT shard, manifest ->> 'csv_sha3' AS want,
         CAST(s3_fetch(printf('%s/parts/part-%05d-of-%05d.csv', $out, shard, $nshard)) AS TEXT) AS body FROM parts;
CREATE TEMP TABLE split AS
  SELECT shard, want, lower(hex(sha3(body, 256))) AS got, substr(body, 1, instr(body, char(10))) AS header,
         substr(body, instr(body, char(10)) + 1) AS rows_text FROM bodies;
SELECT s3_put($dest, (SELECT header FROM split WHERE shard = 0) ||
                     (SELECT group_concat(rows_text, '') FROM (SELECT rows_text FROM split ORDER BY shard)));
SQL
read -r rss_old t_old <<<"$(measure "$work/pub-old.log" sqlite3 -batch -bail -cmd ".load $ext" \
  -cmd ".parameter set \$out '$work/small'" -cmd ".parameter set \$nshard $n" \
  -cmd ".parameter set \$dest '$work/small/old.csv'" :memory: <"$work/old-publish.sql")"
read -r rss_new_small t_new_small <<<"$(measure "$work/pub-small.log" $(publish "$work/small" "$work/small/new.csv"))"
cmp -s "$work/small/old.csv" "$work/small/new.csv" || { echo "bench_shard: old and new publish differ" >&2; exit 1; }
small_bytes=$(stat -c %s "$work/small/new.csv")
rm -rf "$work/small"
# publish with the report page (sql/publish-report.sql): it reads the points file each project
# task writes beside its part (key, label, split, projection of every row) and classifies the
# test rows, so its memory grows with the rows: measured at about 100,000 rows (parts of
# $repmb MiB in all), with a stand-in model of k = 8 and points files of unique keys whose
# projections vary (a quarter of them test rows)
repmb=${IMGPCA_BENCH_REPORT_MB:-16}
make_parts "$work/rep" "$repmb"
sql "WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < 39)
     SELECT s3_put('$work/rep/model/model.pca', pca_fit(json_array(x % 7, x % 5, x % 3, x % 11, x % 13, x * x % 17, x % 2, x % 19), 8)),
            s3_put('$work/rep/model/model.json', json_object('spec', 'bench')) FROM i" >/dev/null
for ((i = 0; i < n; i++)); do
  rows=$(sql "SELECT CAST(s3_fetch(printf('$work/rep/parts/part-%05d-of-%05d.json', $i, $n)) AS TEXT) ->> 'rows'")
  sql "WITH RECURSIVE r(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM r WHERE x + 1 < $rows)
       SELECT s3_put(printf('$work/rep/parts/part-%05d-of-%05d.points.json', $i, $n),
                     json_group_array(json_array(printf('Training/L%03d/%d-%d.jpg', x % 141, $i, x), printf('L%03d', x % 141),
                                                 iif(x % 4 = 0, 'test', 'train'),
                                                 json_array(sin(x), cos(x * 0.7), (x % 141) * 0.01, sin(x * 0.3), (x % 7) * 0.1,
                                                            cos(x * 1.3), (x % 13) * 0.05, sin(x * 0.11)))))
         FROM r" >/dev/null
done
rep_rows=$(( $(cat "$work"/rep/parts/part-*-of-*.csv | wc -l) - n ))
read -r rss_rep t_rep <<<"$(measure "$work/pub-report.log" $(publish "$work/rep" "$work/rep/rep.csv" 1))"
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

cat <<MD
## Sharded runs: one listing, constant-memory publish (bench_shard)

**LIST requests, $n shards over $nplan objects** (one-byte objects in 100 folders on the test RGW,
written in $tput s; requests counted by a loopback proxy):

| variant | LIST requests | time (s) |
|---|---:|---:|
| plan stage (\`imgpca-worker.sh plan $n\`: one listing, $n key lists written) | $lplan | $tplan |
| before the plan stage: every map task lists the source (measured once for shard 0: $lold requests, $nold keys kept) x $n tasks | $(( lold * n )) | $told per task |

Ratio: $(ratio "$(( lold * n ))" "$lplan")x fewer LIST requests with the plan (the plan's count does not grow
with N; the old count was N x pages).

**Publish** (\`imgpca-worker.sh publish\`: \`s3_concat\` of $n parts, part 0 whole, the others
without their header line; peak RSS of the whole \`sqlite3\` process incl. the extension and
OpenBLAS, \`/usr/bin/time -v\`):

| variant | CSV size (MiB) | peak RSS (MiB) | time (s) |
|---|---:|---:|---:|
| local parts -> local file | $(mib "$csv_bytes") | $rss_loc | $t_loc |
| RGW parts -> RGW (one multipart upload: $s3stat) | $(mib "$csv_bytes") | $rss_s3 | $t_s3 |
| local parts -> local file | $(mib "$small_bytes") | $rss_new_small | $t_new_small |
| previous in-memory publish (peer), local | $(mib "$small_bytes") | $rss_old | $t_old |
| local parts -> local file, then the report page (\`IMGPCA_REPORT=1\`, \`sql/publish-report.sql\`: $rep_rows rows, a quarter classified) | $repmb | $rss_rep | $t_rep |

Goal: peak RSS <= 64 MiB whatever the size for the CSV. The report page that publish writes
by default after the CSV (\`sql/publish-report.sql\`, last row) reads every row's projection
from the points files and classifies the test rows, so its memory grows with the rows. At $(mib "$small_bytes") MiB the previous publish used
$(ratio "$rss_old" "$rss_new_small")x the memory of s3_concat (byte-identical output)$(
  [ "$csv_bytes" -gt 1000000000 ] && echo "; at $(mib "$csv_bytes") MiB it cannot run
(the assembled CSV exceeds SQLite's 1,000,000,000-byte limit on a string)").
Load average before the runs: $load.
MD
