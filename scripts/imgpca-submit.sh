#!/usr/bin/env bash
# Submits a whole sharded imgpca run to Slurm, waits for it and verifies its outputs.
#
#   imgpca-submit.sh --run ID --source GLOB --out URL --spec SPEC --shards N [options]
#
#   --run ID            run id, recorded in every output of the run
#   --source GLOB       source for s3_list: a local folder glob or s3://bucket/prefix/**
#                       (--src, its former name, is still accepted, with a warning)
#   --out URL           output prefix (shared folder or s3://bucket/prefix)
#   --spec SPEC         img_features spec, e.g. 'hist:bins=8,sqrt'
#   --shards N          number of shards (array size of the map and project stages)
#   --k K               components or variance fraction (default 16)
#   --dest URL          final CSV (default OUT/projection.csv)
#   --pca-options JSON  options of pca_partial / pca_fit      --csv-options JSON  of csv_export
#   --resume            keep the run's plan (if it has one for this source and N) and submit map
#                       tasks only for shards without a manifest of this run and spec (after a
#                       failure: re-runs the failed shards, then reduce, project, publish)
#   --map-array LIST    map only these shards (Slurm array syntax, e.g. 2 or 1,3)
#   --logs DIR          job logs (default OUT/logs for a local OUT, else ./imgpca-logs/RUN)
#   --no-wait           submit and print the job ids only
#   --sbatch ARGS       extra arguments for every sbatch (e.g. '--partition=compute')
#
# The stages plan (one job: lists the source once, one key list per shard), map (array),
# reduce, project (array) and publish are chained with --dependency=afterok and --kill-on-invalid-dep=yes, so a failed
# shard cancels the rest of the run.  `sbatch --wait` exits 0 even when a job was cancelled
# because its dependency failed, so this script checks every job's state and the outputs:
# exit 0 only if all jobs COMPLETED and OUT/plan/_plan.json, OUT/model/model.json, OUT/parts/_manifest.json and the
# final CSV exist for this run.  Otherwise it names the failed shards and their logs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "imgpca-submit: $*" >&2; exit 1; }

run=""; source=""; out=""; spec=""; n=""; k=16; dest=""; pca_options='{}'; csv_options='{}'
resume=0; map_array=""; logs=""; wait=1; extra=""
while [ $# -gt 0 ]; do
  case "$1" in
    --run) run=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --src) echo "imgpca-submit: warning: --src is deprecated: use --source (the same source glob)" >&2
           source=$2; shift 2 ;;
    --out) out=${2%/}; shift 2 ;;
    --spec) spec=$2; shift 2 ;;
    --shards) n=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --dest) dest=$2; shift 2 ;;
    --pca-options) pca_options=$2; shift 2 ;;
    --csv-options) csv_options=$2; shift 2 ;;
    --resume) resume=1; shift ;;
    --map-array) map_array=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --no-wait) wait=0; shift ;;
    --sbatch) extra=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$run" ] && [ -n "$source" ] && [ -n "$out" ] && [ -n "$n" ] || die "--run, --source, --out and --shards are required"
[ -n "$spec" ] || die "--spec is required"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "invalid --shards '$n'"
command -v sbatch >/dev/null || die "sbatch not found (is Slurm installed and SLURM_CONF set?)"
dest=${dest:-$out/projection.csv}
ext=${IMGPCA_EXT:-$here/dist/imgpca}
sqlite=${IMGPCA_SQLITE3:-sqlite3}
if [ -z "$logs" ]; then
  case "$out" in s3://*|s3a://*) logs=$PWD/imgpca-logs/$run ;; file://*) logs=${out#file://}/logs ;; *) logs=$out/logs ;; esac
fi
mkdir -p "$logs"

export IMGPCA_HOME=$here IMGPCA_NSHARD=$n IMGPCA_RUN=$run IMGPCA_SOURCE=$source IMGPCA_OUT=$out \
       IMGPCA_SPEC=$spec IMGPCA_K=$k IMGPCA_DEST=$dest IMGPCA_PCA_OPTIONS=$pca_options \
       IMGPCA_CSV_OPTIONS=$csv_options IMGPCA_EXT=$ext IMGPCA_SQLITE3=$sqlite

q() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }
sql() { "$sqlite" -batch -bail -cmd ".load $ext" :memory: "$1"; }

# Shards that already have a map manifest of this run, spec and shard count.
done_shards() {
  sql "WITH RECURSIVE i(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM i WHERE s + 1 < $n)
       SELECT s FROM (SELECT s, CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json',
                                $(q "$out"), s, $n)) AS TEXT) AS m FROM i)
        WHERE m ->> 'run' = $(q "$run") AND m ->> 'spec' = $(q "$spec") AND m ->> 'nshard' = $n;"
}

if [ "$resume" = 1 ] && [ -z "$map_array" ]; then
  have=" $(done_shards | tr '\n' ' ')"
  missing=()
  for ((i = 0; i < n; i++)); do [[ "$have" == *" $i "* ]] || missing+=("$i"); done
  map_array=$(IFS=,; echo "${missing[*]}")
  echo "imgpca-submit: resume: shards with a finished map: ${have# }; to run: ${map_array:-none}"
fi
[ -n "$map_array" ] || [ "$resume" = 1 ] || map_array="0-$((n - 1))"

# shellcheck disable=SC2206
xs=($extra)
sb() { sbatch --parsable --export=ALL "${xs[@]}" "$@" | cut -d';' -f1; }

# The plan: kept on --resume when it is this run's (same source and N), so that resumed shards
# see the listing the finished ones saw.
have_plan() {
  sql "SELECT p ->> 'run' = $(q "$run") AND p ->> 'source' = $(q "$source") AND p ->> 'nshard' = $n
         FROM (SELECT CAST(s3_fetch_or_null($(q "$out/plan/_plan.json")) AS TEXT) AS p);"
}
jobs=(); dep=(); jplan=
if [ "$resume" = 1 ] && [ "$(have_plan)" = 1 ]; then
  echo "imgpca-submit: resume: keeping the plan $out/plan/_plan.json"
elif [ -n "$map_array" ]; then
  jplan=$(sb -o "$logs/plan-%j.out" "$here/slurm/plan.sbatch")
  jobs+=("plan:$jplan"); dep=(--dependency="afterok:$jplan")
fi
if [ -n "$map_array" ]; then
  jmap=$(sb "${dep[@]}" --array="$map_array" -o "$logs/map-%A_%a.out" "$here/slurm/map.sbatch")
  jobs+=("map:$jmap"); dep=(--dependency="afterok:$jmap")
fi
jred=$(sb "${dep[@]}" -o "$logs/reduce-%j.out" "$here/slurm/reduce.sbatch")
jobs+=("reduce:$jred")
jprj=$(sb --dependency="afterok:$jred" --array="0-$((n - 1))" -o "$logs/project-%A_%a.out" "$here/slurm/project.sbatch")
jobs+=("project:$jprj")
echo "imgpca-submit: run '$run': plan ${jplan:-kept} -> map ${jmap:-skipped} -> reduce $jred -> project $jprj -> publish (logs in $logs)"
if [ "$wait" = 0 ]; then
  jpub=$(sb --dependency="afterok:$jprj" -o "$logs/publish-%j.out" "$here/slurm/publish.sbatch")
  echo "imgpca-submit: submitted publish $jpub; not waiting"
  exit 0
fi
# --wait returns when publish ends, including when it is cancelled for a failed dependency.
set +e
jpub=$(sb --wait --dependency="afterok:$jprj" -o "$logs/publish-%j.out" "$here/slurm/publish.sbatch")
set -e
jobs+=("publish:$jpub")

# ---- verification: job states, then outputs ---------------------------------------------
job_states() { # id -> lines "jobid[_task] STATE"
  local id=$1
  if out_sacct=$(sacct -n -X -P -j "$id" -o JobID,State 2>/dev/null) && [ -n "$out_sacct" ]; then
    echo "$out_sacct" | tr '|' ' ' | awk '{print $1, $2}'
  else
    scontrol -o show job "$id" 2>/dev/null | awk '{
      id = ""; task = ""; st = "";
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^JobId=/) id = substr($i, 7);
        if ($i ~ /^ArrayJobId=/) id = substr($i, 12);
        if ($i ~ /^ArrayTaskId=/) task = "_" substr($i, 13);
        if ($i ~ /^JobState=/) st = substr($i, 10);
      }
      print id task, st }'
  fi
}
fail=0
for j in "${jobs[@]}"; do
  stage=${j%%:*}; id=${j#*:}
  while read -r jid st; do
    [ -n "$jid" ] || continue
    if [ "$st" != COMPLETED ]; then
      fail=1
      task=${jid#*_}; [ "$task" = "$jid" ] && task=""
      case "$stage" in
        map|project) log="$logs/$stage-${jid%%_*}_$task.out"
                     what="$stage shard $task of $n (job $jid)"
                     [[ "$task" == *[-,]* ]] && what="$stage shards $task of $n (job $jid, never started)" ;;
        *) log="$logs/$stage-$jid.out"; what="$stage (job $jid)" ;;
      esac
      echo "imgpca-submit: run '$run': $what $st" >&2
      if [ -s "$log" ] && [ "$st" != CANCELLED ] && [[ "$st" != CANCELLED* ]]; then
        echo "  log $log:" >&2; tail -5 "$log" | sed 's/^/    /' >&2
      fi
    fi
  done < <(job_states "$id")
done
check=$(sql "SELECT (m ->> 'run') IS $(q "$run"), (p ->> 'run') IS $(q "$run") AND (p ->> 'nshard') = $n,
                    s3_fetch_or_null($(q "$dest"), 0, 1) IS NOT NULL
               FROM (SELECT CAST(s3_fetch_or_null($(q "$out/model/model.json")) AS TEXT) AS m,
                            CAST(s3_fetch_or_null($(q "$out/parts/_manifest.json")) AS TEXT) AS p);" 2>&1) \
  || check="error: $check"
if [ "$check" != "1|1|1" ]; then
  fail=1
  case "$check" in
    0\|*|\|*) echo "imgpca-submit: run '$run': no model published ($out/model/model.json missing or from another run)" >&2 ;;
    1\|0\|*) echo "imgpca-submit: run '$run': model published but the projection is incomplete ($out/parts/_manifest.json)" >&2 ;;
    1\|1\|0) echo "imgpca-submit: run '$run': final CSV $dest missing" >&2 ;;
    *) echo "imgpca-submit: run '$run': cannot check the outputs: $check" >&2 ;;
  esac
fi
if [ $fail = 1 ]; then
  echo "imgpca-submit: run '$run' FAILED; fix the cause, then resubmit the unfinished shards with the same arguments plus --resume" >&2
  exit 1
fi
rows=$(sql "SELECT CAST(s3_fetch($(q "$out/parts/_manifest.json")) AS TEXT) ->> 'rows';")
echo "imgpca-submit: run '$run' COMPLETED: model $out/model/model.pca, $rows rows in $dest"
