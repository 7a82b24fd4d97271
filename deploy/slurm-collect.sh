#!/usr/bin/env bash
# Sharded CorrSteer collection on a Slurm cluster: a job array with one task per shard
# (`corrsteer collect --shard i/N`), then one merge job that starts only when every shard succeeded
# (afterok) and sums their statistics (`corrsteer merge`), then selects and evaluates.
#
# Submit from a login node, in the folder that should hold runs/ and logs/ (a shared filesystem):
#
#   SHARDS=8 MODEL=~/models/gemma-2-2b-it SAE=~/saes/gemma-scope-2b-pt-res DATA=~/data TASK=mmlu \
#       deploy/slurm-collect.sh [submit] [-- EXTRA COLLECT OPTIONS]
#
# It prints `array_job=<id> merge_job=<id>`. Shard i collects into $RUNS-shard$i (with --resume, so a
# requeued or preempted task continues from its last checkpoint); the merge job writes $RUNS.
# Follow with `squeue -u $USER` and the logs in $LOGS. If a shard fails, the merge job is cancelled
# (--kill-on-invalid-dep); resubmit the same command: finished shards return at once, the others resume.
#
# Settings (environment variables; the values at submission are frozen into $LOGS/<job>-<time>.env,
# which the jobs read, so they do not depend on the cluster's --export policy):
#   CORRSTEER      corrsteer binary                       (default: `corrsteer` on PATH)
#   MODEL          model folder or Hugging Face id        (default: $HOME/models/gemma-2-2b-it)
#   SAE            SAE folder; empty with COLLECT_ARGS=--raw (default: $HOME/saes/gemma-scope-2b-pt-res)
#   DATA           data folder; empty to omit --data      (default: $HOME/data)
#   TASK           task name                               (default: mmlu)
#   SAMPLES        training samples over all shards        (default: 4000)
#   SHARDS         number of shards = array tasks          (default: 8)
#   RUNS           merged run directory                    (default: runs/$TASK)
#   LOGS           folder for job logs and the .env file   (default: logs)
#   COLLECT_ARGS   more `corrsteer collect` options, e.g. "--pool mean --batch-size 4" (also after --)
#   AFTER_MERGE    steps on the merged run: any of select, evaluate, report (default: "select evaluate")
#   SELECT_ARGS    options of `corrsteer select`           (default: none)
#   EVALUATE_ARGS  options of `corrsteer evaluate`         (default: --strategies S,A,P)
#   THREADS        CORRSTEER_THREADS in the jobs           (default: the job's --cpus-per-task)
#   JOB_NAME       Slurm job name                          (default: corrsteer-$TASK)
#   JOB_OPTIONS    sbatch options for both jobs, e.g. "--partition=cpu --account=lab --mem=32G"
#                  (they override the #SBATCH lines below)
#   MERGE_JOB_OPTIONS  sbatch options for the merge job only
#   MAX_PARALLEL   run at most this many shards at once (--array=0-(N-1)%MAX_PARALLEL)
#   SHARD_WAIT     seconds the merge job waits for every shard's stats/complete to be visible
#                  (shared filesystems may show another node's files late; default 300)
#
# By hand, without the submit step (settings then come from the environment, --export=ALL):
#   mkdir -p logs
#   jid=$(sbatch --parsable --array=0-7 deploy/slurm-collect.sh collect); jid=${jid%%;*}
#   sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes --output=logs/%x-%j.out deploy/slurm-collect.sh merge
# (SHARDS must equal the array size; the array must be 0-based: task i collects shard i.)
#
# Every shard writes its own run directory; `corrsteer merge` sums their statistics exactly (equal to
# a one-process collection up to float64 addition order). Checked on a real single-node Slurm cluster
# by scripts/cluster/slurm-e2e.sh; see docs/scale-out.md.
#SBATCH --job-name=corrsteer-collect
#SBATCH --cpus-per-task=8
#SBATCH --mem=24G
#SBATCH --time=12:00:00
#SBATCH --open-mode=append
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

say() { echo "slurm-collect: $*" >&2; }
die() { say "error: $*"; exit 1; }
absolute() { if [[ $1 == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$PWD/$1"; fi; }

mode=${1:-}
if [[ $mode == -- ]]; then mode=submit; set -- submit "$@"; fi
if [[ -z $mode ]]; then
    if [[ -n ${SLURM_ARRAY_TASK_ID:-} ]]; then mode=collect
    elif [[ -n ${SLURM_JOB_ID:-} ]]; then die "inside a job that is not an array task: pass 'collect' or 'merge'"
    else mode=submit; fi
fi
(($# > 0)) && shift

# Jobs started by the submit step get the frozen settings as their second argument.
if [[ $mode != submit && $# -gt 0 && -f $1 ]]; then
    # shellcheck disable=SC1090
    source "$1"
    shift
fi

CORRSTEER=${CORRSTEER:-$(command -v corrsteer || true)}
MODEL=${MODEL-$HOME/models/gemma-2-2b-it}
SAE=${SAE-$HOME/saes/gemma-scope-2b-pt-res}
DATA=${DATA-$HOME/data}
TASK=${TASK:-mmlu}
SAMPLES=${SAMPLES:-4000}
SHARDS=${SHARDS:-8}
RUNS=${RUNS:-runs/$TASK}
LOGS=${LOGS:-logs}
AFTER_MERGE=${AFTER_MERGE-select evaluate}
SELECT_ARGS=${SELECT_ARGS:-}
EVALUATE_ARGS=${EVALUATE_ARGS---strategies S,A,P}
JOB_NAME=${JOB_NAME:-corrsteer-$TASK}
SHARD_WAIT=${SHARD_WAIT:-300}
if ! declare -p COLLECT_EXTRA >/dev/null 2>&1; then
    # shellcheck disable=SC2206  # word splitting of COLLECT_ARGS is intended
    COLLECT_EXTRA=(${COLLECT_ARGS:-})
fi

[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "SHARDS='$SHARDS': expected a positive integer"
[[ -n $CORRSTEER && -x $CORRSTEER ]] || die "no corrsteer binary: put it on PATH or set CORRSTEER=/path/to/corrsteer"

submit() {
    [[ ${1:-} == -- ]] && shift
    COLLECT_EXTRA+=("$@")
    command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"
    # Paths become absolute so that the jobs find them whatever their working directory.
    CORRSTEER=$(absolute "$CORRSTEER")
    [[ -e $MODEL ]] && MODEL=$(absolute "$MODEL")
    [[ -n $SAE && -e $SAE ]] && SAE=$(absolute "$SAE")
    [[ -n $DATA && -e $DATA ]] && DATA=$(absolute "$DATA")
    RUNS=$(absolute "$RUNS")
    LOGS=$(absolute "$LOGS")
    if [[ -e $RUNS/manifest.json ]]; then die "$RUNS already holds a run; choose another RUNS"; fi
    mkdir -p "$LOGS" "$(dirname "$RUNS")"
    local self env array_id merge_id array
    self=$(absolute "${BASH_SOURCE[0]}")
    env="$LOGS/$JOB_NAME-$(date +%Y%m%d-%H%M%S)-$$.env"
    {
        echo "# Settings of one deploy/slurm-collect.sh submission (sourced by its jobs)."
        declare -p CORRSTEER MODEL SAE DATA TASK SAMPLES SHARDS RUNS LOGS AFTER_MERGE SELECT_ARGS \
            EVALUATE_ARGS JOB_NAME SHARD_WAIT COLLECT_EXTRA
        [[ -n ${THREADS:-} ]] && declare -p THREADS
        true
    } >"$env"
    local options=()
    # shellcheck disable=SC2206
    options=(--chdir="$PWD" --job-name="$JOB_NAME" ${JOB_OPTIONS:-})
    array="0-$((SHARDS - 1))${MAX_PARALLEL:+%$MAX_PARALLEL}"
    array_id=$(sbatch --parsable "${options[@]}" --array="$array" --output="$LOGS/%x-%A_%a.out" \
        "$self" collect "$env") || die "sbatch of the collection array failed"
    array_id=${array_id%%;*}  # --parsable prints id[;cluster]
    # shellcheck disable=SC2086
    merge_id=$(sbatch --parsable "${options[@]}" --job-name="$JOB_NAME-merge" \
        --dependency="afterok:$array_id" --kill-on-invalid-dep=yes --output="$LOGS/%x-%j.out" \
        ${MERGE_JOB_OPTIONS:-} "$self" merge "$env") || {
        scancel "$array_id" || true
        die "sbatch of the merge job failed; cancelled array job $array_id"
    }
    merge_id=${merge_id%%;*}
    say "array job $array_id: $SHARDS shards → $RUNS-shard{0..$((SHARDS - 1))}; merge job $merge_id (afterok:$array_id) → $RUNS; logs in $LOGS"
    echo "array_job=$array_id merge_job=$merge_id"
}

collect() {
    local i=${SLURM_ARRAY_TASK_ID:?run as an array job (sbatch --array=0-$((SHARDS - 1)))}
    if ((i < 0 || i >= SHARDS)); then
        die "array task $i is outside 0..$((SHARDS - 1)): submit with --array=0-$((SHARDS - 1)) (or set SHARDS)"
    fi
    if [[ -n ${SLURM_ARRAY_TASK_COUNT:-} && $SLURM_ARRAY_TASK_COUNT != "$SHARDS" ]]; then
        die "the array has $SLURM_ARRAY_TASK_COUNT tasks but SHARDS=$SHARDS: set SHARDS to the array size (the merge job needs it too)"
    fi
    export CORRSTEER_THREADS=${THREADS:-${SLURM_CPUS_PER_TASK:-8}}
    local out="$RUNS-shard$i" args=(--model "$MODEL" --task "$TASK")
    [[ -n $SAE ]] && args+=(--sae "$SAE")
    [[ -n $DATA ]] && args+=(--data "$DATA")
    say "shard $i/$SHARDS on $(hostname -s) (job ${SLURM_ARRAY_JOB_ID:-?}_$i, $CORRSTEER_THREADS threads) → $out"
    # --resume: a requeued or preempted task continues from its last checkpoint; a finished one returns.
    "$CORRSTEER" collect "${args[@]}" --samples "$SAMPLES" "${COLLECT_EXTRA[@]}" \
        --shard "$i/$SHARDS" --out "$out" --resume --quiet
    [[ -f $out/stats/complete ]] || die "$out: collect exited without writing stats/complete"
}

merge() {
    export CORRSTEER_THREADS=${THREADS:-${SLURM_CPUS_PER_TASK:-8}}
    local shards=() missing=() i deadline=$((SECONDS + SHARD_WAIT))
    for ((i = 0; i < SHARDS; i++)); do shards+=("$RUNS-shard$i"); done
    # afterok means every task exited 0; on a shared filesystem their last files may appear late here.
    while :; do
        missing=()
        for i in "${shards[@]}"; do [[ -f $i/stats/complete ]] || missing+=("$i"); done
        ((${#missing[@]} == 0 || SECONDS >= deadline)) && break
        sleep 5
    done
    ((${#missing[@]} == 0)) || die "no stats/complete after ${SHARD_WAIT}s in: ${missing[*]}"
    if [[ -f $RUNS/stats/complete && -f $RUNS/manifest.json ]]; then
        say "$RUNS is already merged (requeued job?); not merging again"
    else
        [[ -e $RUNS ]] && die "$RUNS exists but is not a finished merge; move it away"
        # Merge into a temporary folder and rename, so a killed merge job leaves no half run at $RUNS.
        local tmp="$RUNS.merging-${SLURM_JOB_ID:-$$}"
        rm -rf "$tmp"
        "$CORRSTEER" merge "${shards[@]}" --out "$tmp"
        mv -T "$tmp" "$RUNS"
        say "merged ${#shards[@]} shards → $RUNS"
    fi
    local step
    for step in $AFTER_MERGE; do
        # shellcheck disable=SC2086
        case $step in
            select) "$CORRSTEER" select "$RUNS" $SELECT_ARGS ;;
            evaluate) "$CORRSTEER" evaluate "$RUNS" $EVALUATE_ARGS ;;
            report) "$CORRSTEER" report "$RUNS" ;;
            *) die "AFTER_MERGE: unknown step '$step' (expected select, evaluate, report)" ;;
        esac
    done
}

case $mode in
    submit) submit "$@" ;;
    collect) collect ;;
    merge) merge ;;
    *) die "usage: $0 [submit [-- collect options] | collect | merge]" ;;
esac
