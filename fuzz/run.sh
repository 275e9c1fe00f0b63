#!/usr/bin/env bash
# Runs libFuzzer targets (make fuzz / make test-fuzz).
#
#   fuzz/run.sh SECONDS build/fuzz/fuzz_X ...    each target SECONDS seconds
#   fuzz/run.sh test build/fuzz/fuzz_X ...       CI: a bounded run of each
#                                                (budget FUZZ_BUDGET s total, at most 20 s each)
#
# Corpus per target: build/fuzz/corpus/<name> (grows across runs, never
# committed), read together with the hand-written seeds fuzz/seeds/<name>
# (also every regression input) and seeds generated now from
# ../shared/data (fuzz/seed-gen.sh).  A finding (crash, sanitizer report,
# leak, timeout, out-of-memory) is saved under build/fuzz/findings/ and
# fails the run.  Prints one line per target with the executions done.
set -u
cd "$(dirname "$0")/.."
mode=$1; shift
targets=("$@")
n=${#targets[@]}
[ "$n" -gt 0 ] || { echo "fuzz: no targets"; exit 1; }
if [ "$mode" = test ]; then
  per=$(( ${FUZZ_BUDGET:-200} / n )); [ $per -gt 20 ] && per=20; [ $per -lt 3 ] && per=3
else
  per=$mode
fi
mkdir -p build/fuzz/findings
fail=0; total=0
for bin in "${targets[@]}"; do
  name=$(basename "$bin"); name=${name#fuzz_}
  corpus=build/fuzz/corpus/$name; gen=build/fuzz/seeds-gen/$name
  mkdir -p "$corpus" "$gen"
  fuzz/seed-gen.sh "$name" "$gen" || { echo "FAIL fuzz $name: seed generation"; fail=1; continue; }
  dirs=("$corpus" "$gen"); [ -d "fuzz/seeds/$name" ] && dirs+=("fuzz/seeds/$name")
  log=build/fuzz/$name.log
  # First every seed and regression input once (a finding there is a regression) ...
  if ! "$bin" -runs=0 -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=512 \
       -artifact_prefix=build/fuzz/findings/$name- "${dirs[@]:1}" > "$log.seeds" 2>&1; then
    echo "FAIL fuzz $name: a seed input fails"; grep -a -E 'ERROR|SUMMARY|invariant|Test unit written|runtime error' "$log.seeds" | head -20
    fail=1; continue
  fi
  # ... then mutate for $per seconds.
  if "$bin" -max_total_time="$per" -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=512 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix=build/fuzz/findings/$name- "${dirs[@]}" > "$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "ok   fuzz $name: ${execs:-?} execs in ${per}s, $cov, corpus $(ls "$corpus" | wc -l) (+$(find -L "${dirs[@]:1}" -type f | wc -l) seeds)"
    total=$(( total + ${execs:-0} ))
  else
    echo "FAIL fuzz $name (log: $log)"
    grep -a -E 'ERROR|SUMMARY|invariant|Test unit written|runtime error' "$log" | head -20
    fail=1
  fi
done
echo "fuzz: $total executions over $n targets"
exit $fail
