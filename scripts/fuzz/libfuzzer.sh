#!/usr/bin/env bash
# In-process libFuzzer run of one byte parser (scripts/fuzz/README.md).
#
#   scripts/fuzz/libfuzzer.sh FORMAT [SECONDS] [extra libFuzzer flags…]
#   scripts/fuzz/libfuzzer.sh list
#
# Builds corrsteer-fuzz-parsers with -sanitize=fuzzer into .build-fuzz (its own scratch path, so the
# ordinary .build stays uninstrumented), seeds .build-fuzz/corpus/FORMAT from the repository's files
# of that format, and fuzzes for SECONDS (default 60). Crash, leak, timeout and out-of-memory inputs
# land in .build-fuzz/findings/FORMAT/; replay one with the ordinary build:
#   CORRSTEER_FUZZ_FORMAT=FORMAT .build/release/corrsteer-fuzz-parsers FILE
# SANITIZE=address adds AddressSanitizer (slower; catches out-of-bounds reads that do not fault).
set -euo pipefail
cd "$(dirname "$0")/../.."
format=${1:?usage: scripts/fuzz/libfuzzer.sh FORMAT [SECONDS] [libFuzzer flags…] (or: list)}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))

# The ordinary (replay) build knows the formats and their seed files (FuzzTarget.seeds).
[ -x .build/release/corrsteer-fuzz-parsers ] || swift build -c release --product corrsteer-fuzz-parsers >&2
if [ "$format" = list ]; then
    CORRSTEER_FUZZ_FORMAT= .build/release/corrsteer-fuzz-parsers 2>&1 | sed 's/.*one of //' | tr '|' '\n'
    exit 0
fi

sanitizers="fuzzer${SANITIZE:+,$SANITIZE}"
scratch=".build-fuzz${SANITIZE:+-$SANITIZE}"
swift build -c release --scratch-path "$scratch" -Xswiftc "-sanitize=$sanitizers" -Xswiftc -DLIBFUZZER \
    --product corrsteer-fuzz-parsers >&2
fuzzer="$scratch/release/corrsteer-fuzz-parsers"

corpus="$scratch/corpus/$format"
findings="$scratch/findings/$format"
mkdir -p "$corpus" "$findings"
if [ -z "$(ls -A "$corpus")" ]; then
    CORRSTEER_FUZZ_FORMAT="$format" .build/release/corrsteer-fuzz-parsers --seeds | while read -r seed; do
        find "$seed" -type f -size -1M | while read -r file; do
            cp "$file" "$corpus/$(printf '%s' "$file" | tr '/' '_')"
        done
    done
fi

# -max_len: the largest seed, at least 4 KiB; rss/malloc limits make a huge allocation a finding.
max_len=$(find "$corpus" -type f -printf '%s\n' | sort -n | tail -1)
max_len=$(( ${max_len:-0} > 4096 ? max_len : 4096 ))
export CORRSTEER_FUZZ_FORMAT="$format" CORRSTEER_FUZZ_REPO="$PWD" CORRSTEER_THREADS=1 OPENBLAS_NUM_THREADS=1
set +e
"$fuzzer" "$corpus" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=4096 \
    -artifact_prefix="$findings/" -print_final_stats=1 "$@" 2>&1 | tee "$scratch/last-$format.log" | grep -E '^(#[0-9]+ +DONE|==[0-9]+==|SUMMARY|stat::number_of_executed_units|stat::average_exec_per_sec|artifact_prefix|Test unit written|.*Fatal error|INFO: seed corpus)'
status=${PIPESTATUS[0]}
set -e
echo "format $format: exit $status; full log $scratch/last-$format.log; findings in $findings/"
exit "$status"
