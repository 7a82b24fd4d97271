#!/bin/sh
# llama.cpp anchor for BENCHMARKS.md -- a reference point measured by hand, NOT part of CI and not
# product code. Runs llama.cpp's own benchmark tools on a bf16 GGUF of a Gemma-2-2B-shaped model and
# prints one JSON object per line, in the same spirit as torch_anchors.py.
#
#   scripts/bench/llama_cpp_anchor.sh [LLAMA_CPP_BUILD_DIR [GGUF]]
#
#   LLAMA_CPP_BUILD_DIR  an existing llama.cpp CMake build dir containing bin/llama-bench (and, for the
#                        optional batch-8 decode figure, bin/llama-batched-bench); also env
#                        LLAMA_CPP_BUILD; default /work/llama.cpp/build
#   GGUF                 the bf16 model; also env GGUF; default /work/anchors/gemma-2-2b-random-bf16.gguf
#
# Neither llama.cpp nor the GGUF lives in this repository: the anchor expects both to exist already
# (the GGUF was made from random weights with the shape of CONFIGS["gemma-2-2b"] in torch_anchors.py).
#
# Env knobs (defaults are the real measurement; shrink them only for a smoke test):
#   THREADS=2  PROMPT=512  GEN=64  REPS=5  FA=0 (llama.cpp flash attention off/on)
#   BATCH_NPL=8   parallel sequences for llama-batched-bench decode (e.g. "1,8"; empty = skip it)
#   BATCH_PROMPT=128  per-sequence prompt before batched decode
#
# Output lines:
#   {"engine":"llama.cpp <commit>","metric":"prefill","prompt":512,"tok_s":...}   llama-bench -p PROMPT -n 0
#   {"engine":...,"metric":"decode","batch":1,"prompt":0,"tok_s":...}              llama-bench -p 0 -n GEN
#   {"engine":...,"metric":"decode","batch":8,"prompt":128,"tok_s":...}            llama-batched-bench
#   {"host":...,"cpu":...,"loadavg_before":...,"loadavg_after":...}
# llama-bench figures are the mean over REPS runs (after one warm-up) with their stddev; the
# llama-batched-bench figure is a single run after its own warm-up. Run on a quiet machine and keep the
# load averages with the figures.
set -eu

BUILD=${1:-${LLAMA_CPP_BUILD:-/work/llama.cpp/build}}
GGUF=${2:-${GGUF:-/work/anchors/gemma-2-2b-random-bf16.gguf}}
THREADS=${THREADS:-2}
PROMPT=${PROMPT:-512}
GEN=${GEN:-64}
REPS=${REPS:-5}
FA=${FA:-0}
BATCH_NPL=${BATCH_NPL-8}
BATCH_PROMPT=${BATCH_PROMPT:-128}

BENCH="$BUILD/bin/llama-bench"
BATCHED="$BUILD/bin/llama-batched-bench"
[ -x "$BENCH" ] || { echo "no llama-bench at $BENCH" >&2; exit 1; }
[ -f "$GGUF" ] || { echo "no GGUF at $GGUF" >&2; exit 1; }

loadavg() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo null; }
cpu_model() { sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1; }

LOAD_BEFORE=$(loadavg)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

"$BENCH" -m "$GGUF" -t "$THREADS" -fa "$FA" -r "$REPS" -p "$PROMPT" -n 0 -o jsonl >"$TMP/prefill.jsonl" 2>"$TMP/prefill.err" ||
    { cat "$TMP/prefill.err" >&2; exit 1; }
"$BENCH" -m "$GGUF" -t "$THREADS" -fa "$FA" -r "$REPS" -p 0 -n "$GEN" -o jsonl >"$TMP/decode.jsonl" 2>"$TMP/decode.err" ||
    { cat "$TMP/decode.err" >&2; exit 1; }

: >"$TMP/batched.jsonl"
if [ -n "$BATCH_NPL" ]; then
    if [ -x "$BATCHED" ]; then
        MAXPL=$(echo "$BATCH_NPL" | tr ',' '\n' | sort -n | tail -n 1)
        CTX=$((MAXPL * (BATCH_PROMPT + GEN) + 16))
        FAFLAG=  # llama-batched-bench takes -fa as a switch, llama-bench as -fa 0|1
        [ "$FA" = 1 ] && FAFLAG=-fa
        # shellcheck disable=SC2086
        "$BATCHED" -m "$GGUF" -t "$THREADS" $FAFLAG -c "$CTX" -b 2048 -ub 512 \
            -npp "$BATCH_PROMPT" -ntg "$GEN" -npl "$BATCH_NPL" --output-format jsonl \
            >"$TMP/batched.out" 2>"$TMP/batched.err" || { cat "$TMP/batched.err" >&2; exit 1; }
        grep '^{"n_kv_max"' "$TMP/batched.out" >"$TMP/batched.jsonl" || true
    else
        echo "no llama-batched-bench at $BATCHED; skipping batched decode" >&2
    fi
fi
LOAD_AFTER=$(loadavg)

python3 - "$TMP" "$GGUF" "$LOAD_BEFORE" "$LOAD_AFTER" "$(cpu_model)" "$(uname -n)" <<'EOF'
import json, os, sys
tmp, gguf, load_before, load_after, cpu, host = sys.argv[1:7]

def rows(name):
    with open(os.path.join(tmp, name)) as fh:
        return [json.loads(line) for line in fh if line.strip().startswith("{")]

bench = rows("prefill.jsonl") + rows("decode.jsonl")
if not bench:
    sys.exit("llama-bench printed no results")
first = bench[0]
engine = f"llama.cpp {first['build_commit']} (b{first['build_number']})"
common = dict(engine=engine, model=os.path.basename(gguf), type=first.get("model_type"),
              threads=first.get("n_threads"), flash_attn=first.get("flash_attn"))
for r in bench:
    if r["n_gen"] == 0:
        out = dict(metric="prefill", prompt=r["n_prompt"])
    else:
        out = dict(metric="decode", batch=1, prompt=r["n_prompt"], gen=r["n_gen"])
    print(json.dumps(dict(common, **out, tok_s=round(r["avg_ts"], 2), stddev=round(r["stddev_ts"], 2),
                          reps=len(r.get("samples_ts", [])), tool="llama-bench")))
for r in rows("batched.jsonl"):
    print(json.dumps(dict(common, metric="decode", batch=r["pl"], prompt=r["pp"], gen=r["tg"],
                          tok_s=round(r["speed_tg"], 2), prefill_tok_s=round(r["speed_pp"], 2),
                          reps=1, tool="llama-batched-bench")))
print(json.dumps(dict(host=host, cpu=cpu or first.get("cpu_info"),
                      loadavg_before=float(load_before) if load_before != "null" else None,
                      loadavg_after=float(load_after) if load_after != "null" else None)))
EOF
