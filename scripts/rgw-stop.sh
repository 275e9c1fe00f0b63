#!/usr/bin/env bash
# Stops a gateway started by scripts/rgw-start.sh DIR: kills its radosgw, OSD
# and monitor by the PIDs recorded in DIR/run/*.pid, then removes DIR.
#   scripts/rgw-stop.sh DIR [--keep]    (--keep: leave DIR, e.g. for its logs)
set -u
dir=${1:?usage: rgw-stop.sh DIR [--keep]}
[ -d "$dir/run" ] || { echo "rgw-stop: $dir is not a gateway directory" >&2; exit 1; }
pids=()
for f in "$dir"/run/client.rgw.a.pid "$dir"/run/osd.*.pid "$dir"/run/mon.a.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { kill "$p" 2>/dev/null; pids+=("$p"); }
done
for p in "${pids[@]}"; do
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
done
[ "${2:-}" = --keep ] || rm -rf "$dir"
exit 0
