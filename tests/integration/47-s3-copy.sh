#!/usr/bin/env bash
# Server-side copy semantics of s3_concat against Ceph RGW (hardening review
# round 3, item 3): a part whose key holds '%XX' is the bytes of that key,
# never of the key the server decodes it to ('odd/c%20d.bin' used to copy
# 'odd/c d.bin'; 'a%2Fb.bin' failed with a 404 naming the destination);
# plain keys are still copied by the server; a copy that fails (a fault
# proxy answers 500 to every UploadPartCopy) names its source; an s3_concat
# interrupted by SIGINT (item 15) stops within seconds and writes nothing;
# no multipart upload is left behind.  The AWS CLI is the independent client.
# (x-amz-copy-source-if-match is sent with the ETag of the HEAD, but RGW 16
# ignores it on UploadPartCopy -- checked with the AWS CLI: a wrong ETag is
# accepted -- so such keys are streamed rather than copied.)
set -u
. "$(dirname "$0")/lib.sh"
it_setup it47
ext=$root/dist/imgpca
it_start_rgw
B=$RGW_BUCKET
export HOME=$work/home AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME"
q() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT \
      timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
         /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }
sha() { sha256sum "$1" | cut -c1-64; }

head -c $((6 << 20)) /dev/urandom > "$work/a.bin"
head -c $((6 << 20)) /dev/urandom > "$work/b.bin"
head -c $((7 << 20)) /dev/urandom > "$work/c.bin"
awsc s3api put-object --bucket "$B" --key 'odd/c%20d.bin' --body "$work/a.bin" > /dev/null || bad "aws put c%20d"
awsc s3api put-object --bucket "$B" --key 'odd/c d.bin' --body "$work/b.bin" > /dev/null || bad "aws put 'c d'"
awsc s3api put-object --bucket "$B" --key 'odd/a%2Fb.bin' --body "$work/c.bin" > /dev/null || bad "aws put a%2Fb"

# a '%XX' key: its own bytes (was: the bytes of 'odd/c d.bin')
out=$(q "SELECT s3_concat('s3://$B/out/1.bin', json_array('s3://$B/odd/c%20d.bin', 's3://$B/odd/c d.bin'));")
expect_has "concat of 'c%20d.bin' + 'c d.bin' succeeds" "$out" '"bytes":12582912'
awsc s3 cp --quiet "s3://$B/out/1.bin" "$work/1.bin"
cat "$work/a.bin" "$work/b.bin" > "$work/1.want"
expect_eq "concat of 'c%20d.bin' + 'c d.bin': the bytes of each key" "$(sha "$work/1.bin")" "$(sha "$work/1.want")"
out=$(q "SELECT s3_concat('s3://$B/out/2.bin', json_array('s3://$B/odd/a%2Fb.bin'));")
expect_has "concat of 'a%2Fb.bin' succeeds (was a 404)" "$out" '"bytes":7340032'
awsc s3 cp --quiet "s3://$B/out/2.bin" "$work/2.bin"
expect_eq "concat of 'a%2Fb.bin': its bytes" "$(sha "$work/2.bin")" "$(sha "$work/c.bin")"
# a plain key is still copied by the server
out=$(q "SELECT s3_concat('s3://$B/out/3.bin', json_array('s3://$B/odd/c d.bin', 's3://$B/odd/c d.bin'));")
expect_has "plain keys are copied by the server" "$out" '"copied":12582912'
awsc s3 cp --quiet "s3://$B/out/3.bin" "$work/3.bin"
cat "$work/b.bin" "$work/b.bin" > "$work/3.want"
expect_eq "server-side copy: the bytes" "$(sha "$work/3.bin")" "$(sha "$work/3.want")"

# a failing UploadPartCopy (500 from a fault proxy, after the retries)
# names the copy source, not only the destination
python3 tests/faultproxy/faultproxy.py --upstream "${RGW_ENDPOINT#http://}" --port-file "$work/proxy.port" \
  > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
proxy=http://127.0.0.1:$(cat "$work/proxy.port")
curl -s -X PUT "$proxy/__fault/rules" \
  -d '{"rules": [{"match": {"method": "PUT", "query": "partNumber"}, "fault": "500"}]}' > /dev/null
out=$(env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$proxy \
      timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "SELECT imgpca_config('s3.max_retries', '1');
      SELECT s3_concat('s3://$B/out/fail.bin', json_array('s3://$B/odd/c d.bin'));" 2>&1)
expect_has "a failed copy names its source" "$out" "server-side copy of 's3://$B/odd/c d.bin' (bytes=0-6291455) into part 1 failed: HTTP 500"

# '+' (a space for some decoders) in a copied key
awsc s3api put-object --bucket "$B" --key 'odd/p+q.bin' --body "$work/a.bin" > /dev/null || bad "aws put p+q"
awsc s3api put-object --bucket "$B" --key 'odd/p q.bin' --body "$work/b.bin" > /dev/null || bad "aws put 'p q'"
out=$(q "SELECT s3_concat('s3://$B/out/4.bin', json_array('s3://$B/odd/p+q.bin'));")
expect_has "concat of 'p+q.bin' succeeds" "$out" '"bytes":6291456'
awsc s3 cp --quiet "s3://$B/out/4.bin" "$work/4.bin"
expect_eq "concat of 'p+q.bin': its bytes" "$(sha "$work/4.bin")" "$(sha "$work/a.bin")"
# item 15: Ctrl-C (SIGINT) during a long s3_concat stops it soon and leaves
# neither the object nor a multipart upload (it used to finish the upload)
head -c $((300 << 20)) /dev/zero > "$work/big.bin"
start=$(date +%s.%N)
env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_ENDPOINT_URL=$RGW_ENDPOINT \
  sqlite3 -batch -cmd ".load $ext" :memory: \
  "SELECT s3_concat('s3://$B/out/big.bin', json_array('$work/big.bin', '$work/big.bin'));" > "$work/int.log" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
sent=$(date +%s.%N)
wait "$pid"
took=$(echo "$(date +%s.%N) - $sent" | bc)
expect_has "SIGINT: s3_concat interrupted" "$(cat "$work/int.log")" "interrupt"
[ "$(echo "$took < 3" | bc)" = 1 ] && ok "SIGINT: stopped ${took} s after the signal" || bad "SIGINT: stopped ${took} s after the signal"
expect_eq "SIGINT: no object written" "$(awsc s3api head-object --bucket "$B" --key out/big.bin > /dev/null 2>&1 && echo yes || echo no)" no
rm -f "$work/big.bin"
expect_eq "no multipart upload left" \
  "$(awsc s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)' --output text)" 0
[ "$fail" = 0 ] || exit 1
echo "s3 copy: $((n-fail))/$n checks passed against RGW $RGW_ENDPOINT"
