#!/usr/bin/env bash
# End-to-end check of deploy/slurm-collect.sh on a real (single-node, local) Slurm cluster:
#
#   scripts/cluster/slurm-e2e.sh [--shards N] [--keep] [--stop] path/to/corrsteer
#
# 1. starts the local cluster (scripts/cluster/slurm-local.sh; needs root, installs with apt), twice
#    (the second start must keep the running daemons),
# 2. submits the bundled demo collection through deploy/slurm-collect.sh as a job array of N shards
#    (default 3) plus the dependent (afterok) merge job, which also runs `corrsteer select`,
# 3. waits for the jobs and checks that every shard task and the merge job completed with exit 0,
#    and that the merge job started only after every shard had ended,
# 4. runs the same collection in one process, `corrsteer select` on it, and compares the two runs
#    with scripts/cluster/compare-runs.sh: identical counts and selected features, sums within
#    float64 addition order (relative 1e-12), features.json equal up to the last digits.
#
# Builds nothing: pass the binary (swift build -c release --product corrsteer → .build/release/corrsteer).
# Prints `slurm-e2e: PASS ...` or `slurm-e2e: FAIL ...`. Exit 0 = PASS, 1 = FAIL, 2 = usage,
# 3 = the cluster could not be started (not a verdict on corrsteer; CI reports it as skipped).
# --keep keeps the work folder (default: removed on PASS); --stop stops the cluster afterwards.
# Environment: WORK (work folder; default a new /tmp/corrsteer-slurm-e2e.*), DEMO (demo bundle;
# default Sources/CorrSteer/Resources/demo), START_TIMEOUT (s, default 120), JOB_TIMEOUT (s, default 120).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARDS=3 KEEP=0 STOP=0 BIN=
while (($#)); do
    case $1 in
        --shards) SHARDS=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --stop) STOP=1; shift ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        -*) echo "slurm-e2e: unknown option $1" >&2; exit 2 ;;
        *) BIN=$1; shift ;;
    esac
done
[[ -n $BIN ]] || { echo "usage: $0 [--shards N] [--keep] [--stop] path/to/corrsteer" >&2; exit 2; }
[[ $BIN == /* ]] || BIN=$PWD/$BIN
[[ -x $BIN ]] || { echo "slurm-e2e: $BIN is not an executable (build it first)" >&2; exit 2; }
DEMO=${DEMO:-$ROOT/Sources/CorrSteer/Resources/demo}
[[ -f $DEMO/demo.json ]] || { echo "slurm-e2e: no demo bundle at $DEMO" >&2; exit 2; }
START_TIMEOUT=${START_TIMEOUT:-120}
JOB_TIMEOUT=${JOB_TIMEOUT:-120}

log() { echo "slurm-e2e: $*" >&2; }
stop_cluster() { ((STOP)) && "$ROOT/scripts/cluster/slurm-local.sh" stop || true; }
verdict_fail() {
    echo "slurm-e2e: FAIL — $*"
    if [[ -d ${WORK:-}/logs ]]; then
        for f in "$WORK"/logs/*.out; do [[ -f $f ]] && { echo "--- $f"; tail -n 20 "$f"; }; done
    fi
    echo "slurm-e2e: work folder kept: ${WORK:-?}"
    stop_cluster
    exit 1
}

# 1. The cluster.
log "starting the local Slurm cluster"
if ! timeout "$START_TIMEOUT" "$ROOT/scripts/cluster/slurm-local.sh" start; then
    echo "slurm-e2e: cluster unavailable — scripts/cluster/slurm-local.sh start failed or took over ${START_TIMEOUT}s"
    stop_cluster
    exit 3
fi
# Starting again must be harmless: same daemons, node still usable.
daemons() { cat /run/slurm/slurmctld.pid /run/slurm/slurmd.pid /run/munge/munged.pid 2>/dev/null | tr '\n' ' '; }
before=$(daemons)
timeout "$START_TIMEOUT" "$ROOT/scripts/cluster/slurm-local.sh" start 2>/dev/null ||
    verdict_fail "a second scripts/cluster/slurm-local.sh start failed"
[[ $(daemons) == "$before" ]] || verdict_fail "a second slurm-local.sh start restarted the daemons ($before → $(daemons))"
log "slurm-local.sh start is idempotent (daemons ${before% } kept)"

WORK=${WORK:-$(mktemp -d /tmp/corrsteer-slurm-e2e.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK"
[[ -e runs/demo-slurm || -e runs/demo-single ]] && { echo "slurm-e2e: $WORK already holds runs; choose another WORK" >&2; exit 2; }

# The same collection for both sides: the demo's task, every SAE layer, its generation length.
COLLECT_OPTIONS=(--task-file "$DEMO/task/demo.jsonl" --custom-kind exact --max-new-tokens 4)
SAMPLES=400

# 2. Submit through the deploy script, as a user would (small resources for a small machine).
log "submitting $SHARDS shards + merge with deploy/slurm-collect.sh (work folder $WORK)"
started=$SECONDS
submitted=$(CORRSTEER=$BIN MODEL=$DEMO/model SAE=$DEMO/sae DATA='' TASK=custom SAMPLES=$SAMPLES \
    SHARDS=$SHARDS RUNS=runs/demo-slurm LOGS=logs AFTER_MERGE=select THREADS=1 JOB_NAME=corrsteer-e2e \
    JOB_OPTIONS="--cpus-per-task=1 --mem=1G --time=10" \
    "$ROOT/deploy/slurm-collect.sh" submit -- "${COLLECT_OPTIONS[@]}") || verdict_fail "deploy/slurm-collect.sh submit failed"
array_job=$(sed -n 's/.*array_job=\([0-9]*\).*/\1/p' <<<"$submitted")
merge_job=$(sed -n 's/.*merge_job=\([0-9]*\).*/\1/p' <<<"$submitted")
[[ -n $array_job && -n $merge_job ]] || verdict_fail "could not read the job ids from: $submitted"
log "array job $array_job, merge job $merge_job"

# 3. Wait for the merge job to end (it cannot start before the array has finished).
job_field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<" $1"; }
merge_state='' last=''
deadline=$((SECONDS + JOB_TIMEOUT))
while ((SECONDS < deadline)); do
    line=$(scontrol show job -o "$merge_job" 2>/dev/null || true)
    merge_state=$(job_field "$line" JobState)
    states=$(scontrol show job -o "$array_job" 2>/dev/null | while read -r l; do
        printf '%s=%s ' "$(job_field "$l" ArrayTaskId)" "$(job_field "$l" JobState)"; done)
    now="shards: ${states:-?}| merge: ${merge_state:-?} $(job_field "$line" Reason)"
    [[ $now != "$last" ]] && log "$now" && last=$now
    case $merge_state in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) break ;;
    esac
    sleep 1
done
elapsed=$((SECONDS - started))
case $merge_state in
    COMPLETED) ;;
    "" | PENDING | RUNNING | CONFIGURING | COMPLETING) verdict_fail "the merge job $merge_job is still ${merge_state:-unknown} after ${JOB_TIMEOUT}s" ;;
    *) verdict_fail "the merge job $merge_job ended $merge_state ($(job_field "$line" Reason))" ;;
esac

# Every shard task completed with exit code 0, and the merge started only after all of them ended.
merge_start=$(job_field "$line" StartTime)
tasks=0 last_end=
while read -r l; do
    [[ -n $l ]] || continue
    tasks=$((tasks + 1))
    id=$(job_field "$l" ArrayTaskId) state=$(job_field "$l" JobState) code=$(job_field "$l" ExitCode)
    [[ $state == COMPLETED && $code == 0:0 ]] || verdict_fail "shard task ${array_job}_$id ended $state with exit code $code"
    end=$(job_field "$l" EndTime)
    [[ -z $last_end || $end > $last_end ]] && last_end=$end
done < <(scontrol show job -o "$array_job")
((tasks == SHARDS)) || verdict_fail "array job $array_job has $tasks tasks, expected $SHARDS"
[[ ! $merge_start < $last_end ]] || verdict_fail "merge job started at $merge_start, before the last shard ended ($last_end): the afterok dependency did not hold"
[[ -f runs/demo-slurm/features.json ]] || verdict_fail "the merge job did not write runs/demo-slurm/features.json"
log "Slurm jobs done in ${elapsed}s: $SHARDS shard tasks COMPLETED 0:0 (last ended $last_end), merge started $merge_start, COMPLETED"

# 4. The same collection in one process, then compare.
log "collecting the same $SAMPLES samples in one process"
CORRSTEER_THREADS=1 "$BIN" collect --model "$DEMO/model" --sae "$DEMO/sae" --task custom --samples $SAMPLES \
    "${COLLECT_OPTIONS[@]}" --out runs/demo-single --quiet >&2 || verdict_fail "single-process collect failed"
"$BIN" select runs/demo-single >/dev/null || verdict_fail "corrsteer select on the single-process run failed"

if ! comparison=$("$ROOT/scripts/cluster/compare-runs.sh" --corrsteer "$BIN" runs/demo-single runs/demo-slurm); then
    echo "$comparison"
    verdict_fail "the merged Slurm run differs from the one-process run"
fi
echo "$comparison"
selected=$(sed -n 's/.*selected features (layer:feature): //p' <<<"$comparison")
largest=$(sed -n 's/.*largest relative difference \([^ ]*\).*tolerance.*/\1/p' <<<"$comparison" | head -1)
echo "slurm-e2e: PASS — $SHARDS-shard Slurm array (job $array_job) + afterok merge (job $merge_job) on $(hostname -s) equal a one-process collect of $SAMPLES samples: selected features ${selected% }, counts identical, sums within ${largest} relative"
((KEEP)) || { cd /; rm -rf "$WORK"; }
stop_cluster
exit 0
