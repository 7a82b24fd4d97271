#!/bin/sh
# Builds scripts/bench/kernel_bench.c against the CKernels sources with the flags SwiftPM's release builds
# give C targets (-O2; the package adds none) and runs it, so it measures the kernels that ship.
# Usage: scripts/bench/kernel_bench.sh [kernel_bench arguments...]
# OpenBLAS is linked only when the arguments ask for the sgemm op: its idle worker threads spin for
# seconds and would steal a core from the other measurements.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${TMPDIR:-/tmp}/corrsteer-kernel-bench
cc=${CC:-clang}
extra=""
case " $* " in
*sgemm*) extra="-DWITH_OPENBLAS -I/usr/include/x86_64-linux-gnu -lopenblas"; out="$out-openblas" ;;
esac
$cc -O2 -I"$root/Sources/CKernels/include" \
    "$root/scripts/bench/kernel_bench.c" "$root"/Sources/CKernels/*.c -o "$out" -lpthread -lm $extra
exec "$out" "$@"
