#!/usr/bin/env bash
# Secrets never printed, TLS verified by default: tests/faultproxy/secrets_suite.py
# against a throwaway RGW (scripts/rgw-start.sh; stopped on exit).
set -u
cd "$(dirname "$0")/../.."
if [ ! -x scripts/rgw-start.sh ]; then echo "FAIL 41-secrets: scripts/rgw-start.sh (s3 branch) is missing"; exit 1; fi
log=$(mktemp /tmp/imgpca-secrets-rgw.XXXXXX)
dir=$(RGW_BUCKET=imgpca-secrets scripts/rgw-start.sh 2>"$log") || { cat "$log"; rm -f "$log"; echo "FAIL 41-secrets: RGW did not start"; exit 1; }
rm -f "$log"
trap 'scripts/rgw-stop.sh "$dir" >/dev/null 2>&1' EXIT
# shellcheck disable=SC1091
. "$dir/env"
export IMGPCA_EXT=$PWD/dist/imgpca
/usr/bin/python3 tests/faultproxy/secrets_suite.py
