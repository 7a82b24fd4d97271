#!/bin/sh
# Builds scripts/bench/machine_ceilings.c and runs it, waiting before each run until the machine is
# quiet (1-minute load average below 0.6, polled every 20 s for at most 15 minutes).
# Usage: scripts/bench/machine_ceilings.sh [runs]   (default 2; one JSON line per figure on stdout)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${TMPDIR:-/tmp}/corrsteer-machine-ceilings
${CC:-clang} -O2 -Wall -o "$out" "$root/scripts/bench/machine_ceilings.c" -lpthread

wait_until_quiet() {
    waited=0
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        if awk -v l="$load" 'BEGIN { exit !(l < 0.6) }'; then
            echo "{\"quiet\":true,\"loadavg_1min\":$load,\"waited_s\":$waited}"
            return
        fi
        if [ "$waited" -ge 900 ]; then
            echo "{\"quiet\":false,\"loadavg_1min\":$load,\"waited_s\":$waited,\"note\":\"never below 0.6; measured anyway\"}"
            return
        fi
        sleep 20
        waited=$((waited + 20))
    done
}

runs=${1:-2}
run=1
while [ "$run" -le "$runs" ]; do
    echo "{\"run\":$run,\"started\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
    wait_until_quiet
    "$out"
    echo "{\"run\":$run,\"loadavg_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
    run=$((run + 1))
done
