#!/usr/bin/env bash
# imgpca scale-out worker: runs one stage of a sharded run in one sqlite3 process.
#
#   imgpca-worker.sh plan    [NSHARD]          list the source once: one key list per shard
#   imgpca-worker.sh map     [SHARD NSHARD]    features + partial PCA state of one shard
#   imgpca-worker.sh reduce  [NSHARD]          merge the N states into the model
#   imgpca-worker.sh project [SHARD NSHARD]    CSV part of one shard
#   imgpca-worker.sh publish [NSHARD]          one CSV with a single header
#
# The shard index and count come from, in this order:
#   1. the explicit arguments;
#   2. Slurm job arrays:        SLURM_ARRAY_TASK_ID, and IMGPCA_NSHARD or else
#                               SLURM_ARRAY_TASK_COUNT (only for an array 0..N-1);
#   3. AWS Batch array jobs:    AWS_BATCH_JOB_ARRAY_INDEX, with IMGPCA_NSHARD (Batch does not
#                               export the array size: set it in the job definition);
#   4. Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, with IMGPCA_NSHARD (= .spec.completions).
# IMGPCA_NSHARD always wins over SLURM_ARRAY_TASK_COUNT, so that one shard can be
# resubmitted alone (--array=2) in a run of 4.
#
# Run parameters (environment; the same for every stage of a run):
#   IMGPCA_RUN           run id (required)
#   IMGPCA_OUT           output prefix: local folder or s3://bucket/prefix (required)
#   IMGPCA_SOURCE        source glob for s3_list (plan; map checks the plan was made from it);
#                        IMGPCA_SRC, its former name, is still read, with a warning
#   IMGPCA_SPEC          img_features spec (map; checked by reduce and project)
#   IMGPCA_K             components or variance fraction (reduce; default 16)
#   IMGPCA_PCA_OPTIONS   JSON options for pca_partial / pca_fit (default '{}')
#   IMGPCA_CSV_OPTIONS   JSON options for csv_export (default '{}')
#   IMGPCA_DEST          final CSV URL (publish; default $IMGPCA_OUT/projection.csv)
#   IMGPCA_REMAP         1: map a shard again even when its key list is unchanged since its
#                        manifest (by default such a shard is reused, nothing fetched)
#   IMGPCA_REPORT        0: publish writes the CSV and the parts manifest only, without
#                        $IMGPCA_OUT/report.html (sql/publish-report.sql; default 1)
#   IMGPCA_EXT           extension to load (default <repo>/dist/imgpca)
#   IMGPCA_SQLITE3       sqlite3 shell (default sqlite3)
#   IMGPCA_TIMER         if set, print the time of every SQL statement (.timer on)
#   IMGPCA_FAIL_SHARD    test hook: the map task of this shard index fails on purpose
# Exit status: 0 on success; non-zero with a message naming the stage and shard otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage=${1:-}
shift || true
die() { echo "imgpca-worker: $*" >&2; exit 1; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

nshard_from_env() {
  if [ -n "${IMGPCA_NSHARD:-}" ]; then echo "$IMGPCA_NSHARD"; return; fi
  if [ -n "${SLURM_ARRAY_TASK_COUNT:-}" ]; then
    if [ "${SLURM_ARRAY_TASK_MIN:-0}" != 0 ] ||
       [ "${SLURM_ARRAY_TASK_MAX:-}" != $((SLURM_ARRAY_TASK_COUNT - 1)) ]; then
      die "$stage: the Slurm array is not 0..N-1 (min ${SLURM_ARRAY_TASK_MIN:-?}, max ${SLURM_ARRAY_TASK_MAX:-?}, count $SLURM_ARRAY_TASK_COUNT): set IMGPCA_NSHARD"
    fi
    echo "$SLURM_ARRAY_TASK_COUNT"; return
  fi
  echo ""
}

resolve_shard() { # sets shard, nshard
  if [ $# -ge 2 ]; then
    shard=$1; nshard=$2
  elif [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    shard=$SLURM_ARRAY_TASK_ID; nshard=$(nshard_from_env)
  elif [ -n "${AWS_BATCH_JOB_ARRAY_INDEX:-}" ]; then
    shard=$AWS_BATCH_JOB_ARRAY_INDEX; nshard=${IMGPCA_NSHARD:-}
    [ -n "$nshard" ] || die "$stage: AWS_BATCH_JOB_ARRAY_INDEX is set but IMGPCA_NSHARD is not (set it to the array size)"
  elif [ -n "${JOB_COMPLETION_INDEX:-}" ]; then
    shard=$JOB_COMPLETION_INDEX; nshard=${IMGPCA_NSHARD:-}
    [ -n "$nshard" ] || die "$stage: JOB_COMPLETION_INDEX is set but IMGPCA_NSHARD is not (set it to .spec.completions)"
  else
    die "$stage: no shard given: pass SHARD NSHARD, or run in a Slurm array, an AWS Batch array job or a Kubernetes Indexed Job"
  fi
  is_uint "$shard" && is_uint "$nshard" || die "$stage: invalid shard '$shard' of '$nshard'"
  [ "$nshard" -ge 1 ] && [ "$shard" -lt "$nshard" ] || die "$stage: shard $shard is not in 0..$((nshard - 1))"
}

resolve_count() { # sets nshard
  if [ $# -ge 1 ]; then nshard=$1; else nshard=$(nshard_from_env); fi
  [ -n "$nshard" ] || die "$stage: number of shards unknown: pass NSHARD or set IMGPCA_NSHARD"
  is_uint "$nshard" && [ "$nshard" -ge 1 ] || die "$stage: invalid number of shards '$nshard'"
}

# SQL text literal
q() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

case "$stage" in
  plan|map|project|reduce|publish) ;;
  *) die "usage: imgpca-worker.sh plan|map|reduce|project|publish [SHARD] [NSHARD] (see the header of $0)" ;;
esac
run=${IMGPCA_RUN:-}; out=${IMGPCA_OUT:-}
[ -n "$run" ] || die "$stage: IMGPCA_RUN (run id) is not set"
[ -n "$out" ] || die "$stage: IMGPCA_OUT (output prefix) is not set"
out=${out%/}
k=${IMGPCA_K:-16}
[[ "$k" =~ ^[0-9]+$|^0?\.[0-9]+$ ]] || die "$stage: invalid IMGPCA_K '$k': an integer >= 1 or a fraction in (0, 1)"
ext=${IMGPCA_EXT:-$here/dist/imgpca}
sqlite=${IMGPCA_SQLITE3:-sqlite3}
shard=0; nshard=""
case "$stage" in
  map|project) resolve_shard "$@" ;;
  plan|reduce|publish) resolve_count "$@" ;;
esac
what="$stage"; case "$stage" in map|project) what="$stage shard $shard of $nshard" ;; esac
if [ -z "${IMGPCA_SOURCE:-}" ] && [ -n "${IMGPCA_SRC:-}" ]; then
  echo "imgpca-worker: warning: IMGPCA_SRC is deprecated: set IMGPCA_SOURCE (the same source glob)" >&2
  IMGPCA_SOURCE=$IMGPCA_SRC
fi
if [ "$stage" = map ] || [ "$stage" = plan ]; then
  [ -n "${IMGPCA_SOURCE:-}" ] || die "$what: IMGPCA_SOURCE (source glob) is not set"
fi
if [ "$stage" != publish ] && [ "$stage" != plan ]; then
  [ -n "${IMGPCA_SPEC+x}" ] || die "$what: IMGPCA_SPEC (feature spec) is not set"
fi
if [ "$stage" = map ] && [ -n "${IMGPCA_FAIL_SHARD:-}" ] && [ "$IMGPCA_FAIL_SHARD" = "$shard" ]; then
  die "$what: failing on purpose (IMGPCA_FAIL_SHARD=$IMGPCA_FAIL_SHARD); nothing written"
fi

pca_options=${IMGPCA_PCA_OPTIONS:-}; [ -n "$pca_options" ] || pca_options='{}'
csv_options=${IMGPCA_CSV_OPTIONS:-}; [ -n "$csv_options" ] || csv_options='{}'
tmp=$(mktemp -d "${TMPDIR:-/tmp}/imgpca-$stage-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The SQL runs from the repository root (stages .read sql/shard-guard.sql): local paths
# given relative to the caller's folder are made absolute first.
abs() { case "$1" in ""|/*|*://*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
source=$(abs "${IMGPCA_SOURCE:-}"); out=$(abs "$out"); dest=$(abs "${IMGPCA_DEST:-$out/projection.csv}")
{
  echo ".parameter init"
  echo "INSERT INTO temp.sqlite_parameters(key, value) VALUES"
  echo "  ('\$run', $(q "$run")), ('\$out', $(q "$out")), ('\$spec', $(q "${IMGPCA_SPEC:-}")),"
  echo "  ('\$source', $(q "$source")), ('\$tmp', $(q "$tmp")),"
  echo "  ('\$shard', $shard), ('\$nshard', $nshard), ('\$k', $k),"
  echo "  ('\$pca_options', $(q "$pca_options")), ('\$csv_options', $(q "$csv_options")),"
  echo "  ('\$dest', $(q "$dest"));"
  [ -z "${IMGPCA_TIMER:-}" ] || echo ".timer on"
  cat "$here/sql/$stage.sql"
  # publish: then the report page (docs/REPORT.md), unless IMGPCA_REPORT=0
  if [ "$stage" = publish ] && [ "${IMGPCA_REPORT:-1}" != 0 ]; then echo ".read sql/publish-report.sql"; fi
} > "$tmp/script.sql"

echo "imgpca-worker: $what: run '$run', output $out (host $(hostname -s), pid $$)"
# map: a shard whose key list (keys and ETags, SHA3-256 in the plan) is the one its manifest
# was made from, for this run, source, spec and PCA options, with its outputs present, is
# reused: nothing is fetched (IMGPCA_REMAP=1 maps it again)
if [ "$stage" = map ] && [ "${IMGPCA_REMAP:-0}" != 1 ]; then
  cat >"$tmp/reuse.sql" <<SQL
SELECT 1 FROM (SELECT CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $(q "$out"), $shard, $nshard)) AS TEXT) AS m,
                      CAST(s3_fetch_or_null($(q "$out") || '/plan/_plan.json') AS TEXT) AS p)
 WHERE json_valid(m) AND json_valid(p)
   AND m ->> 'run' = $(q "$run") AND p ->> 'run' = $(q "$run") AND m ->> 'spec' = $(q "${IMGPCA_SPEC:-}")
   AND m ->> 'source' = $(q "$source") AND p ->> 'source' = $(q "$source") AND p ->> 'nshard' = $nshard
   AND json(m -> 'pca_options') = json($(q "$pca_options"))
   AND m ->> 'plan_sha3' = (SELECT value ->> 'sha3' FROM json_each(p, '\$.shards') WHERE value ->> 'shard' = $shard)
   AND s3_fetch_or_null(m ->> 'features', 0, 1) IS NOT NULL
   AND (m ->> 'state' IS NULL OR s3_fetch_or_null(m ->> 'state', 0, 1) IS NOT NULL);
SQL
  reuse=$(cd "$here" && "$sqlite" -batch -cmd ".load $(abs "$ext")" :memory: <"$tmp/reuse.sql" 2>/dev/null) || reuse=""
  if [ "$reuse" = 1 ]; then
    echo "map: shard $shard of $nshard unchanged since its manifest (same keys and ETags): reused, nothing fetched"
    exit 0
  fi
fi
start=$(date +%s%N)
# line-buffered stdout keeps the "problem:" lines ahead of the final error in job logs
lb=(); command -v stdbuf >/dev/null && lb=(stdbuf -oL -eL)
if ! (cd "$here" && "${lb[@]}" "$sqlite" -batch -bail -cmd ".load $(abs "$ext")" :memory: < "$tmp/script.sql"); then
  die "$what failed (run '$run'); see the messages above"
fi
awk -v w="$what" -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "imgpca-worker: %s done in %.1f s\n", w, (b - a) / 1e9 }'
