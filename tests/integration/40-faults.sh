#!/usr/bin/env bash
# S3 fault injection: the loopback fault proxy (tests/faultproxy) between
# the extension and a test Ceph RGW.
#   1. the proxy's self-test against a trivial local HTTP server;
#   2. tests/faultproxy/faults_suite.py against a throwaway RGW
#      (scripts/rgw-start.sh; stopped on exit): exact bytes or clear errors,
#      bounded retries, listings without duplicates or gaps, no orphan
#      multipart uploads and no partial objects.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
out=$($PY tests/faultproxy/selftest.py 2>&1) || { echo "$out"; echo "FAIL faultproxy selftest"; exit 1; }
echo "$out" | tail -1
if [ ! -x scripts/rgw-start.sh ] || ! sqlite3 -cmd ".load dist/imgpca" :memory: "SELECT 's3_fetch' IN (SELECT name FROM pragma_function_list)" | grep -qx 1; then
  echo "FAIL 40-faults: the storage layer (s3 branch) is not built: s3_fetch and scripts/rgw-start.sh are needed"
  exit 1
fi
dir=$(RGW_BUCKET=imgpca-faults scripts/rgw-start.sh 2>/tmp/imgpca-faults-rgw.$$.log) || {
  cat /tmp/imgpca-faults-rgw.$$.log; rm -f /tmp/imgpca-faults-rgw.$$.log; echo "FAIL 40-faults: RGW did not start"; exit 1; }
rm -f /tmp/imgpca-faults-rgw.$$.log
trap 'scripts/rgw-stop.sh "$dir" >/dev/null 2>&1' EXIT
# shellcheck disable=SC1091
. "$dir/env"
export IMGPCA_EXT=$PWD/dist/imgpca
$PY tests/faultproxy/faults_suite.py || exit 1
# 3. several connections in threads fetching, listing and writing at once
#    against the RGW give the one-at-a-time results (fixtures of step 2)
make -s build/concurrency/concurrency >/dev/null || exit 1
AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=us-east-1 \
AWS_ENDPOINT_URL=$RGW_ENDPOINT AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
AWS_EC2_METADATA_DISABLED=true ASAN_OPTIONS=detect_leaks=1:exitcode=99 \
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  build/concurrency/concurrency tests/concurrency/cases-s3.txt 4 2 | tail -1
exit "${PIPESTATUS[0]}"
