#!/usr/bin/env python3
"""Resident memory of an encoder-only load of a Gemma-Scope-shaped 16k SAE set.

Writes LAYERS random `layer_L/width_16k/average_l0_X/params.npz` files (2304 x 16384 f32 encoder and
decoder, ~302 MB each; ~7.9 GB for 26 layers) into a temporary folder, runs
`corrsteer sae-info --sae DIR --measure-memory` on it (load every SAE encoder-only, encode 8 rows through
each, report RSS split into anonymous and file-backed pages), and deletes the folder.

    python3 scripts/bench/sae_memory.py [--corrsteer .build/release/corrsteer] [--layers 26] [--compressed]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

CANONICAL_16K = [105, 102, 141, 59, 124, 68, 70, 69, 71, 73, 77, 80, 82, 84, 84, 78, 78, 77, 74, 73, 71, 70, 72, 75, 73, 116]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corrsteer", default=".build/release/corrsteer")
    parser.add_argument("--layers", type=int, default=26)
    parser.add_argument("--compressed", action="store_true", help="write with numpy.savez_compressed")
    parser.add_argument("--keep", help="write into this folder and keep it")
    args = parser.parse_args()

    root = args.keep or tempfile.mkdtemp(prefix="gemma-scope-shaped-")
    rng = np.random.default_rng(0)
    d_in, d_sae = 2304, 16384
    try:
        for layer in range(args.layers):
            folder = os.path.join(root, f"layer_{layer}", "width_16k", f"average_l0_{CANONICAL_16K[layer]}")
            path = os.path.join(folder, "params.npz")
            if os.path.exists(path):
                continue
            os.makedirs(folder, exist_ok=True)
            arrays = {
                "W_enc": rng.standard_normal((d_in, d_sae), dtype=np.float32) * 0.02,
                "W_dec": rng.standard_normal((d_sae, d_in), dtype=np.float32) * 0.02,
                "b_enc": rng.standard_normal(d_sae, dtype=np.float32) * 0.1,
                "b_dec": rng.standard_normal(d_in, dtype=np.float32) * 0.1,
                "threshold": rng.uniform(0.05, 0.3, d_sae).astype(np.float32),
            }
            (np.savez_compressed if args.compressed else np.savez)(path, **arrays)
            print(f"wrote {path}", file=sys.stderr)
        total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        print(f"{args.layers} SAEs, {total / 1e9:.2f} GB of params.npz ({'deflated' if args.compressed else 'stored'})")
        sys.stdout.flush()
        subprocess.run([args.corrsteer, "sae-info", "--sae", root, "--measure-memory"], check=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
