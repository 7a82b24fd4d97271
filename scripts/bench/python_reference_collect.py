#!/usr/bin/env python3
"""The Python reference collection loop, timed: what `corrsteer bench collect` is compared with.

It does what the CorrSteer reference code does per batch, on random weights of the real shapes:
transformers in bfloat16, prompts left-padded to the longest in the batch, forward pre-hooks on the
decoder blocks capturing the residual stream at the generation position, JumpReLU SAE encoding in f32
(x @ W_enc + b_enc, kept where above the threshold), max pooling, and the per-feature correlation sums
accumulated in float64. Prompt lengths are the same deterministic MMLU-like draw as the Swift benchmark
(51..128 tokens, mean about 83; SplitMix64 with the same seed), thresholds are calibrated on the first
batch to about 80 active features per token.

  python3 scripts/bench/python_reference_collect.py [--shape gemma-2-2b] [--samples 64] [--batch 8]
                                                    [--layers 25] [--sae-width 16384] [--threads 2]

Prints one JSON object. No files are read or written; no network.
"""
import argparse
import json
import math
import resource
import time

import torch

from torch_anchors import CONFIGS, build_model, cpu_seconds, load_average

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def unit(self):
        return (self.next() >> 40) / 16777216.0


def prompt_lengths(count, seed):
    """CollectBenchmarkOptions.promptLengths: 51 + round(77 * u^1.4)."""
    rng = SplitMix64(seed + 7)
    return [51 + int(math.floor(77.0 * rng.unit() ** 1.4 + 0.5)) for _ in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="gemma-2-2b", choices=sorted(CONFIGS))
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--sae-width", type=int, default=16384)
    parser.add_argument("--active-features", type=int, default=80)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    setup_start = time.perf_counter()
    model, config = build_model(args.shape, args.dtype)
    n_layers = args.layers if args.layers is not None else config.num_hidden_layers - 1
    hidden = config.hidden_size
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    bos = config.bos_token_id if config.bos_token_id is not None else 2

    lengths = prompt_lengths(args.samples, args.seed)
    g = torch.Generator().manual_seed(args.seed + 3)
    prompts = [[bos] + torch.randint(3, config.vocab_size, (n - 1,), generator=g).tolist() for n in lengths]

    layers = list(range(1, n_layers + 1))
    saes = {}
    for layer in layers:
        gl = torch.Generator().manual_seed(1000 + layer)
        w = (torch.rand(hidden, args.sae_width, generator=gl) * 2 - 1) * 0.05
        b = (torch.rand(args.sae_width, generator=gl) * 2 - 1) * 0.01
        saes[layer] = dict(W_enc=w, b_enc=b, threshold=torch.zeros(args.sae_width))

    captured = {}

    def make_hook(layer):
        def hook(module, hook_args, kwargs):
            states = hook_args[0] if hook_args else kwargs["hidden_states"]
            # Left padding: the generation position is the last column for every row.
            captured[layer] = states[:, -1, :].float()
        return hook

    handles = [model.model.layers[layer].register_forward_pre_hook(make_hook(layer), with_kwargs=True)
               for layer in layers]

    def batches():
        for start in range(0, len(prompts), args.batch):
            chunk = prompts[start:start + args.batch]
            width = max(len(p) for p in chunk)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk])
            yield ids, mask

    # Calibrate thresholds on the first batch (not timed).
    with torch.inference_mode():
        ids, mask = next(batches())
        model(input_ids=ids, attention_mask=mask, logits_to_keep=1)
        for layer in layers:
            sae = saes[layer]
            z = captured[layer] @ sae["W_enc"] + sae["b_enc"]
            k = min(z.numel(), ids.shape[0] * args.active_features)
            sae["threshold"] = torch.full((args.sae_width,), max(0.0, z.flatten().topk(k).values[-1].item()))
    setup_seconds = time.perf_counter() - setup_start

    sums = {layer: dict(n=0, y=0.0, yy=0.0, x=torch.zeros(args.sae_width, dtype=torch.float64),
                        xx=torch.zeros(args.sae_width, dtype=torch.float64),
                        xy=torch.zeros(args.sae_width, dtype=torch.float64)) for layer in layers}
    real_tokens = padded_tokens = 0
    active = rows = 0
    load_before = load_average()
    start, cpu_start = time.perf_counter(), cpu_seconds()
    with torch.inference_mode():
        for ids, mask in batches():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=1, do_sample=False,
                                 pad_token_id=pad)
            rewards = (out[:, -1] % 2).to(torch.float64)
            real_tokens += int(mask.sum())
            padded_tokens += int(mask.numel())
            for layer in layers:
                sae = saes[layer]
                pre = captured[layer] @ sae["W_enc"] + sae["b_enc"]
                z = torch.where((pre > sae["threshold"]) & (pre > 0), pre, torch.zeros_like(pre))
                active += int((z > 0).sum())
                rows += z.shape[0]
                pooled = z.to(torch.float64)  # one generation position: max pooling is the row itself
                s = sums[layer]
                s["n"] += pooled.shape[0]
                s["y"] += float(rewards.sum())
                s["yy"] += float((rewards * rewards).sum())
                s["x"] += pooled.sum(0)
                s["xx"] += (pooled * pooled).sum(0)
                s["xy"] += (pooled * rewards[:, None]).sum(0)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_start
    for h in handles:
        h.remove()
    import transformers
    print(json.dumps(dict(
        engine=f"transformers {transformers.__version__} + torch {torch.__version__}", shape=args.shape,
        dtype=args.dtype, samples=len(prompts), batch=args.batch, layers=n_layers, sae_width=args.sae_width,
        mean_prompt_tokens=round(sum(lengths) / len(lengths), 2), min_prompt_tokens=min(lengths),
        max_prompt_tokens=max(lengths), padding_fraction=round(1 - real_tokens / padded_tokens, 3),
        seconds=round(seconds, 2), samples_per_second=round(len(prompts) / seconds, 3), cpu_seconds=round(cpu, 1),
        load_before=load_before, load_after=load_average(),
        mean_active_features=round(active / max(rows, 1), 1), setup_seconds=round(setup_seconds, 1),
        peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2))), flush=True)


if __name__ == "__main__":
    main()
