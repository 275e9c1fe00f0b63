#!/usr/bin/env bash
# s3_fetch_many against a throwaway Ceph RGW, with the AWS CLI as the
# independent client: a flat prefix of 1,200 Fruits-360 images (more than one
# listing page) fetched concurrently equals the local files byte for byte and
# what `aws s3 cp` downloads; a missing key, a missing bucket and a key-less
# URL are error rows among good rows; features on S3 equal img_features of
# s3_fetch; content is only returned when asked; thread counts give the same
# bytes; a mixed list (S3 and local) keeps its order.
set -u
. "$(dirname "$0")/lib.sh"
it_setup fetchit
data=$root/../shared/data/fruits360/Training
ext=$root/dist/imgpca

it_start_rgw
B=$RGW_BUCKET
export HOME=$work/home AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME"
q() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT \
      timeout 300 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
         /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }

# 1,200 images, flat names, one prefix
mkdir -p "$work/flat" "$work/back"
find "$data" -name '*.jpg' | sort | head -1200 | awk '{printf "%s\t%05d.jpg\n", $0, NR}' |
  while IFS=$'\t' read -r src name; do cp "$src" "$work/flat/$name"; done
nlocal=$(ls "$work/flat" | wc -l)
expect_eq "1,200 local images prepared" "$nlocal" 1200
awsc s3 cp --recursive --quiet "$work/flat" "s3://$B/flat/" || bad "aws upload"
awsc s3 cp --recursive --quiet "s3://$B/flat/" "$work/back" || bad "aws download"
expect_eq "aws round trip equals the local files" "$(diff -r "$work/flat" "$work/back" && echo same)" same

urls="SELECT url FROM s3_list('s3://$B/flat/')"
expect_eq "flat prefix: every object, in order, bytes equal local files and the aws download" \
  "$(q "SELECT count(*), sum(size), sum(content = readfile('$work/flat/' || substr(url, length('s3://$B/flat/') + 1))),
               sum(content = readfile('$work/back/' || substr(url, length('s3://$B/flat/') + 1))),
               sum(error IS NOT NULL), min(rowid = (substr(url, -9, 5) + 0) - 1)
          FROM s3_fetch_many WHERE url IN ($urls);")" \
  "1200|$(find "$work/flat" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')|1200|1200|0|1"

# features on S3 == img_features(s3_fetch(url)), for 1 and 2 threads
for t in 1 2; do
  expect_eq "features == img_features(s3_fetch(url)) (imgpca.threads=$t)" \
    "$(q "SELECT imgpca_config('imgpca.threads', '$t');
          SELECT count(*), sum(features = img_features(s3_fetch(url), 'hist:bins=4;pixels:size=8x8'))
            FROM s3_fetch_many WHERE url IN ($urls) AND spec = 'hist:bins=4;pixels:size=8x8';" | tail -1)" "1200|1200"
done

# error rows among good ones, JSON order kept (duplicates too), mixed with local files
first=$(ls "$work/flat" | head -1)
json="[\"s3://$B/flat/$first\", \"s3://$B/flat/no-such-key.jpg\", \"s3://$B/\", \"s3://no-such-bucket-x/a.jpg\",
       \"$work/flat/$first\", \"s3://$B/flat/$first\"]"
out=$(q "SELECT rowid, size, length(content), coalesce(error, '-') FROM s3_fetch_many('$json');")
expect_eq "JSON order, sizes of good rows" "$(echo "$out" | cut -d'|' -f1-3 | tr '\n' ' ')" \
  "0|$(stat -c %s "$work/flat/$first")|$(stat -c %s "$work/flat/$first") 1|| 2|| 3|| 4|$(stat -c %s "$work/flat/$first")|$(stat -c %s "$work/flat/$first") 5|$(stat -c %s "$work/flat/$first")|$(stat -c %s "$work/flat/$first") "
expect_has "missing key -> error row (404 NoSuchKey)" "$(echo "$out" | sed -n 2p)" "s3_fetch_many: HTTP 404 NoSuchKey for 's3://$B/flat/no-such-key.jpg'"
expect_has "key-less URL -> error row" "$(echo "$out" | sed -n 3p)" "s3_fetch_many: invalid URL 's3://$B/': missing object key"
expect_has "missing bucket -> error row" "$(echo "$out" | sed -n 4p)" "s3_fetch_many: HTTP 404 NoSuchBucket"
expect_eq "statement not aborted: 6 rows" "$(echo "$out" | wc -l)" 6

# a missing key among 1,200 in an IN list: exactly one error row
expect_eq "IN list with one missing key: one error row, 1200 good rows" \
  "$(q "SELECT count(*), count(content), sum(error LIKE 's3_fetch_many: HTTP 404 NoSuchKey%')
          FROM s3_fetch_many WHERE url IN (SELECT url FROM s3_list('s3://$B/flat/') UNION ALL SELECT 's3://$B/flat/zz-missing.jpg');")" \
  "1201|1200|1"

# small window / few in flight still gives the same result
expect_eq "s3.max_inflight=1 gives the same bytes" \
  "$(q "SELECT imgpca_config('s3.max_inflight', '1'); SELECT count(*), sum(length(content)) FROM s3_fetch_many WHERE url IN (SELECT url FROM s3_list('s3://$B/flat/0000*'));" | tail -1)" \
  "9|$(ls "$work/flat"/0000?.jpg | xargs stat -c %s | awk '{s+=$1} END {print s}')"

echo "fetch-many integration: $((n-fail))/$n checks passed against RGW $RGW_ENDPOINT"
[ $fail -eq 0 ]
