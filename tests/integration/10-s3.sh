#!/usr/bin/env bash
# S3 integration suite against a throwaway Ceph RGW (scripts/rgw-start.sh),
# with the Debian AWS CLI (/usr/bin/aws) as the independent client.
# Covers: paging (> 1000 keys), globs, weird keys, concurrent fetch of the
# 2,115 Fruits-360 test images == bytes on disk, range reads, single and
# multipart uploads read back by aws (and the streaming ImgpcaWriter), no
# orphan multipart uploads, wrong secret, missing bucket/key, unreachable and
# silent endpoints (timeouts, no hang), retries on 503 and truncated bodies,
# credentials from connection settings, env, profile files and a fake IMDSv2.
set -u
. "$(dirname "$0")/lib.sh"
it_setup s3it
data=$root/../shared/data/fruits360/Test
ext=$root/dist/imgpca

it_start_rgw
B=$RGW_BUCKET
export HOME=$work/home   # no ~/.aws of the machine
mkdir -p "$HOME"
clean_env() {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
        AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 \
        AWS_EC2_METADATA_SERVICE_ENDPOINT IMGPCA_S3_MULTIPART_THRESHOLD IMGPCA_S3_PART_SIZE
  export AWS_EC2_METADATA_DISABLED=true
}
clean_env
# our client: credentials from the environment unless a test says otherwise
q() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT \
      timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
qraw() { timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
# qe VAR=value ... -- SQL: our client with exactly these variables added
qe() { local e=(); while [ "$1" != -- ]; do e+=("$1"); shift; done; shift
       env "${e[@]}" timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
         /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }

# ---- aws -> us: 2,115 images, pages, globs, concurrent content ----
awsc s3 cp --recursive --quiet "$data" "s3://$B/fruits/Test/" || bad "aws upload of the test images"
local_n=$(find "$data" -type f | wc -l)
local_bytes=$(find "$data" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
expect_eq "list > 1000 keys across pages (count, bytes)" \
  "$(q "SELECT count(*) || ' ' || sum(size) FROM s3_list('s3://$B/fruits/Test/**');")" "$local_n $local_bytes"
# trailing '**' and a prefix without glob: every key below (docs/STORAGE.md),
# the same files as the local folder listing
expect_eq "trailing '**' lists the same keys as '**/*'" \
  "$(q "SELECT count(*) || ' ' || sum(size) FROM s3_list('s3://$B/fruits/Test/**/*');")" "$local_n $local_bytes"
expect_eq "prefix without glob lists every key below it" \
  "$(q "SELECT count(*) || ' ' || sum(size) FROM s3_list('s3://$B/fruits/Test');")" "$local_n $local_bytes"
expect_eq "prefix ending in '/' lists every key below it" \
  "$(q "SELECT count(*) FROM s3_list('s3://$B/fruits/Test/');")" "$local_n"
expect_eq "local folder listing, with and without trailing '**', same count" \
  "$(q "SELECT (SELECT count(*) FROM s3_list('$data')) || ' ' || (SELECT count(*) FROM s3_list('$data/**'));")" "$local_n $local_n"
expect_eq "glob '*' within a segment + class" \
  "$(q "SELECT count(*) FROM s3_list('s3://$B/fruits/Test/[AB]*/r_*.jpg');")" \
  "$(find "$data" -path "$data/[AB]*/r_*.jpg" -type f | wc -l)"
expect_eq "no match across segments for '*'" "$(q "SELECT count(*) FROM s3_list('s3://$B/fruits/*.jpg');")" "0"
expect_eq "label = parent folder" \
  "$(q "SELECT count(DISTINCT parent) FROM s3_list('s3://$B/fruits/Test/**/*.jpg');")" \
  "$(find "$data" -mindepth 1 -maxdepth 1 -type d | wc -l)"
expect_eq "concurrent content of $local_n objects == bytes on disk" \
  "$(q "WITH l AS MATERIALIZED (SELECT key, content FROM s3_list('$data/**'))
        SELECT count(*) FROM s3_list('s3://$B/fruits/Test/**') s JOIN l ON s.key = 'fruits/Test/' || l.key
        WHERE s.content = l.content;")" "$local_n"
expect_eq "content with a small window (s3.max_inflight = 3) keeps order" \
  "$(q "SELECT imgpca_config('s3.max_inflight', 3);
        SELECT count(*) FROM (SELECT url, content FROM s3_list('s3://$B/fruits/Test/Apple*/*.jpg')) WHERE content = s3_fetch(url);" | tail -1)" \
  "$(find "$data" -path "$data/Apple*/*.jpg" -type f | wc -l)"
prog=$(q "SELECT imgpca_config('s3.progress', 'on');
          SELECT count(*) FROM (SELECT key FROM s3_list('s3://$B/fruits/Test/**') LIMIT 5);")
listed=$(echo "$prog" | sed -n 's/.*s3_list: \([0-9]*\) listed.*/\1/p')
[ -n "$listed" ] && [ "$listed" -le 1000 ] && ok "LIMIT 5 stops after the first page ($listed listed)" \
  || bad "LIMIT 5 stops after the first page" "$prog"
expect_eq "LIMIT 5 rows" "$(echo "$prog" | grep -v imgpca: | tail -1)" "5"
f1=$(find "$data" -type f -name '*.jpg' | sort | head -1); k1=fruits/Test/${f1#$data/}
expect_eq "s3a:// URLs" "$(q "SELECT count(*), min(url) LIKE 's3a://%' FROM s3_list('s3a://$B/fruits/Test/Kiwi*/*');
  SELECT length(s3_fetch('s3a://$B/$k1'));" | tr '\n' ' ')" \
  "$(find "$data" -path "$data/Kiwi*/*" -type f | wc -l)|1 $(stat -c %s "$f1") "
out=$(q ".limit length 1000" "SELECT s3_fetch('s3://$B/$k1');")
expect_has "object larger than SQLITE_LIMIT_LENGTH (s3_fetch)" "$out" "is larger than the limit of 1000 bytes (SQLITE_LIMIT_LENGTH)"
out=$(q ".limit length 1000" "SELECT count(content) FROM s3_list('s3://$B/$k1');")
expect_has "object larger than SQLITE_LIMIT_LENGTH (s3_list content)" "$out" "s3_list: object 's3://$B/$k1' is larger than the limit"
expect_eq "range fetch == bytes on disk" "$(q "SELECT hex(s3_fetch('s3://$B/$k1', 100, 37));")" \
  "$(tail -c +101 "$f1" | head -c 37 | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
expect_eq "range fetch to the end" "$(q "SELECT length(s3_fetch('s3://$B/$k1', 1000));")" "$(( $(stat -c %s "$f1") - 1000 ))"

# ---- weird keys, both directions ----
printf 'one' > "$work/w1"; printf 'two' > "$work/w2"; printf 'three' > "$work/w3"; printf 'four' > "$work/w4"
awsc s3 cp --quiet "$work/w1" "s3://$B/weird/sp ace.txt"
awsc s3 cp --quiet "$work/w2" "s3://$B/weird/plus+amp&eq=.txt"
awsc s3 cp --quiet "$work/w3" "s3://$B/weird/ünïcødé ✓.txt"
awsc s3 cp --quiet "$work/w4" "s3://$B/weird/pct%20lit~(x).txt"
expect_eq "weird keys listed (decoded)" "$(q "SELECT group_concat(key || '=' || size, '|') FROM s3_list('s3://$B/weird/');")" \
  "weird/pct%20lit~(x).txt=4|weird/plus+amp&eq=.txt=3|weird/sp ace.txt=3|weird/ünïcødé ✓.txt=5"
expect_eq "weird keys fetched" "$(q "SELECT group_concat(CAST(content AS TEXT), ',') FROM s3_list('s3://$B/weird/*');")" \
  "four,two,one,three"
q "SELECT s3_put('s3://$B/ours/a b+c&d=é.txt', 'written by imgpca');" >/dev/null
expect_eq "our weird key read by aws" "$(awsc s3 cp --quiet "s3://$B/ours/a b+c&d=é.txt" -)" "written by imgpca"

# ---- uploads: small, multipart, streaming writer, abort ----
head -c 1000 /dev/urandom > "$work/small.bin"
etag=$(q "SELECT s3_put('s3://$B/up/small.bin', readfile('$work/small.bin'));")
awsc s3 cp --quiet "s3://$B/up/small.bin" "$work/small.back"
if cmp -s "$work/small.bin" "$work/small.back"; then ok "small upload read back by aws"; else bad "small upload read back by aws"; fi
expect_eq "small upload ETag = MD5" "$etag" "$(md5sum < "$work/small.bin" | cut -d' ' -f1)"
head -c 12582917 /dev/urandom > "$work/big.bin"
etag=$(q "SELECT imgpca_config('s3.multipart_threshold', 5242880), imgpca_config('s3.part_size', 5242880);
          SELECT s3_put('s3://$B/up/big.bin', readfile('$work/big.bin'));" | tail -1)
expect_has "multipart upload: 3 parts" "$etag" "-3"
awsc s3 cp --quiet "s3://$B/up/big.bin" "$work/big.back"
if cmp -s "$work/big.bin" "$work/big.back"; then ok "multipart upload read back by aws"; else bad "multipart upload read back by aws"; fi
expect_eq "multipart object fetched back" "$(q "SELECT s3_fetch('s3://$B/up/big.bin') = readfile('$work/big.bin');")" "1"
# the internal archive (dist/libimgpca.a only exports the extension's entry point)
make -s build/libimgpca-int.a >/dev/null 2>&1 || bad "build build/libimgpca-int.a"
cc -std=c11 -D_GNU_SOURCE -Iext -o "$work/writer_test" tests/integration/s3/writer_test.c build/libimgpca-int.a \
   -lsqlite3 $(make -s --no-print-directory print-libs) 2>&1 || bad "build writer_test"
wenv=(env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT
      IMGPCA_S3_MULTIPART_THRESHOLD=5242880 IMGPCA_S3_PART_SIZE=5242880)
out=$("${wenv[@]}" "$work/writer_test" "s3://$B/up/streamed.bin" 13 2>&1)
expect_has "streaming writer: multipart (3 parts)" "$out" "-3 13643833"
"${wenv[@]}" "$work/writer_test" "$work/streamed.local" 13 >/dev/null
awsc s3 cp --quiet "s3://$B/up/streamed.bin" "$work/streamed.back"
if cmp -s "$work/streamed.local" "$work/streamed.back"; then ok "streamed S3 object == local writer output"; else bad "streamed S3 object == local writer output"; fi
out=$("${wenv[@]}" "$work/writer_test" "s3://$B/up/streamed-small.bin" 0 2>&1)
expect_has "streaming writer: small object, single PUT" "$out" " 12345"
out=$("${wenv[@]}" "$work/writer_test" "s3://$B/up/aborted.bin" 11 abort 2>&1)
expect_eq "writer abort" "$out" "aborted"
expect_eq "aborted object absent" "$(q "SELECT s3_fetch_or_null('s3://$B/up/aborted.bin') IS NULL;")" "1"
expect_eq "no orphan multipart uploads" "$(awsc s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)')" "0"
expect_eq "delete" "$(q "SELECT s3_delete('s3://$B/up/small.bin'), s3_fetch_or_null('s3://$B/up/small.bin') IS NULL;")" "1|1"

# ---- errors ----
out=$(env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=WRONGSECRETwrongsecret123 AWS_ENDPOINT_URL=$RGW_ENDPOINT \
      timeout 60 sqlite3 -batch -cmd ".load $ext" :memory: "SELECT s3_fetch('s3://$B/$k1');" 2>&1)
expect_has "wrong secret -> 403" "$out" "HTTP 403 SignatureDoesNotMatch"
expect_has "wrong secret -> hint" "$out" "check the secret access key"
expect_not "wrong secret not echoed" "$out" "WRONGSECRET"
expect_not "real secret not echoed" "$(q "SELECT s3_config(); SELECT imgpca_config();")" "$RGW_SECRET_KEY"
out=$(q "SELECT s3_fetch('s3://$B/no/such key.jpg');")
expect_has "missing key -> 404 naming the URL" "$out" "s3_fetch: HTTP 404 NoSuchKey for 's3://$B/no/such key.jpg'"
expect_eq "missing key -> NULL with s3_fetch_or_null" "$(q "SELECT s3_fetch_or_null('s3://$B/no/such key.jpg') IS NULL;")" "1"
expect_has "missing bucket" "$(q "SELECT s3_fetch('s3://no-such-bucket-x/k');")" "HTTP 404 NoSuchBucket"
expect_has "missing bucket in s3_list" "$(q "SELECT count(*) FROM s3_list('s3://no-such-bucket-x/**');")" "s3_list: HTTP 404 NoSuchBucket"
closed=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s)
out=$(env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y timeout 60 sqlite3 -batch -cmd ".load $ext" :memory: \
  "SELECT imgpca_config('s3.endpoint', 'http://127.0.0.1:$closed'), imgpca_config('s3.max_retries', 1);
   SELECT s3_fetch('s3://b/k');" 2>&1)
expect_has "unreachable endpoint -> error after retries" "$out" "after 2 attempts"
/usr/bin/python3 tests/integration/s3/fake_server.py blackhole "$work/bh.port" & pids+=($!)
/usr/bin/python3 tests/integration/s3/fake_server.py flaky "$work/fl.port" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/bh.port" ] && [ -s "$work/fl.port" ] && break; sleep 0.1; done
out=$(env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y timeout 60 sqlite3 -batch -cmd ".load $ext" :memory: \
  "SELECT imgpca_config('s3.endpoint', 'http://127.0.0.1:$(cat "$work/bh.port")'), imgpca_config('s3.timeout_ms', 1000),
          imgpca_config('s3.max_retries', 1);
   SELECT s3_fetch('s3://b/k');" 2>&1); rc=$?
expect_has "silent endpoint -> timeout error, not a hang" "$out" "timed out"
[ $rc -ne 124 ] && ok "silent endpoint: no hang" || bad "silent endpoint: no hang"
fl="imgpca_config('s3.endpoint', 'http://127.0.0.1:$(cat "$work/fl.port")'), imgpca_config('s3.max_retries', 3)"
expect_eq "503 SlowDown twice, then success" "$(qraw "SELECT $fl; SELECT CAST(s3_fetch('s3://b/retry') AS TEXT);" | tail -1)" "recovered"
expect_eq "retried exactly 3 attempts" "$(grep -c 'GET /b/retry' "$work/fl.port.log")" "3"
out=$(qraw "SELECT $fl; SELECT length(s3_fetch('s3://b/short'));")
expect_has "truncated body is an error, never data" "$out" "after 4 attempts"
expect_has "truncated body: hint" "$out" "connection kept breaking"
expect_eq "301 with x-amz-bucket-region: retried once in that region" \
  "$(qe AWS_ACCESS_KEY_ID=AKFAKE AWS_SECRET_ACCESS_KEY=fake -- "SELECT $fl; SELECT CAST(s3_fetch('s3://b/moved') AS TEXT);" 2>&1 | tail -1)" "moved ok"
out=$(qraw "SELECT $fl; SELECT s3_fetch('s3://b/always500');")
expect_has "persistent 500 -> error with code" "$out" "HTTP 500 InternalError: boom for 's3://b/always500'"

# ---- credentials: connection > env > files > IMDS; unsigned ----
sz1=$(stat -c %s "$f1")
cq="SELECT json_extract(s3_config(), '\$.credentials'), length(s3_fetch('s3://$B/$k1'));"
expect_eq "connection settings beat env" "$(qe AWS_ACCESS_KEY_ID=WRONG AWS_SECRET_ACCESS_KEY=WRONG AWS_ENDPOINT_URL=$RGW_ENDPOINT -- \
  "SELECT imgpca_config('s3.access_key_id', '$RGW_ACCESS_KEY'), imgpca_config('s3.secret_access_key', '$RGW_SECRET_KEY');" \
  "$cq" | tail -1)" "connection settings|$sz1"
cat > "$work/creds" <<INI
[default]
aws_access_key_id = WRONGDEFAULT
aws_secret_access_key = wrong
[tester]
aws_access_key_id = $RGW_ACCESS_KEY
aws_secret_access_key = $RGW_SECRET_KEY
INI
expect_eq "profile in AWS_SHARED_CREDENTIALS_FILE" \
  "$(qe AWS_SHARED_CREDENTIALS_FILE=$work/creds AWS_PROFILE=tester AWS_ENDPOINT_URL=$RGW_ENDPOINT -- "$cq")" \
  "profile 'tester' (credentials file)|$sz1"
mkdir -p "$HOME/.aws"
printf '[profile cfgonly]\nregion = us-east-1\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
  "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" > "$HOME/.aws/config"
expect_eq "profile in ~/.aws/config" "$(qe AWS_PROFILE=cfgonly AWS_ENDPOINT_URL=$RGW_ENDPOINT -- "$cq")" \
  "profile 'cfgonly' (config file)|$sz1"
rm -rf "$HOME/.aws"
/usr/bin/python3 tests/integration/s3/fake_server.py imds "$work/imds.port" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/imds.port" ] && break; sleep 0.1; done
imds=http://127.0.0.1:$(cat "$work/imds.port")
expect_eq "IMDSv2 credentials (AWS_EC2_METADATA_SERVICE_ENDPOINT)" \
  "$(qe AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds AWS_ENDPOINT_URL=$RGW_ENDPOINT -- "$cq")" \
  "instance metadata (IMDSv2)|$sz1"
expect_has "IMDSv2 token fetched first" "$(head -1 "$work/imds.port.log")" "PUT /latest/api/token"
expect_eq "IMDS via the s3.imds_endpoint setting" "$(qe AWS_EC2_METADATA_DISABLED=false AWS_ENDPOINT_URL=$RGW_ENDPOINT -- \
  "SELECT imgpca_config('s3.imds_endpoint', '$imds');" "$cq" | tail -1)" "instance metadata (IMDSv2)|$sz1"
expect_eq "IMDS skipped when disabled" "$(qe AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds AWS_ENDPOINT_URL=$RGW_ENDPOINT -- \
  "SELECT json_extract(s3_config(), '\$.credentials');")" "none"
out=$(qe AWS_ENDPOINT_URL=$RGW_ENDPOINT -- "SELECT s3_fetch('s3://$B/$k1');")
expect_has "no credentials -> unsigned, 403 with hint" "$out" "no credentials found"
awsc s3api put-object-acl --bucket "$B" --key "$k1" --acl public-read
expect_eq "unsigned request reads a public object" \
  "$(qe AWS_ENDPOINT_URL=$RGW_ENDPOINT -- "SELECT length(s3_fetch('s3://$B/$k1'));")" "$sz1"

echo "s3 integration: $((n-fail))/$n checks passed against RGW $RGW_ENDPOINT ($local_n objects)"
[ $fail -eq 0 ]
