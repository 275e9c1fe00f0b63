#!/usr/bin/env bash
# Runs every bench/bench_*.sh (or .py, with Debian's python3) and writes
# bench/RESULTS.md: a header with the machine and date, then the markdown
# section each benchmark prints on stdout.  Benchmarks compare ratios against
# a peer measured in the same run; nothing here is a pass/fail test.
#   bench/run.sh [name-filter]
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
out=bench/RESULTS.md
tmp=$(mktemp)
{
  echo "# Benchmark results"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(uname -m), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "- os: $(. /etc/os-release; echo "$PRETTY_NAME"), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "Regenerate with \`make bench\`. Ratios compare imgpca with a peer measured in the same run."
  echo
} > "$tmp"
for b in bench/bench_*; do
  case "$b" in *.sh) run=(bash "$b") ;; *.py) run=(/usr/bin/python3 "$b") ;; *) continue ;; esac
  [ -n "$filter" ] && [[ "$b" != *"$filter"* ]] && continue
  echo "bench: $b" >&2
  if ! "${run[@]}" >> "$tmp"; then echo "bench: $b failed" >&2; echo -e "\n_$b failed in this run._\n" >> "$tmp"; fi
  echo >> "$tmp"
done
mv "$tmp" "$out"
echo "bench: wrote $out" >&2
