#!/usr/bin/env bash
# The long libFuzzer pass (issue 21: at least 10^5 inputs per format), every format in turn.
#
#   scripts/fuzz/long-pass.sh [INPUTS_PER_FORMAT] [SECONDS_PER_ROUND] [FORMAT…]
#
# Each format runs in libFuzzer's fork mode, which keeps going after a crash, out-of-memory or timeout
# (each is saved under .build-fuzz/findings/FORMAT/), in rounds of SECONDS_PER_ROUND (default 60)
# until it has executed INPUTS_PER_FORMAT inputs (default 100000). Prints one line per format.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:-100000}
round=${2:-60}
shift $(( $# >= 2 ? 2 : $# ))
formats=("$@")
[ ${#formats[@]} -gt 0 ] || mapfile -t formats < <(scripts/fuzz/libfuzzer.sh list)

summary=()
for format in "${formats[@]}"; do
    total=0 seconds=0
    while [ "$total" -lt "$target" ]; do
        line=$(scripts/fuzz/libfuzzer.sh "$format" "$round" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 2>/dev/null | tail -1) || true
        execs=$(grep -oE '^#[0-9]+' ".build-fuzz/last-$format.log" | tail -1 | tr -d '#')
        total=$(( total + ${execs:-0} )) seconds=$(( seconds + round ))
        [ "${execs:-0}" -gt 0 ] || { echo "$format: no progress: $line" >&2; break; }
    done
    crashes=$(grep -oE 'oom/timeout/crash: [0-9]+/[0-9]+/[0-9]+' ".build-fuzz/last-$format.log" | tail -1 || true)
    summary+=("$(printf '%-20s %9d inputs in %4d s  findings saved: %3d  (last round %s)' "$format" "$total" "$seconds" \
        "$(ls ".build-fuzz/findings/$format" 2>/dev/null | wc -l)" "${crashes:-oom/timeout/crash: 0/0/0}")")
    echo "${summary[-1]}"
done
printf '\n%s\n' "${summary[@]}"
