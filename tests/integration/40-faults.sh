#!/usr/bin/env bash
# S3 fault injection: the loopback fault proxy (tests/faultproxy) between
# the extension and a test Ceph RGW.
#   1. the proxy's self-test against a trivial local HTTP server
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
out=$($PY tests/faultproxy/selftest.py 2>&1) || { echo "$out"; echo "FAIL faultproxy selftest"; exit 1; }
echo "$out" | tail -1
