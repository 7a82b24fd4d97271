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
# libFuzzer stops at the first crash; for a long pass that keeps going and counts every input, add
#   -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1
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
# One run per build folder: runs share its corpus and log files (long-pass.sh counts from the log).
mkdir -p "$scratch"
exec 9>"$scratch/.fuzz-lock"
flock -n 9 || { echo "another libfuzzer.sh run is using $scratch" >&2; exit 1; }
swift build -c release --scratch-path "$scratch" -Xswiftc "-sanitize=$sanitizers" -Xswiftc -DLIBFUZZER \
    --product corrsteer-fuzz-parsers >&2
fuzzer="$scratch/release/corrsteer-fuzz-parsers"

corpus="$scratch/corpus/$format"
findings="$scratch/findings/$format"
mkdir -p "$corpus" "$findings"
if [ -z "$(ls -A "$corpus")" ]; then
    CORRSTEER_FUZZ_FORMAT="$format" .build/release/corrsteer-fuzz-parsers --seeds | while read -r seed; do
        find "$seed" -type f -size -1048576c | while read -r file; do
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
    -dict=scripts/fuzz/interesting.dict -artifact_prefix="$findings/" -print_final_stats=1 "$@" > "$scratch/last-$format.log" 2>&1
status=$?
set -e
# Executions: the last status line ("#N …", also in -fork mode) or the final statistics.
log="$scratch/last-$format.log"
grep -E '^INFO: seed corpus|^==[0-9]+== ERROR|^SUMMARY|Test unit written|Fatal error' "$log" | sort | uniq -c | sort -rn | head -20 || true
execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
echo "format $format: ${execs:-0} inputs in ${seconds} s, exit $status; $(ls "$findings" | wc -l) finding(s) in $findings/; log $log"
exit "$status"
