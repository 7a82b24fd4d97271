#!/usr/bin/env python3
"""Reads a control-vector GGUF back with the `gguf` package (llama.cpp's gguf-py) and checks it.

usage: python3 scripts/checks/check_gguf.py FILE.gguf [--plan runs/NAME/plans/A.json]

Checks: GGUF v3; general.architecture == "controlvector"; controlvector.model_hint is a string;
controlvector.layer_count (uint32) equals the number of tensors; every tensor is F32, 1-D, named
direction.N with N >= 1, all of one length. With --plan, also checks that each direction equals the sum
of the plan's vectors mapped to that llama.cpp layer (resid_post L -> L, resid_pre L -> L-1).
Prints a summary; exits 1 on the first failed check.
"""
import argparse
import json
import os
import sys

import gguf
import numpy as np


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def field_value(reader, key):
    field = reader.fields.get(key)
    if field is None:
        fail(f"metadata key {key} is missing")
    kind = field.types[0]
    if kind == gguf.GGUFValueType.STRING:
        return kind, bytes(field.parts[field.data[0]]).decode("utf-8")
    return kind, field.parts[field.data[0]][0]


def plan_directions(plan_path):
    from safetensors.numpy import load_file
    with open(plan_path) as f:
        plan = json.load(f)
    vectors = load_file(os.path.splitext(plan_path)[0] + ".safetensors")
    directions = {}
    for entry in plan["entries"]:
        _, block, hook = entry["site"].split(".")
        layer = int(block) - (1 if hook == "hook_resid_pre" else 0)
        v = vectors[entry["vector"]].astype(np.float32)
        directions[layer] = directions.get(layer, np.zeros_like(v)) + v
    return directions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--plan")
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.file)
    _, version = field_value(reader, "GGUF.version")
    if int(version) != 3:
        fail(f"GGUF version {version}, expected 3")
    _, arch = field_value(reader, "general.architecture")
    if arch != "controlvector":
        fail(f"general.architecture is {arch!r}")
    kind, hint = field_value(reader, "controlvector.model_hint")
    if kind != gguf.GGUFValueType.STRING:
        fail("controlvector.model_hint is not a string")
    kind, layer_count = field_value(reader, "controlvector.layer_count")
    if kind != gguf.GGUFValueType.UINT32:
        fail(f"controlvector.layer_count has type {kind.name}, expected UINT32")
    if int(layer_count) != len(reader.tensors):
        fail(f"layer_count {layer_count} but {len(reader.tensors)} tensors")
    lengths = set()
    found = {}
    for t in reader.tensors:
        prefix, _, index = t.name.partition(".")
        if prefix != "direction" or not index.isdigit() or int(index) < 1:
            fail(f"tensor {t.name}: expected direction.N with N >= 1")
        if t.tensor_type != gguf.GGMLQuantizationType.F32:
            fail(f"tensor {t.name} is {t.tensor_type.name}, expected F32")
        if len(t.shape) != 1:
            fail(f"tensor {t.name} has shape {list(t.shape)}, expected 1-D")
        lengths.add(int(t.shape[0]))
        found[int(index)] = np.array(t.data, dtype=np.float32)
    if len(lengths) > 1:
        fail(f"direction lengths differ: {sorted(lengths)}")
    print(f"ok: GGUF v3, arch={arch}, model_hint={hint!r}, layer_count={layer_count}, "
          f"tensors={[t.name for t in reader.tensors]}, n_embd={lengths.pop() if lengths else 0}")
    for layer in sorted(found):
        print(f"  direction.{layer}: norm {np.linalg.norm(found[layer]):.6g}")
    if args.plan:
        expected = plan_directions(args.plan)
        if sorted(expected) != sorted(found):
            fail(f"plan maps to layers {sorted(expected)}, file has {sorted(found)}")
        for layer, vector in expected.items():
            if not np.array_equal(vector, found[layer]):
                fail(f"direction.{layer} differs from the plan's summed vectors (max |diff| {np.abs(vector - found[layer]).max()})")
        print(f"ok: matches plan {args.plan} exactly")


if __name__ == "__main__":
    main()
