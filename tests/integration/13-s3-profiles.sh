#!/usr/bin/env bash
# Shared ~/.aws files against a throwaway Ceph RGW: the endpoint of a profile
# (endpoint_url, and the s3 entry of its services section) in the AWS SDKs'
# order -- AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > services s3 endpoint_url >
# the profile's endpoint_url -- a mistyped AWS_PROFILE and a profile without
# a secret.  The AWS CLI reads the same files as the independent peer when
# the installed one knows configured endpoints (aws-cli >= 2.13 or
# botocore >= 1.31; Debian 12's 2.9 does not: then only our client is run,
# and the last line says so).
set -u
. "$(dirname "$0")/lib.sh"
it_setup s3prof
ext=$root/dist/imgpca
it_start_rgw
B=$RGW_BUCKET
export HOME=$work/home
mkdir -p "$HOME/.aws"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
      AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
export AWS_EC2_METADATA_DISABLED=true
dead=http://127.0.0.1:1   # nothing listens there
q() { timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }
qe() { local e=(); while [ "$1" != -- ]; do e+=("$1"); shift; done; shift
       env "${e[@]}" timeout 120 sqlite3 -batch -cmd ".load $ext" :memory: "$@" 2>&1; }

# objects to list, uploaded with explicit settings
put="SELECT imgpca_config('s3.endpoint', '$RGW_ENDPOINT'), imgpca_config('s3.access_key_id', '$RGW_ACCESS_KEY'),
            imgpca_config('s3.secret_access_key', '$RGW_SECRET_KEY');
     SELECT s3_put('s3://$B/prof/a.txt', 'alpha'), s3_put('s3://$B/prof/b/c.txt', 'gamma');"
q "$put" > /dev/null || bad "upload"

cat > "$HOME/.aws/credentials" <<INI
[onprem]
aws_access_key_id = $RGW_ACCESS_KEY
aws_secret_access_key = $RGW_SECRET_KEY
[svc]
aws_access_key_id = $RGW_ACCESS_KEY
aws_secret_access_key = $RGW_SECRET_KEY
[nosecret]
aws_access_key_id = $RGW_ACCESS_KEY
INI
cat > "$HOME/.aws/config" <<INI
[profile onprem]
region = us-east-1
endpoint_url = $RGW_ENDPOINT
[profile svc]
region = us-east-1
services = rgw
endpoint_url = $dead
s3 =
  addressing_style = path
[services rgw]
s3 =
  endpoint_url = $RGW_ENDPOINT
[profile nosecret]
region = us-east-1
endpoint_url = $RGW_ENDPOINT
INI
lst="SELECT group_concat(key || ':' || size, ' ') FROM (SELECT * FROM s3_list('s3://$B/prof/**') ORDER BY key);"
want="prof/a.txt:5 prof/b/c.txt:5"
expect_eq "profile endpoint_url" "$(qe AWS_PROFILE=onprem -- "$lst")" "$want"
expect_eq "s3_config shows the profile's endpoint" \
  "$(qe AWS_PROFILE=onprem -- "SELECT json_extract(s3_config(), '\$.endpoint')")" "$RGW_ENDPOINT"
expect_eq "services s3 endpoint_url beats the profile's endpoint_url" "$(qe AWS_PROFILE=svc -- "$lst")" "$want"
out=$(qe AWS_PROFILE=onprem AWS_ENDPOINT_URL=$dead -- "$lst")
expect_has "AWS_ENDPOINT_URL beats the profile" "$out" "127.0.0.1:1"
expect_eq "AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL" \
  "$(qe AWS_PROFILE=onprem AWS_ENDPOINT_URL=$dead AWS_ENDPOINT_URL_S3=$RGW_ENDPOINT -- "$lst")" "$want"
expect_eq "s3.endpoint beats AWS_ENDPOINT_URL_S3" \
  "$(qe AWS_PROFILE=svc AWS_ENDPOINT_URL_S3=$dead -- "SELECT imgpca_config('s3.endpoint', '$RGW_ENDPOINT');" "$lst" | tail -1)" "$want"
out=$(qe AWS_PROFILE=fruit -- "$lst")
expect_has "mistyped AWS_PROFILE" "$out" "s3_list: profile 'fruit' (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials"
out=$(qe AWS_PROFILE=nosecret -- "$lst")
expect_has "profile without a secret" "$out" \
  "profile 'nosecret' in ~/.aws/credentials has aws_access_key_id but no aws_secret_access_key"
expect_not "no secret printed" "$(qe AWS_PROFILE=fruit -- "$lst"; qe AWS_PROFILE=onprem -- "SELECT s3_config()")" "$RGW_SECRET_KEY"

# the AWS CLI on the same files
peer=
for a in /usr/bin/aws $(type -P aws); do
  v=$("$a" --version 2>&1) || continue
  case "$v" in
    aws-cli/2.*) minor=$(echo "$v" | sed -n 's|^aws-cli/2\.\([0-9]*\)\..*|\1|p'); [ "${minor:-0}" -ge 13 ] && peer=$a ;;
    aws-cli/1.*) bc=$(echo "$v" | sed -n 's|.*botocore/1\.\([0-9]*\)\..*|\1|p'); [ "${bc:-0}" -ge 31 ] && peer=$a ;;
  esac
  [ -n "$peer" ] && break
done
if [ -n "$peer" ]; then
  awsl() { env "$@" "$peer" s3 ls --recursive "s3://$B/prof/" 2>&1 | awk '{print $4 ":" $3}' | sort | tr '\n' ' ' | sed 's/ $//'; }
  expect_eq "aws CLI: profile endpoint_url" "$(awsl AWS_PROFILE=onprem)" "$want"
  expect_eq "aws CLI: services s3 endpoint_url" "$(awsl AWS_PROFILE=svc)" "$want"
  expect_eq "aws CLI: AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL" \
    "$(awsl AWS_PROFILE=onprem AWS_ENDPOINT_URL=$dead AWS_ENDPOINT_URL_S3=$RGW_ENDPOINT)" "$want"
  peer_note="the AWS CLI ($("$peer" --version 2>&1 | cut -d' ' -f1)) agrees"
else
  peer_note="no installed AWS CLI reads endpoint_url from profiles (Debian 12 has aws-cli 2.9): our client only"
fi
echo "s3 profiles: $((n - fail))/$n checks passed; $peer_note"
[ "$fail" = 0 ]
