#!/bin/sh
# Builds scripts/bench/kernel_bench.c against the CKernels sources with the package's C flags and runs it.
# Usage: scripts/bench/kernel_bench.sh [kernel_bench arguments...]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${TMPDIR:-/tmp}/corrsteer-kernel-bench
cc=${CC:-clang}
extra=""
if [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ]; then
    extra="-DWITH_OPENBLAS -I/usr/include/x86_64-linux-gnu -lopenblas"
fi
$cc -O3 -ffast-math -fno-finite-math-only -I"$root/Sources/CKernels/include" \
    "$root/scripts/bench/kernel_bench.c" "$root"/Sources/CKernels/*.c -o "$out" -lpthread -lm $extra
exec "$out" "$@"
