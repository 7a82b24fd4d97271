#!/usr/bin/env python3
"""Runs the whole CorrSteer method on the bundled demo with transformers + numpy (the reference), reading
only the files the Swift `demo` command reads, and prints what the end-to-end test must see.

    python3 scripts/demo/simulate_pipeline.py [--dtype f32|bf16] [--json out.json]

Method (method §3-6, Gemma Scope site): greedy generation; capture resid_post of every
SAE layer at the generation positions (last position of each forward pass); SAE-encode; max-pool per
sample over the valid positions (before the first EOS/pad); Pearson r of every feature with the reward
over the training split; per layer the feature with the largest positive r, coefficient = mean pooled
activation over correct training samples; steering adds c·W_dec[i] at the last position of every forward
pass at that site. S = the best layer's feature alone, A = every layer's feature jointly, P = the layers
whose single-layer steering beats the baseline on validation, steered jointly.

planted.json (the ground truth) is read only after selection, to report the planted feature's rank.
"""

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.abspath(os.path.join(HERE, "..", "..", "Sources", "CorrSteer", "Resources", "demo"))
EOS, PAD = 1, 0


class Demo:
    def __init__(self, dtype, site="resid_post"):
        self.site = site
        self.manifest = reference.load_json(os.path.join(DEMO, "demo.json"))
        task = self.manifest["task"]
        self.max_new_tokens = task["max_new_tokens"]
        model_dir = os.path.join(DEMO, self.manifest["model"])
        self.model = reference.load_model(model_dir, dtype)
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        sae_dir = os.path.join(DEMO, self.manifest["sae"])
        self.saes = {layer: reference.JumpReLUSAE(path) for layer, path in reference.find_saes(sae_dir).items()}
        if site == "resid_pre":
            # The reference code's convention: SAE L on the input of block L, layers 1..n-1.
            self.saes.pop(0, None)
        self.splits = {"train": [], "validation": [], "test": []}
        with open(os.path.join(DEMO, task["file"]), encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                self.splits[row["split"]].append(row)

    def perturb(self, eps, seed=0):
        """Multiplies every weight by (1 + eps·N(0,1)): a stand-in for another engine's rounding."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for param in self.model.parameters():
                noise = torch.randn(param.shape, generator=gen).to(param.dtype)
                param.mul_(1 + eps * noise)

    def run(self, rows, capture=False, steering=None):
        """Greedy answers: per row (reward, output text, min logit margin, pooled {layer: code})."""
        prompts = [self.tok.encode(row["prompt"]).ids for row in rows]
        layers = tuple(self.saes) if capture else ()
        outs = reference.greedy_generate_all(self.model, prompts, self.max_new_tokens, EOS, PAD,
                                             capture_layers=layers, steering=steering, site=self.site)
        results = []
        for row, (gen, margins, captured) in zip(rows, outs):
            text = self.tok.decode(gen, skip_special_tokens=True)
            reward = 1.0 if text.strip() == row["answer"].strip() else 0.0
            pooled = {}
            if capture:
                length = reference.valid_length(gen, EOS, PAD)
                for layer, steps in captured.items():
                    steps = steps[:min(length, len(steps))]
                    width = self.saes[layer].W_enc.shape[1]
                    pooled[layer] = (self.saes[layer].encode(steps).max(axis=0) if len(steps)
                                     else np.zeros(width, np.float32))
            results.append((reward, text, min(margins), pooled))
        return results


class Accumulator:
    """Float64 power sums of method §4.1 for one layer."""

    def __init__(self, width):
        self.n = 0
        self.sx = np.zeros(width)
        self.sxx = np.zeros(width)
        self.sxy = np.zeros(width)
        self.sy = self.syy = 0.0
        self.count_pos = 0
        self.sx_pos = np.zeros(width)
        self.active = np.zeros(width, np.int64)

    def update(self, x, y):
        x = x.astype(np.float64)
        self.n += 1
        self.sx += x
        self.sxx += x * x
        self.sxy += y * x
        self.sy += y
        self.syy += y * y
        self.active += x > 0
        if y > 0:
            self.count_pos += 1
            self.sx_pos += x

    def correlations(self):
        n = self.n
        my, mx = self.sy / n, self.sx / n
        vy = self.syy / n - my * my
        vx = self.sxx / n - mx * mx
        cov = self.sxy / n - mx * my
        den = np.sqrt(np.maximum(vx, 1e-12) * max(vy, 1e-12))
        return np.where(den > 0, cov / den, 0.0)

    def coefficients(self):
        return self.sx_pos / self.count_pos if self.count_pos else np.zeros_like(self.sx_pos)


def evaluate(demo, rows, plan):
    """plan: {layer: (feature, coefficient)}. Returns (rewards, outputs, margins)."""
    steering = {layer: torch.tensor(c * demo.saes[layer].W_dec[i], dtype=torch.float32)
                for layer, (i, c) in plan.items()}
    results = demo.run(rows, steering=steering)
    return (np.array([r[0] for r in results]), [r[1] for r in results], np.array([r[2] for r in results]))


def side_effect_ratio(base_out, base_rew, steer_out, steer_rew):
    pos = neg = 0
    for bo, br, so, sr in zip(base_out, base_rew, steer_out, steer_rew):
        if bo.strip() != so.strip():
            if sr > br:
                pos += 1
            elif sr < br:
                neg += 1
    return (neg / (pos + neg) if pos + neg else None), pos, neg


def simulate(demo, dtype_name):
    t0 = time.time()
    sizes = {k: len(v) for k, v in demo.splits.items()}
    print(f"demo: {sizes}, max_new_tokens {demo.max_new_tokens}, compute {dtype_name}, site {demo.site}, "
          f"SAE layers {sorted(demo.saes)}")

    # 1. Collection on the training split.
    accs = {layer: Accumulator(sae.W_enc.shape[1]) for layer, sae in demo.saes.items()}
    train_rewards = []
    for reward, _, _, pooled in demo.run(demo.splits["train"], capture=True):
        train_rewards.append(reward)
        for layer, x in pooled.items():
            accs[layer].update(x, reward)
    print(f"train: {int(sum(train_rewards))}/{len(train_rewards)} correct ({100 * np.mean(train_rewards):.1f}%)")

    # 2. Selection.
    selected, per_layer = {}, {}
    for layer, acc in accs.items():
        r = acc.correlations()
        c = acc.coefficients()
        order = np.argsort(-np.where(r > 0, r, -np.inf), kind="stable")
        top = [int(i) for i in order[:5] if r[i] > 0]
        i = top[0]
        selected[layer] = (i, float(c[i]))
        per_layer[layer] = {"feature": i, "r": float(r[i]), "coefficient": float(c[i]),
                            "second_r": float(r[top[1]]) if len(top) > 1 else None,
                            "frequency": float(100 * acc.active[i] / acc.n), "top5": top,
                            "r_all": r}
        print(f"layer {layer}: top feature {i:4d} r={r[i]:.4f} (next {per_layer[layer]['second_r']:.4f}) "
              f"c={c[i]:.4f} active {per_layer[layer]['frequency']:.1f}% of samples")
    best_layer = None
    for layer in sorted(per_layer):
        if best_layer is None or per_layer[layer]["r"] > per_layer[best_layer]["r"]:
            best_layer = layer
    plan_s = {best_layer: selected[best_layer]}
    plan_a = dict(selected)

    # 3. P: validation intervention per layer.
    val = demo.splits["validation"]
    val_base, _, _ = evaluate(demo, val, {})
    val_acc = {}
    for layer in sorted(selected):
        rew, _, _ = evaluate(demo, val, {layer: selected[layer]})
        val_acc[layer] = float(rew.mean())
    kept = [layer for layer in sorted(selected) if val_acc[layer] > val_base.mean()]
    plan_p = {layer: selected[layer] for layer in kept}
    print(f"validation: baseline {100 * val_base.mean():.1f}%, single-layer "
          + ", ".join(f"L{layer} {100 * a:.1f}%" for layer, a in val_acc.items()) + f" → P keeps {kept}")

    # 4. Test.
    test = demo.splits["test"]
    base_rew, base_out, base_margin = evaluate(demo, test, {})
    results = {"baseline": {"accuracy": float(base_rew.mean()), "min_margin": float(base_margin.min())}}
    def outputs(texts):
        return dict(Counter(t.strip() for t in texts).most_common())

    results["baseline"]["outputs"] = outputs(base_out)
    print(f"test baseline: {100 * base_rew.mean():.1f}%  (min top1-top2 logit margin {base_margin.min():.3f})  "
          f"outputs {outputs(base_out)}")
    for name, plan in (("S", plan_s), ("A", plan_a), ("P", plan_p)):
        rew, out, margin = evaluate(demo, test, plan)
        ser, pos, neg = side_effect_ratio(base_out, base_rew, out, rew)
        results[name] = {"layers": sorted(plan), "accuracy": float(rew.mean()), "ser": ser, "pos": pos, "neg": neg,
                         "min_margin": float(margin.min()), "margins_below_0.1": int((margin < 0.1).sum()),
                         "outputs": outputs(out)}
        print(f"test {name} (layers {sorted(plan)}): {100 * rew.mean():.1f}%  "
              f"(+{100 * (rew.mean() - base_rew.mean()):.1f} points)  SER {ser if ser is None else round(ser, 4)} "
              f"(POS {pos}, NEG {neg}); min margin {margin.min():.3f}, {int((margin < 0.1).sum())} below 0.1; "
              f"outputs {outputs(out)}")

    # 5. Ground truth (never used above).
    planted = reference.load_json(os.path.join(HERE, "planted.json"))
    layer, feature = planted["layer"], planted["feature"]
    r = per_layer[layer]["r_all"]
    rank = int((r > r[feature]).sum()) + 1
    print(f"planted: layer {layer} feature {feature}: r={r[feature]:.4f}, rank {rank} at its layer; "
          f"S picked layer {best_layer} feature {plan_s[best_layer][0]}")
    print(f"elapsed {time.time() - t0:.1f} s")

    for info in per_layer.values():
        info.pop("r_all")
    return {"compute": dtype_name, "splits": sizes, "train_accuracy": float(np.mean(train_rewards)),
            "layers": {str(k): v for k, v in per_layer.items()}, "best_layer": best_layer,
            "validation": {"baseline": float(val_base.mean()),
                           "single_layer": {str(k): v for k, v in val_acc.items()}, "p_keeps": kept},
            "test": results, "planted": {"layer": layer, "feature": feature, "r": float(r[feature]), "rank": rank}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--site", choices=["resid_post", "resid_pre"], default="resid_post",
                        help="resid_pre = the reference code's off-by-one hook (SAE L on block L's input)")
    parser.add_argument("--perturb", type=float, default=0.0, help="relative weight noise (robustness check)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    demo = Demo(torch.float32 if args.dtype == "f32" else torch.bfloat16, args.site)
    if args.perturb:
        demo.perturb(args.perturb)
        print(f"weights perturbed by relative noise {args.perturb}")
    out = simulate(demo, args.dtype)
    out["site"] = args.site
    out["perturb"] = args.perturb
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
