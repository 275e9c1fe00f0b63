#!/usr/bin/env bash
# make test-interrupt: starts three stub S3 endpoints (tests/interrupt/fake_s3.py)
# and runs the interrupt test binary against them.
set -u
cd "$(dirname "$0")/../.."
bin=${1:-build/interrupt/interrupt}
dir=$(mktemp -d /tmp/imgpca-interrupt.XXXXXX)
python3 tests/interrupt/fake_s3.py forever "$dir/p1" & s1=$!
python3 tests/interrupt/fake_s3.py repeat "$dir/p2" & s2=$!
python3 tests/interrupt/fake_s3.py silent "$dir/p3" & s3=$!
for _ in $(seq 100); do [ -s "$dir/p1" ] && [ -s "$dir/p2" ] && [ -s "$dir/p3" ] && break; sleep 0.1; done
"$bin" "$(cat "$dir/p1")" "$(cat "$dir/p2")" "$(cat "$dir/p3")"; rc=$?
kill "$s1" "$s2" "$s3" 2>/dev/null; wait "$s1" "$s2" "$s3" 2>/dev/null
rm -rf "$dir"
exit $rc
