#!/usr/bin/env python3
"""Checks a collection's streaming statistics against a float64 numpy computation.

    corrsteer collect ... --out RUN --dump-pooled POOLED.safetensors
    corrsteer select RUN
    python3 scripts/checks/check_collection_statistics.py RUN POOLED.safetensors

The dump holds every sample's pooled activations (`pooled.L`, [N, D] f32) and rewards (`rewards`, [N]
f64). From them this script recomputes, in float64 with numpy, every sum and count of method §4.1, the
Pearson r of §4.2 and the default selection of §5.1 (largest positive r per layer, coefficient = mean
over correct samples), and compares them with the run's stats/ and features.json. Only valid when
--pool and --steer-pool are the same (the dump holds the correlation view).
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file

REL = 1e-9


def close(name, ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.maximum(np.abs(ref), np.abs(ours))
    bad = np.abs(ours - ref) > REL * np.maximum(scale, 1e-300)
    if bad.any():
        i = int(np.argmax(bad))
        raise SystemExit(f"{name}: {bad.sum()} values differ, first at {i}: ours {ours.flat[i]!r} numpy {ref.flat[i]!r}")


def pearson(x, y):
    n = len(y)
    my, mx = y.mean(), x.mean(0)
    vy = (y * y).sum() / n - my * my
    vx = (x * x).sum(0) / n - mx * mx
    cov = (x * y[:, None]).sum(0) / n - mx * my
    den = np.sqrt(np.maximum(vx, 1e-12) * max(vy, 1e-12))
    r = np.where(den > 0, cov / den, 0.0)
    r[(x > 0).sum(0) == 0] = 0.0
    return r


def main(run, dump_path):
    dump = load_file(dump_path)
    y = dump["rewards"].astype(np.float64)
    checkpoint = json.load(open(os.path.join(run, "stats", "checkpoint.json")))
    features = json.load(open(os.path.join(run, "features.json")))
    selected = {entry["layer"]: entry.get("selected") for entry in features["layers"]}
    success = y > 0
    for layer in checkpoint["layers"]:
        stats = load_file(os.path.join(run, "stats", checkpoint["folder"], f"layer_{layer}.safetensors"))
        x = dump[f"pooled.{layer}"].astype(np.float64)
        assert x.shape[0] == len(y), "dump rows and rewards differ"
        active = x > 0
        close(f"L{layer} sum_x", stats["sum_x"], x.sum(0))
        close(f"L{layer} sum_xx", stats["sum_xx"], (x * x).sum(0))
        close(f"L{layer} sum_xy", stats["sum_xy"], (x * y[:, None]).sum(0))
        close(f"L{layer} sum_x_success", stats["sum_x_success"], x[success].sum(0))
        close(f"L{layer} sum_xx_success", stats["sum_xx_success"], (x[success] ** 2).sum(0))
        close(f"L{layer} sum_x_failure", stats["sum_x_failure"], x[~success].sum(0))
        close(f"L{layer} sum_xx_failure", stats["sum_xx_failure"], (x[~success] ** 2).sum(0))
        for name, ref in [("count_active", active.sum(0)), ("count_active_correct", active[success].sum(0)),
                          ("count_active_incorrect", active[~success].sum(0))]:
            if not np.array_equal(stats[name], ref):
                raise SystemExit(f"L{layer} {name} differs")
        r = pearson(x, y)
        candidates = np.where(r > 0)[0]
        pick = selected[layer]
        if len(candidates) == 0:
            assert pick is None, f"L{layer}: numpy finds no positive r but features.json selects {pick}"
            continue
        best = int(candidates[np.argmax(r[candidates])])
        coefficient = x[success, best].sum() / max(success.sum(), 1)
        if pick["feature"] != best:
            raise SystemExit(f"L{layer}: selected feature {pick['feature']} but numpy's largest r is feature {best}")
        close(f"L{layer} r", [pick["r"]], [r[best]])
        close(f"L{layer} coefficient", [pick["coefficient"]], [coefficient])
        print(f"layer {layer}: {x.shape[1]} features, selected {best} r={r[best]:.6f} c={coefficient:.6f}  ok")
    print(f"all statistics of {len(checkpoint['layers'])} layers equal numpy float64 within {REL} relative; selections identical")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
