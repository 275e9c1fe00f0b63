#!/usr/bin/env bash
# SQL tests: each tests/sql/NAME.sql runs in the stock sqlite3 shell with the
# extension loaded; its stdout AND stderr (interleaved, unbuffered) must equal
# tests/sql/NAME.out exactly, so an unexpected error cannot pass silently.
#   tests/run-sql.sh EXT [asan]       IMGPCA_BLESS=1 rewrites the .out files
set -u
ext=$1; mode=${2:-}
cd "$(dirname "$0")/.."
pre=()
if [ "$mode" = asan ]; then
  pre=(env LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
       ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
       LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
fi
fail=0; n=0
for f in tests/sql/*.sql; do
  name=${f%.sql}; n=$((n+1))
  actual=$(cd tests/sql && "${pre[@]}" stdbuf -o0 -e0 sqlite3 -batch -cmd ".load ../../$ext" :memory: < "$(basename "$f")" 2>&1; echo "exit=$?")
  if [ "${IMGPCA_BLESS:-}" = 1 ] && [ -z "$mode" ]; then printf '%s\n' "$actual" > "$name.out"; fi
  if [ "$actual" == "$(cat "$name.out" 2>/dev/null)" ]; then
    echo "ok   sql${mode:+-$mode} $(basename "$f")"
  else
    echo "FAIL sql${mode:+-$mode} $(basename "$f")"
    diff <(cat "$name.out" 2>/dev/null) <(printf '%s\n' "$actual") | head -40
    fail=1
  fi
done
exit $fail
