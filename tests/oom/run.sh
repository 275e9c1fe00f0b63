#!/usr/bin/env bash
# make test-oom: the OOM sweep under ASan/LSan, plus a coverage check that
# every function and module of tests/api-surface.expected has a case.
set -u
cd "$(dirname "$0")/../.."
bin=${1:-build/oom/oom}
fail=0
missing=$(cut -d'|' -f2 tests/api-surface.expected | sort -u | while read -r name; do
  grep -Eq "^(sql:|[[:space:]]).*\\b$name\\b" tests/oom/cases.txt || echo "$name"
done)
if [ -n "$missing" ]; then
  echo "FAIL oom coverage: no case in tests/oom/cases.txt for:" $missing; fail=1
fi
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$bin" tests/oom/cases.txt ${IMGPCA_OOM_FILTER:+"$IMGPCA_OOM_FILTER"} || fail=1
# Writes that failed half-way must not leave files behind (atomic writer).
left=$(find build/oom -mindepth 1 ! -name oom)
if [ -n "$left" ]; then echo "FAIL oom: files left behind by interrupted writes:" $left; fail=1; fi
exit $fail
