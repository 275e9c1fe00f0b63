#!/usr/bin/env bash
# S3 as deployed on premises: the throwaway Ceph RGW (scripts/rgw-start.sh)
# serving HTTPS with a certificate of a throwaway CA created here with
# openssl, verification on, the CA given as a bundle (AWS_CA_BUNDLE,
# s3.ca_bundle, ca_bundle of the profile).  The AWS CLI (/usr/bin/aws, over
# the gateway's plain-http port) is the independent client.
# Covers: listing, fetch, put, multipart (s3_put and csv_export above the
# threshold), the pipeline (scripts/demo.sh) compared with a local run;
# virtual-hosted addressing (BUCKET.s3.localhost, resolved to loopback by
# libcurl) for list/get/put/multipart, with the style checked in RGW's request
# log; dotted bucket names falling back to path style under TLS; a wrong CA,
# an expired certificate, a host-name mismatch, a missing or unusable bundle:
# clear errors; s3.verify_tls=false: one warning per connection on stderr.
# Regressions (docs/RELIABILITY.md): (11) a region from a setting, the
# environment, the profile or a server's x-amz-bucket-region header cannot
# redirect the connection (a proxy standing in for AWS logs every CONNECT);
# (12) user info of an endpoint is never printed nor sent, a session token
# over plain http is warned about once per connection.
# IMGPCA_EXT and IMGPCA_SQLITE3 override the extension and the shell (e.g. an
# older build, or a wrapper preloading ASan).
set -u
. "$(dirname "$0")/lib.sh"
it_setup tls
ext=${IMGPCA_EXT:-$root/dist/imgpca}
data=$root/../shared/data/fruits360

# ---- a throwaway CA, the gateway's certificate and the bad ones ----
pki=$work/pki; mkdir -p "$pki/new"; touch "$pki/index.txt"; echo 1000 > "$pki/serial"
ossl() { openssl "$@" >>"$pki/openssl.log" 2>&1 || { echo "openssl $1 failed"; cat "$pki/openssl.log"; exit 1; }; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 -subj "/CN=imgpca test CA"
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/other-ca.key" -out "$pki/other-ca.pem" -days 2 -subj "/CN=other CA"
cat > "$pki/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $pki/index.txt
new_certs_dir = $pki/new
serial = $pki/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
CNF
cert() { # NAME SAN [start end]: key + certificate signed by the test CA
  local name=$1 san=$2
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" > "$pki/$name.ext"
  ossl req -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "/CN=$name"
  if [ $# -gt 2 ]; then
    ossl ca -batch -notext -config "$pki/ca.cnf" -cert "$pki/ca.pem" -keyfile "$pki/ca.key" -in "$pki/$name.csr" \
      -out "$pki/$name.pem" -extfile "$pki/$name.ext" -startdate "$3" -enddate "$4"
  else
    ossl ca -batch -notext -config "$pki/ca.cnf" -cert "$pki/ca.pem" -keyfile "$pki/ca.key" -in "$pki/$name.csr" \
      -out "$pki/$name.pem" -extfile "$pki/$name.ext" -days 2
  fi
}
cert rgw "DNS:s3.localhost,DNS:*.s3.localhost"
cert expired "DNS:s3.localhost" 20200101000000Z 20200102000000Z
cert aws "DNS:s3.us-east-1.amazonaws.com,DNS:*.s3.us-east-1.amazonaws.com"
ca=$pki/ca.pem

rgw=$(RGW_TLS_CERT=$pki/rgw.pem RGW_TLS_KEY=$pki/rgw.key scripts/rgw-start.sh "$work/rgw" 2>"$work/rgw-start.log") \
  || { cat "$work/rgw-start.log"; echo "cannot start RGW"; exit 1; }
. "$rgw/env"
B=$RGW_BUCKET
TLS=$RGW_ENDPOINT_TLS
rgwlog=$RGW_DIR/log/client.rgw.a.log
export HOME=$work/home; mkdir -p "$HOME"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
      AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE \
      AWS_EC2_METADATA_SERVICE_ENDPOINT IMGPCA_S3_MULTIPART_THRESHOLD IMGPCA_S3_PART_SIZE IMGPCA_S3_URL_STYLE \
      IMGPCA_S3_VERIFY_TLS https_proxy HTTPS_PROXY http_proxy HTTP_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export AWS_EC2_METADATA_DISABLED=true
# qe VAR=value ... -- SQL...: our client with exactly these variables added
qe() { qs "$@" 2>&1; }
# qs: the same with stdout and stderr kept apart
qs() { local e=(); while [ "$1" != -- ]; do e+=("$1"); shift; done; shift
       env "${e[@]}" timeout 120 ${IMGPCA_SQLITE3:-sqlite3} -batch -cmd ".load $ext" :memory: "$@"; }
# qt SQL...: credentials, the HTTPS endpoint, the CA as AWS_CA_BUNDLE
KEYS=(AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY)
qt() { qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$ca -- "$@"; }
awsc() { env AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
         /usr/bin/aws --endpoint-url "$RGW_ENDPOINT" "$@"; }
# our requests to RGW since the mark (beast's request log: "METHOD URI")
mark() { wc -l < "$rgwlog"; }
reqs_since() { tail -n +"$(( $1 + 1 ))" "$rgwlog" | grep -a '"imgpca/' | sed -n 's/.*\] "\([A-Z]* [^ ]*\) HTTP.*/\1/p'; }

# ---- test data: 4 classes of Fruits-360 (Training + Test) ----
mkdir -p "$work/src/Training" "$work/src/Test"
for c in "Banana 1" "Kiwi 1" "Lemon 1" "Plum 1"; do
  for s in Training Test; do cp -r "$data/$s/$c" "$work/src/$s/"; done
done
nimg=$(find "$work/src" -name '*.jpg' | wc -l)
nbytes=$(find "$work/src" -name '*.jpg' -printf '%s\n' | awk '{s+=$1} END {print s}')
awsc s3 cp --recursive --quiet "$work/src/" "s3://$B/fruits/" || bad "aws upload of the test images"

# ---- the HTTP suite's operations over verified HTTPS ----
expect_eq "s3_config: HTTPS endpoint, CA bundle path and its source" \
  "$(qt "SELECT json_extract(s3_config(), '\$.endpoint'), json_extract(s3_config(), '\$.verify_tls'),
             json_extract(s3_config(), '\$.ca_bundle'), json_extract(s3_config(), '\$.ca_bundle_source');")" \
  "$TLS|1|$ca|AWS_CA_BUNDLE"
expect_eq "list over HTTPS (count, bytes)" \
  "$(qt "SELECT count(*) || ' ' || sum(size) FROM s3_list('s3://$B/fruits/**/*.jpg');")" "$nimg $nbytes"
expect_eq "concurrent content over HTTPS == bytes on disk" \
  "$(qt "WITH l AS MATERIALIZED (SELECT key, content FROM s3_list('$work/src/**'))
         SELECT count(*) FROM s3_list('s3://$B/fruits/**') s JOIN l ON s.key = 'fruits/' || l.key
         WHERE s.content = l.content;")" "$nimg"
f1=$(find "$work/src" -name '*.jpg' | sort | head -1); k1=fruits/${f1#$work/src/}
expect_eq "fetch and range fetch over HTTPS" \
  "$(qt "SELECT s3_fetch('s3://$B/$k1') = readfile('$f1'), hex(s3_fetch('s3://$B/$k1', 10, 4));")" \
  "1|$(tail -c +11 "$f1" | head -c 4 | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
head -c 1000 /dev/urandom > "$work/small.bin"
etag=$(qt "SELECT s3_put('s3://$B/up/small.bin', readfile('$work/small.bin'));")
expect_eq "put over HTTPS: ETag = MD5" "$etag" "$(md5sum < "$work/small.bin" | cut -d' ' -f1)"
awsc s3 cp --quiet "s3://$B/up/small.bin" "$work/small.back"
cmp -s "$work/small.bin" "$work/small.back" && ok "put over HTTPS read back by aws" || bad "put over HTTPS read back by aws"
head -c 11534337 /dev/urandom > "$work/big.bin"
MP="SELECT imgpca_config('s3.multipart_threshold', 5242880), imgpca_config('s3.part_size', 5242880);"
etag=$(qt "$MP" "SELECT s3_put('s3://$B/up/big.bin', readfile('$work/big.bin'));" | tail -1)
expect_has "multipart s3_put over HTTPS: 3 parts" "$etag" "-3"
awsc s3 cp --quiet "s3://$B/up/big.bin" "$work/big.back"
cmp -s "$work/big.bin" "$work/big.back" && ok "multipart over HTTPS read back by aws" || bad "multipart over HTTPS read back by aws"
csvq="WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 150000)
      SELECT 'row ' || i AS name, i AS n, fvec(i * 0.5, -i, i / 3.0) AS v FROM r"
csvq=${csvq//\'/\'\'}
out=$(qt "$MP" "SELECT csv_export('s3://$B/up/big.csv', '$csvq'), csv_export('$work/big.csv', '$csvq');" | tail -1)
expect_eq "csv_export above the multipart threshold over HTTPS" "$out" "150000|150000"
awsc s3 cp --quiet "s3://$B/up/big.csv" "$work/big-s3.csv"
[ "$(stat -c %s "$work/big.csv")" -gt 5242880 ] && cmp -s "$work/big.csv" "$work/big-s3.csv" \
  && ok "multipart csv_export over HTTPS == local export ($(stat -c %s "$work/big.csv") bytes)" \
  || bad "multipart csv_export over HTTPS == local export"
expect_has "csv_export over HTTPS went multipart" \
  "$(awsc s3api head-object --bucket "$B" --key up/big.csv --query ETag --output text)" "-2"
expect_eq "no orphan multipart uploads" "$(awsc s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)')" "0"
expect_eq "delete over HTTPS" "$(qt "SELECT s3_delete('s3://$B/up/small.bin'), s3_fetch_or_null('s3://$B/up/small.bin') IS NULL;")" "1|1"

# ---- the pipeline over HTTPS (scripts/demo.sh), compared with a local run ----
if (export "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$ca AWS_REGION=$RGW_REGION
    SOURCE="s3://$B/fruits" OUT="s3://$B/out" DB="$work/s3.db" scripts/demo.sh) > "$work/demo-s3.log" 2>&1 \
   && (SOURCE="$work/src" OUT="$work/out" DB="$work/local.db" scripts/demo.sh) > "$work/demo-local.log" 2>&1; then
  awsc s3 cp --quiet "s3://$B/out/pca.csv" "$work/s3.csv"
  rows=$(( $(wc -l < "$work/s3.csv") - 1 ))
  if [ "$rows" = "$nimg" ] && cmp -s "$work/s3.csv" "$work/out/pca.csv"; then
    ok "pipeline over HTTPS: pca.csv ($rows rows) == the local run's"
  else
    bad "pipeline over HTTPS: pca.csv == the local run's" "$rows rows for $nimg images"
  fi
  expect_has "pipeline over HTTPS: summary" "$(cat "$work/demo-s3.log")" "$nimg listed, $nimg with features"
else
  bad "pipeline over HTTPS (scripts/demo.sh)" "$(tail -5 "$work/demo-s3.log" "$work/demo-local.log")"
fi

# ---- virtual-hosted addressing: BUCKET.s3.localhost ----
for style in virtual auto; do
  m=$(mark)
  out=$(qt "$MP" "SELECT imgpca_config('s3.url_style', '$style');" \
    "SELECT count(*) FROM s3_list('s3://$B/fruits/Test/**');" \
    "SELECT s3_fetch('s3://$B/$k1') = readfile('$f1');" \
    "SELECT s3_put('s3://$B/$style/small.bin', readfile('$work/small.bin'));" \
    "SELECT s3_put('s3://$B/$style/big.bin', readfile('$work/big.bin')) LIKE '%-3';" \
    "SELECT s3_fetch('s3://$B/$style/big.bin') = readfile('$work/big.bin');" | tail -5 | tr '\n' ' ')
  expect_eq "url_style $style: list, get, put, multipart over HTTPS" "$out" \
    "$(find "$work/src/Test" -name '*.jpg' | wc -l) 1 $(md5sum < "$work/small.bin" | cut -d' ' -f1) 1 1 "
  r=$(reqs_since "$m")
  if [ "$style" = virtual ]; then
    # virtual-hosted: the bucket is in the host name, not in the path
    expect_eq "url_style virtual: no request names the bucket in its path" "$(echo "$r" | grep -c " /$B")" "0"
    expect_has "url_style virtual: listing on the bucket host" "$r" "GET /?"
    expect_has "url_style virtual: multipart part upload" "$r" "PUT /virtual/big.bin?partNumber=3"
    expect_has "url_style virtual: multipart completion" "$r" "POST /virtual/big.bin?uploadId="
  else
    # auto on a custom endpoint: path style (the bucket in the path)
    expect_eq "url_style auto on a custom endpoint: path style" "$(echo "$r" | grep -vc " /$B")" "0"
    expect_has "url_style auto: multipart part upload" "$r" "PUT /$B/auto/big.bin?partNumber=3"
  fi
done
awsc s3 cp --quiet "s3://$B/virtual/big.bin" "$work/vbig.back"
cmp -s "$work/big.bin" "$work/vbig.back" && ok "virtual-hosted multipart read back by aws" || bad "virtual-hosted multipart read back by aws"
awsc s3api create-bucket --bucket imgpca.dotted >/dev/null 2>&1 || bad "create bucket imgpca.dotted"
m=$(mark)
expect_eq "dotted bucket under TLS with url_style virtual: falls back to path style" \
  "$(qt "SELECT imgpca_config('s3.url_style', 'virtual');" "SELECT s3_put('s3://imgpca.dotted/d.txt', 'dot');" \
        "SELECT CAST(s3_fetch('s3://imgpca.dotted/d.txt') AS TEXT), (SELECT count(*) FROM s3_list('s3://imgpca.dotted/'));" | tail -1)" "dot|1"
expect_eq "dotted bucket: every request in path style" "$(reqs_since "$m" | grep -vc ' /imgpca.dotted')" "0"

# ---- certificate failures: clear errors, never a silent fallback ----
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$pki/other-ca.pem -- "SELECT s3_fetch('s3://$B/$k1');")
expect_has "wrong CA: certificate error" "$out" "s3_fetch: SSL certificate problem: unable to get local issuer certificate for 's3://$B/$k1'"
expect_has "wrong CA: hint names the bundle and its source" "$out" "not signed by a CA of the bundle '$pki/other-ca.pem' (AWS_CA_BUNDLE)"
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS -- "SELECT s3_fetch('s3://$B/$k1');")
expect_has "no bundle: the system store does not trust the private CA" "$out" "set s3.ca_bundle or AWS_CA_BUNDLE"
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=https://127.0.0.1:$RGW_TLS_PORT AWS_CA_BUNDLE=$ca -- "SELECT s3_fetch('s3://$B/$k1');")
expect_has "host-name mismatch: error" "$out" "no alternative certificate subject name matches target host name '127.0.0.1'"
expect_has "host-name mismatch: hint" "$out" "is not issued for this host name"
/usr/bin/python3 tests/integration/s3/tls_servers.py https "$pki/expired.pem" "$pki/expired.key" "$work/exp.port" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/exp.port" ] && break; sleep 0.1; done
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=https://s3.localhost:$(cat "$work/exp.port") AWS_CA_BUNDLE=$ca -- "SELECT s3_fetch('s3://b/k');")
expect_has "expired certificate: error" "$out" "SSL certificate problem: certificate has expired"
expect_has "expired certificate: hint" "$out" "has expired"
expect_eq "expired certificate: no request got through" "$(grep -c GET "$work/exp.port.log" 2>/dev/null || echo 0)" "0"
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$work/no-such-ca.pem -- "SELECT s3_fetch('s3://$B/$k1');")
expect_eq "missing bundle: error names the setting and the path" "$out" \
  "Error: stepping, s3_fetch: cannot read the CA bundle '$work/no-such-ca.pem' (AWS_CA_BUNDLE): No such file or directory"
out=$(qt "SELECT imgpca_config('s3.ca_bundle', '$pki');" "SELECT count(*) FROM s3_list('s3://$B/fruits/**');")
expect_has "a folder as bundle (s3.ca_bundle): error" "$out" "s3_list: cannot read the CA bundle '$pki' (s3.ca_bundle): not a regular file"
out=$(qt "SELECT imgpca_config('s3.ca_bundle', '$pki/rgw.key');" "SELECT s3_put('s3://$B/up/x', 'x');")
expect_has "a bundle without certificates: error" "$out" "is not a PEM file of certificates"
expect_eq "nothing was written without verification" "$(awsc s3api list-objects-v2 --bucket "$B" --prefix up/x --query 'length(Contents || `[]`)')" "0"
expect_eq "s3.ca_bundle setting beats AWS_CA_BUNDLE" \
  "$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$pki/other-ca.pem -- "SELECT imgpca_config('s3.ca_bundle', '$ca');" \
     "SELECT json_extract(s3_config(), '\$.ca_bundle_source'), length(s3_fetch('s3://$B/$k1'));" | tail -1)" "s3.ca_bundle|$(stat -c %s "$f1")"
mkdir -p "$HOME/.aws" && cp "$ca" "$HOME/.aws/onprem-ca.pem"
printf '[profile onprem]\nregion = us-east-1\nca_bundle = ~/.aws/onprem-ca.pem\n' > "$HOME/.aws/config"
expect_eq "ca_bundle of the profile in ~/.aws/config ('~' expanded)" \
  "$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS AWS_PROFILE=onprem -- \
     "SELECT json_extract(s3_config(), '\$.ca_bundle'), length(s3_fetch('s3://$B/$k1'));")" "$HOME/.aws/onprem-ca.pem|$(stat -c %s "$f1")"
rm -rf "$HOME/.aws"
# the instance metadata service is plain http by default; an https:// one is
# verified, against the bundle when there is one
/usr/bin/python3 tests/integration/s3/tls_servers.py imds "$pki/rgw.pem" "$pki/rgw.key" "$work/imds.port" \
  "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/imds.port" ] && break; sleep 0.1; done
IM=(AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=https://s3.localhost:$(cat "$work/imds.port") AWS_ENDPOINT_URL=$TLS)
expect_eq "https IMDS verified against the bundle: role credentials" \
  "$(qe "${IM[@]}" AWS_CA_BUNDLE=$ca -- "SELECT json_extract(s3_config(), '\$.credentials'), length(s3_fetch('s3://$B/$k1'));")" \
  "instance metadata (IMDSv2)|$(stat -c %s "$f1")"
expect_eq "https IMDS with a certificate of another CA: not used" \
  "$(qe "${IM[@]}" AWS_CA_BUNDLE=$pki/other-ca.pem -- "SELECT json_extract(s3_config(), '\$.credentials');")" "none"
expect_eq "https IMDS: no request got through the failed handshake" "$(grep -c . "$work/imds.port.log")" "3"

# ---- s3.verify_tls=false: reaches the server, one warning per connection ----
qs "${KEYS[@]}" AWS_ENDPOINT_URL=$TLS -- "SELECT imgpca_config('s3.verify_tls', 'false');" \
  "SELECT length(s3_fetch('s3://$B/$k1')), (SELECT count(*) FROM s3_list('s3://$B/fruits/Test/**'));" \
  >"$work/nv.out" 2>"$work/nv.err"
expect_eq "verify_tls=false: requests succeed" "$(tail -1 "$work/nv.out")" "$(stat -c %s "$f1")|$(find "$work/src/Test" -name '*.jpg' | wc -l)"
expect_eq "verify_tls=false: exactly one warning on stderr" "$(grep -c 'imgpca: warning: s3.verify_tls is off' "$work/nv.err")" "1"
expect_has "verify_tls=false: the warning names the endpoint" "$(cat "$work/nv.err")" "the TLS certificate of '$TLS' is not verified"
expect_eq "verify_tls on (default): no warning" "$(qt "SELECT length(s3_fetch('s3://$B/$k1'));" 2>&1 | grep -c warning)" "0"

# ---- regression (11): the region cannot redirect the connection ----
/usr/bin/python3 tests/integration/s3/tls_servers.py aws-proxy "$pki/aws.pem" "$pki/aws.key" "$work/px.port" \
  "x@127.0.0.1:9/" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/px.port" ] && break; sleep 0.1; done
PX=(https_proxy=http://127.0.0.1:$(cat "$work/px.port") AWS_CA_BUNDLE=$ca "${KEYS[@]}")
out=$(qe "${PX[@]}" -- "SELECT imgpca_config('s3.region', 'x@127.0.0.1:9/');")
expect_has "(11) s3.region: a host-like value is refused when set" "$out" "invalid value for 's3.region': 'x@127.0.0.1:9/'"
out=$(qe "${PX[@]}" AWS_REGION='x@127.0.0.1:9/' -- "SELECT s3_fetch('s3://b/k');")
expect_has "(11) AWS_REGION: a host-like value is an error naming the variable" "$out" \
  "s3_fetch: invalid region 'x@127.0.0.1:9/' (AWS_REGION): expected 1 to 32 lower-case letters"
mkdir -p "$HOME/.aws"; printf '[default]\nregion = evil.example.com:443/#\n' > "$HOME/.aws/config"
out=$(qe "${PX[@]}" -- "SELECT s3_fetch('s3://b/k');")
expect_has "(11) region of the profile: validated too" "$out" "invalid region 'evil.example.com:443/#' (region of profile 'default' in the config file)"
rm -rf "$HOME/.aws"
expect_eq "(11) no connection was made for an invalid region" "$(cat "$work/px.port.log" 2>/dev/null | wc -l)" "0"
out=$(qe "${PX[@]}" AWS_REGION=us-east-1 -- "SELECT s3_fetch('s3://b/k');")
expect_has "(11) x-amz-bucket-region with a host-like value: error" "$out" \
  "names an invalid region in x-amz-bucket-region: 'x@127.0.0.1:9/' (ignored"
expect_eq "(11) only the default endpoint was contacted" "$(grep CONNECT "$work/px.port.log" | sort -u)" \
  "CONNECT s3.us-east-1.amazonaws.com:443"
expect_eq "(11) one request, not retried in the bogus region" "$(grep -c '^GET' "$work/px.port.log")" "1"

# ---- regression (12): endpoint user info masked, plain http + token warned ----
ui="http://imgpcauser:S3cretPassw0rd@${RGW_ENDPOINT#http://}"
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL="$ui" -- "SELECT json_extract(s3_config(), '\$.endpoint');" \
      "SELECT imgpca_config('s3.endpoint');" "SELECT json_extract(imgpca_config(), '\$.\"s3.endpoint\".value');" \
      "SELECT length(s3_fetch('s3://$B/$k1'));")
expect_eq "(12) endpoint user info masked in s3_config() and imgpca_config(); requests work" \
  "$(echo "$out" | grep -v warning | tr '\n' ' ')" \
  "http://****@${RGW_ENDPOINT#http://} http://****@${RGW_ENDPOINT#http://} http://****@${RGW_ENDPOINT#http://} $(stat -c %s "$f1") "
expect_has "(12) unused user info: warned" "$out" "imgpca: warning: the user name and password in s3.endpoint 'http://****@"
closed=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(qe "${KEYS[@]}" AWS_ENDPOINT_URL="http://imgpcauser:S3cretPassw0rd@127.0.0.1:$closed" -- \
      "SELECT imgpca_config('s3.max_retries', 0);" "SELECT s3_fetch('s3://$B/k');")
expect_has "(12) hint of an unreachable endpoint: masked" "$out" "is the endpoint 'http://****@127.0.0.1:$closed' reachable?"
expect_not "(12) the password is never printed" "$out" "S3cretPassw0rd"
expect_not "(12) the user name is never printed" "$out" "imgpcauser"
/usr/bin/python3 tests/integration/s3/fake_server.py flaky "$work/fl.port" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/fl.port" ] && break; sleep 0.1; done
fl=http://127.0.0.1:$(cat "$work/fl.port")
qs "${KEYS[@]}" AWS_SESSION_TOKEN=FakeSessionToken0123456789 AWS_ENDPOINT_URL=$fl -- \
  "SELECT CAST(s3_fetch('s3://b/retry') AS TEXT);" "SELECT CAST(s3_fetch('s3://b/retry') AS TEXT);" \
  >"$work/tok.out" 2>"$work/tok.err"
expect_eq "(12) session token over plain http: requests sent" "$(cat "$work/tok.out" | tr '\n' ' ')" "recovered recovered "
expect_eq "(12) session token over plain http: one warning per connection (4 requests)" \
  "$(grep -c "imgpca: warning: s3.endpoint '$fl' is plain http: the session token is sent unencrypted" "$work/tok.err")" "1"
expect_eq "(12) plain http without a session token: no warning" \
  "$(qe "${KEYS[@]}" AWS_ENDPOINT_URL=$fl -- "SELECT CAST(s3_fetch('s3://b/retry') AS TEXT);" | tr '\n' ' ')" "recovered "
expect_eq "(12) session token over https: no warning" \
  "$(qe "${KEYS[@]}" AWS_SESSION_TOKEN=FakeSessionToken0123456789 AWS_ENDPOINT_URL=$TLS AWS_CA_BUNDLE=$ca -- \
     "SELECT s3_fetch_or_null('s3://$B/$k1') IS NULL;" | grep -c warning)" "0"

echo "s3 TLS integration: $((n-fail))/$n checks passed against RGW $TLS ($nimg objects)"
[ $fail -eq 0 ]
