#!/bin/sh
# One benchmark session for BENCHMARKS.md: corrsteer's figures and the PyTorch anchors, back to back on the
# same machine, each step's JSON lines appended to $OUT (default bench-session.jsonl). Load average and
# CPU are recorded first: figures from different sessions are compared as ratios only.
#
#   scripts/bench/session.sh [corrsteer binary] [steps...]
#   steps: ceilings model torch-model llama collect python-collect decode-pair torch-model-f32 kernels
#          torch-gemm (default: all, in this order)
# One run of the first seven steps is a "round" of BENCHMARKS.md (about 8 minutes on 2 cores). `llama`
# needs a llama.cpp build and a GGUF (see llama_cpp_anchor.sh). `decode-pair` measures decode at batch 1
# once more, PyTorch then corrsteer back to back: decode streams the weights, and this kind of VM's read
# bandwidth switches between regimes within minutes, so neighbours in time compare best.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-"$root/.build/release/corrsteer"}
[ $# -gt 0 ] && shift
steps=${*:-"ceilings model torch-model llama collect python-collect decode-pair torch-model-f32 kernels torch-gemm"}
out=${OUT:-bench-session.jsonl}
note() { printf '{"note": "%s", "time": "%s", "load": "%s"}\n' "$1" "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"; }

note "session start on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs"
for step in $steps; do
    note "begin $step"
    case $step in
    kernels)
        "$root/scripts/bench/kernel_bench.sh" --ops exact,gemm --m 1,8,128,512 | sed "s/^/# /" >> "$out"
        "$root/scripts/bench/kernel_bench.sh" --path avx512bf16 --ops fast --m 1,8,128,512 | sed "s/^/# /" >> "$out" || true
        "$root/scripts/bench/kernel_bench.sh" --threads 1 --ops sgemm --m 1,8,128,512 | sed "s/^/# default core /" >> "$out"
        OPENBLAS_CORETYPE=SkylakeX "$root/scripts/bench/kernel_bench.sh" --ops sgemm --m 1,8,128,512 \
            | sed 's/^/# SkylakeX /' >> "$out" ;;
    ceilings) "$bin" bench ceilings --json >> "$out" ;;
    llama) REPS=${REPS:-3} "$root/scripts/bench/llama_cpp_anchor.sh" >> "$out" ;;
    decode-pair)
        (cd "$root/scripts/bench" && python3 torch_anchors.py model --shape gemma-2-2b --prompt 128 --batch 1) >> "$out"
        "$bin" bench --shape gemma-2-2b --prompt 128 --batch-size 1 --json --no-ceilings >> "$out" ;;
    torch-gemm) (cd "$root/scripts/bench" && python3 torch_anchors.py gemm) >> "$out" ;;
    model) "$bin" bench --shape gemma-2-2b --prompt 128,512 --batch-size 1,8 --json >> "$out" ;;
    torch-model) (cd "$root/scripts/bench" && python3 torch_anchors.py model --shape gemma-2-2b) >> "$out" ;;
    torch-model-f32) (cd "$root/scripts/bench" && python3 torch_anchors.py model --shape gemma-2-2b --dtype float32) >> "$out" ;;
    collect) "$bin" bench collect --shape gemma-2-2b --samples 64 --batch-size 8 --json >> "$out" ;;
    python-collect) (cd "$root/scripts/bench" && python3 python_reference_collect.py --shape gemma-2-2b --samples 64 --batch 8) >> "$out" ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
    esac
    note "end $step"
done
