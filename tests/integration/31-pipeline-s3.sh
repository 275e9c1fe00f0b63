#!/usr/bin/env bash
# End-to-end on S3: sql/pipeline.sql with $source and $out on the project's
# throwaway Ceph RGW (scripts/rgw-start.sh).  A sample of 12 classes of
# ../shared/data/fruits360 is uploaded with the AWS CLI (an independent
# client); the pipeline lists, fetches, writes pca.csv + the plots back to the
# bucket; the CSV downloaded with the AWS CLI must equal, byte for byte (keys
# are relative to the source in both), the CSV of the same pipeline run on the local
# copy; batches of 20 images, so every class folder (about 50 images) spans
# several batches fetched concurrently by s3_fetch_many; a fresh S3 run killed
# with SIGKILL in the middle of its batches and resumed ends in the same CSV
# bytes; a rerun processes zero images; a new object is the only one processed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
AWS="/usr/bin/aws --endpoint-url"
T=$(mktemp -d /tmp/imgpca-it31.XXXXXX)
rgw=""
cleanup() { [ -n "$rgw" ] && scripts/rgw-stop.sh "$rgw" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

rgw=$(scripts/rgw-start.sh 2>"$T/rgw.log") || { cat "$T/rgw.log"; fail "rgw did not start"; }
# shellcheck disable=SC1091
. "$rgw/env"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION
export AWS_ENDPOINT_URL=$RGW_ENDPOINT AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN || true

mkdir -p "$T/src/Training" "$T/src/Test"
for c in "Apple Braeburn 1" "Banana 1" "Cherry 1" "Kiwi 1" "Lemon 1" "Lime 1" "Mango 1" "Orange 1" \
         "Pear 1" "Plum 1" "Strawberry 1" "Tomato 1"; do
  for s in Training Test; do [ -d "$data/$s/$c" ] && cp -r "$data/$s/$c" "$T/src/$s/"; done
done
held=$(find "$T/src/Training" -name '*.jpg' | sort | sed -n 1p)
mv "$held" "$T/held.jpg"
n=$(find "$T/src" -name '*.jpg' | wc -l)
$AWS "$RGW_ENDPOINT" s3 cp --recursive --only-show-errors "$T/src/" "s3://$RGW_BUCKET/fruits/"

run() { # DB SOURCE OUT
  (cd "$root" && exec sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$2'" \
     -cmd ".parameter set \$out '$3'" -cmd '.parameter set $batch 20' "$1" < "$root/sql/pipeline.sql")
}
run "$T/s3.db" "s3://$RGW_BUCKET/fruits" "s3://$RGW_BUCKET/out" > "$T/s3.log" 2>&1 || { cat "$T/s3.log"; fail "S3 run failed"; }
run "$T/local.db" "$T/src" "$T/out" > "$T/local.log" 2>&1 || { cat "$T/local.log"; fail "local run failed"; }
$AWS "$RGW_ENDPOINT" s3 cp --only-show-errors "s3://$RGW_BUCKET/out/pca.csv" "$T/s3.csv"
for f in scree.svg scatter.svg; do
  $AWS "$RGW_ENDPOINT" s3 ls "s3://$RGW_BUCKET/out/$f" > /dev/null || fail "$f not uploaded"
done
rows=$(( $(wc -l < "$T/s3.csv") - 1 ))
[ "$rows" = "$n" ] || fail "S3 CSV has $rows rows for $n images"
cmp -s "$T/s3.csv" "$T/out/pca.csv" || fail "S3 CSV differs from the local run's CSV"
grep -q "in $(( (n + 19) / 20 )) batches of 20" "$T/s3.log" || { cat "$T/s3.log"; fail "the S3 run did not go by batches of 20"; }

# a fresh S3 run killed with SIGKILL between its first and last batch, resumed
(cd "$root" && exec sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source 's3://$RGW_BUCKET/fruits'" \
   -cmd ".parameter set \$out 's3://$RGW_BUCKET/out-kill'" -cmd '.parameter set $batch 20' "$T/kill.db" \
   < "$root/sql/pipeline.sql" > "$T/kill.log" 2>&1) &
pid=$!   # the sqlite3 process itself (exec)
disown "$pid"   # no job-control "Killed" notice
for _ in $(seq 1 1200); do
  k=$(sqlite3 "$T/kill.db" "SELECT count(*) FROM images" 2>/dev/null || echo 0)
  [ "${k:-0}" -ge 100 ] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null || fail "the S3 pipeline finished before it could be killed"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
killed_at=$(sqlite3 "$T/kill.db" "SELECT count(*) FROM images")
[ "$killed_at" -lt "$n" ] || fail "the kill came after the feature stage ($killed_at images done)"
[ $((killed_at % 20)) = 0 ] || fail "a killed run kept a partial batch ($killed_at images)"
run "$T/kill.db" "s3://$RGW_BUCKET/fruits" "s3://$RGW_BUCKET/out-kill" > "$T/kill2.log" 2>&1 || { cat "$T/kill2.log"; fail "resumed S3 run failed"; }
p=$(sqlite3 "$T/kill.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$p" = $((n - killed_at)) ] || fail "resumed S3 run processed $p images, expected $((n - killed_at))"
$AWS "$RGW_ENDPOINT" s3 cp --only-show-errors "s3://$RGW_BUCKET/out-kill/pca.csv" "$T/kill.csv"
cmp -s "$T/kill.csv" "$T/s3.csv" || fail "killed and resumed S3 run: CSV differs from the uninterrupted one"

# rerun: nothing to fetch; one new object: only it
run "$T/s3.db" "s3://$RGW_BUCKET/fruits" "s3://$RGW_BUCKET/out" > "$T/s3b.log" 2>&1 || { cat "$T/s3b.log"; fail "S3 rerun failed"; }
p=$(sqlite3 "$T/s3.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$p" = 0 ] || fail "S3 rerun processed $p images"
$AWS "$RGW_ENDPOINT" s3 cp --only-show-errors "$T/held.jpg" "s3://$RGW_BUCKET/fruits/Training/Banana 1/zz new.jpg"
run "$T/s3.db" "s3://$RGW_BUCKET/fruits" "s3://$RGW_BUCKET/out" > "$T/s3c.log" 2>&1 || { cat "$T/s3c.log"; fail "S3 run with a new object failed"; }
p=$(sqlite3 "$T/s3.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")
[ "$p" = 1 ] || fail "S3 run after adding 1 object processed $p images"
$AWS "$RGW_ENDPOINT" s3 cp --only-show-errors "s3://$RGW_BUCKET/out/pca.csv" "$T/s3c.csv"
grep -q '^"\?Training/Banana 1/zz new.jpg"\?,' "$T/s3c.csv" || fail "new object missing from the CSV"
# csv_export above the multipart threshold (5 MiB parts): streamed as a
# multipart upload, read back by the AWS CLI equal to the same export to a file
q="WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100000)
   SELECT 'row \"' || i || '\", with comma' AS name, i AS n, fvec(i * 0.5, -i, i / 3.0) AS v FROM r"
big=$(IMGPCA_S3_MULTIPART_THRESHOLD=5242880 IMGPCA_S3_PART_SIZE=5242880 sqlite3 -batch \
  -cmd ".load $root/dist/imgpca" :memory: \
  "SELECT csv_export('s3://$RGW_BUCKET/out/big.csv', '${q//\'/\'\'}'),
          csv_export('$T/big.csv', '${q//\'/\'\'}')") || fail "csv_export to S3 failed: $big"
[ "$big" = "100000|100000" ] || fail "csv_export returned $big"
$AWS "$RGW_ENDPOINT" s3 cp --only-show-errors "s3://$RGW_BUCKET/out/big.csv" "$T/big-s3.csv"
size=$(stat -c %s "$T/big.csv")
[ "$size" -gt 5242880 ] || fail "big CSV only $size bytes"
cmp -s "$T/big.csv" "$T/big-s3.csv" || fail "multipart CSV differs from the local export"
etag=$($AWS "$RGW_ENDPOINT" s3api head-object --bucket "$RGW_BUCKET" --key out/big.csv --query ETag --output text)
case "$etag" in *-*) ;; *) fail "big.csv was not uploaded as multipart (ETag $etag)" ;; esac

acc=$(sqlite3 "$T/s3.db" "SELECT percent FROM accuracy")
echo "pipeline on RGW: $n images in batches of 20 s3:// -> s3://out/pca.csv identical to the local run, killed at $killed_at and resumed to identical bytes, rerun 0, +1 -> 1, 1-NN accuracy $acc % on 12 classes; csv_export multipart $((size / 1024)) KiB identical"
