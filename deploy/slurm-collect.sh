#!/usr/bin/env bash
# Sharded CorrSteer collection on a Slurm cluster: one array task per shard, then one merge job.
#
#   sbatch --array=0-7 deploy/slurm-collect.sh            # 8 shards
#   sbatch --dependency=afterok:<array job id> deploy/slurm-collect.sh merge
#
# Every shard writes its own run directory; `corrsteer merge` sums their statistics exactly.
#SBATCH --job-name=corrsteer-collect
#SBATCH --cpus-per-task=8
#SBATCH --mem=24G
#SBATCH --time=12:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

MODEL=${MODEL:-$HOME/models/gemma-2-2b-it}
SAE=${SAE:-$HOME/saes/gemma-scope-2b-pt-res}
DATA=${DATA:-$HOME/data}
TASK=${TASK:-mmlu}
SAMPLES=${SAMPLES:-4000}
SHARDS=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:-8}}
RUNS=${RUNS:-runs/$TASK}

export CORRSTEER_THREADS=${SLURM_CPUS_PER_TASK:-8}

if [[ "${1:-collect}" == "merge" ]]; then
    shards=()
    for ((i = 0; i < SHARDS; i++)); do shards+=("$RUNS-shard$i"); done
    corrsteer merge "${shards[@]}" --out "$RUNS"
    corrsteer select "$RUNS"
    corrsteer evaluate "$RUNS" --strategies S,A,P
    exit 0
fi

i=${SLURM_ARRAY_TASK_ID:?run as an array job (sbatch --array=0-N)}
# --resume makes a requeued or preempted task continue from its last checkpoint.
corrsteer collect --model "$MODEL" --sae "$SAE" --task "$TASK" --data "$DATA" \
    --samples "$SAMPLES" --shard "$i/$SHARDS" --out "$RUNS-shard$i" --resume --quiet
