#!/bin/sh
# Encoding 64 rows through a 2304 x 16384 JumpReLU encoder vs the plain f32 GEMM of that shape, both
# timed alternately in the same process (random weights in memory; also an encoder viewed at an odd
# byte offset, as a stored params.npz member is). Usage: scripts/bench/sae_encode.sh [corrsteer] [rows]
exec "${1:-.build/release/corrsteer}" bench sae-encode --rows "${2:-64}"
