#!/usr/bin/env bash
# Runs every bench/bench_*.sh (or .py, with Debian's python3) and writes
# bench/RESULTS.md: a header with the machine and date, then the markdown
# section each benchmark prints on stdout.  Benchmarks compare ratios against
# a peer measured in the same run; nothing here is a pass/fail test.
#   bench/run.sh [name-filter]
# Each benchmark's section is kept in bench/results/<name>.md (with the date,
# machine and commit of its own run), so a filtered run refreshes only the
# matching sections and RESULTS.md is reassembled from all of them.
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
out=bench/RESULTS.md
mkdir -p bench/results
machine() {
  echo "$(uname -m), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
}
for b in bench/bench_*; do
  case "$b" in *.sh) run=(bash "$b") ;; *.py) run=(/usr/bin/python3 "$b") ;; *) continue ;; esac
  [ -n "$filter" ] && [[ "$b" != *"$filter"* ]] && continue
  name=$(basename "${b%.*}")
  echo "bench: $b" >&2
  sec=$(mktemp)
  if ! "${run[@]}" > "$sec"; then echo "bench: $b failed" >&2; echo -e "\n_$b failed in this run._" >> "$sec"; fi
  { cat "$sec"; echo
    echo "_Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(machine), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')._"
  } > "bench/results/$name.md"
  rm -f "$sec"
done
tmp=$(mktemp)
{
  echo "# Benchmark results"
  echo
  echo "- assembled: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(machine)"
  echo "- os: $(. /etc/os-release; echo "$PRETTY_NAME"), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "Regenerate with \`make bench\` (or \`bench/run.sh NAME\` for one benchmark; each"
  echo "section states the date and commit of its own run). Ratios compare imgpca with a"
  echo "peer measured in the same run."
  echo
  for s in bench/results/*.md; do [ -e "$s" ] && { cat "$s"; echo; }; done
} > "$tmp"
mv "$tmp" "$out"
echo "bench: wrote $out" >&2
