"""Reference pieces of the CorrSteer pipeline in transformers/numpy, used by make_demo.py (to check the
bundle it writes) and by simulate_pipeline.py (to run the whole method on it).

Sites are Gemma Scope's: SAE L reads `blocks.L.hook_resid_post` = the output of decoder layer L, taken
with a forward hook on `model.model.layers[L]`. Capture and steering use the "generation" positions:
the last position of every forward pass (last prompt token in prefill, then each fed-back token).
"""

import glob
import json
import os

import numpy as np
import torch
from transformers import Gemma2ForCausalLM

# The demo model is tiny: one thread is fastest and leaves the other core to the rest of the machine.
torch.set_num_threads(1)


def load_model(model_dir: str, dtype: torch.dtype = torch.float32) -> Gemma2ForCausalLM:
    model = Gemma2ForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
    model.eval()
    return model


class SiteHooks:
    """Hooks on decoder layers that record the last position and/or add a vector to it.

    site "resid_post": forward hook on layers[L] (its output, Gemma Scope's blocks.L.hook_resid_post).
    site "resid_pre": forward pre-hook on layers[L] (its input; the reference code's hook point).
    """

    def __init__(self, model, capture_layers=(), steering=None, site="resid_post"):
        self.captured = {layer: [] for layer in capture_layers}
        self.handles = []
        steering = steering or {}
        for layer in sorted(set(capture_layers) | set(steering)):
            vec = steering.get(layer)
            module = model.model.layers[layer]
            if site == "resid_post":
                self.handles.append(module.register_forward_hook(self._post(layer, vec)))
            else:
                self.handles.append(module.register_forward_pre_hook(self._pre(layer, vec)))

    def _apply(self, layer, vec, hidden):
        if vec is not None:
            hidden = hidden.clone()
            hidden[:, -1, :] = (hidden[:, -1, :].float() + vec).to(hidden.dtype)
        if layer in self.captured:
            self.captured[layer].append(hidden[:, -1, :].float().numpy().copy())
        return hidden

    def _post(self, layer, vec):
        def hook(module, args, output):
            if isinstance(output, tuple):
                return (self._apply(layer, vec, output[0]),) + tuple(output[1:])
            return self._apply(layer, vec, output)

        return hook

    def _pre(self, layer, vec):
        def hook(module, args):
            return (self._apply(layer, vec, args[0]),) + tuple(args[1:])

        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def greedy_generate_batch(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int, pad_id: int,
                          capture_layers=(), steering=None, site="resid_post"):
    """Greedy decoding with a KV cache of prompts that all have the same length (so no padding).

    Steps continue until every sequence has emitted EOS/pad or max_new_tokens is reached; tokens after a
    sequence's EOS are ignored by the caller (valid_length). Returns, per prompt, (generated ids, logit
    margins top1-top2 per step up to and including its EOS, {layer: [steps, d] captured rows}).
    """
    assert len({len(p) for p in prompts}) == 1, "prompts of one batch must have the same length"
    hooks = SiteHooks(model, capture_layers, steering, site)
    batch = len(prompts)
    try:
        generated = [[] for _ in range(batch)]
        margins = [[] for _ in range(batch)]
        done = [False] * batch
        past = None
        inp = torch.tensor(prompts)
        for _ in range(max_new_tokens):
            out = model(input_ids=inp, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[:, -1].float()
            top2 = torch.topk(logits, 2, dim=-1)
            nxt = top2.indices[:, 0].tolist()
            gap = (top2.values[:, 0] - top2.values[:, 1]).tolist()
            for b in range(batch):
                if not done[b]:
                    generated[b].append(nxt[b])
                    margins[b].append(gap[b])
                    done[b] = nxt[b] in (eos_id, pad_id)
            if all(done):
                break
            inp = torch.tensor([[t] for t in nxt])
        captured = {k: np.stack(v, axis=1) for k, v in hooks.captured.items()}
    finally:
        hooks.remove()
    return [(generated[b], margins[b], {k: v[b] for k, v in captured.items()}) for b in range(batch)]


def greedy_generate_all(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int, pad_id: int,
                        capture_layers=(), steering=None, site="resid_post", batch_size=64):
    """greedy_generate_batch over prompts of any lengths (grouped by length); results in input order."""
    by_length = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    results = [None] * len(prompts)
    for length in sorted(by_length):
        idx = by_length[length]
        for start in range(0, len(idx), batch_size):
            chunk = idx[start:start + batch_size]
            outs = greedy_generate_batch(model, [prompts[i] for i in chunk], max_new_tokens, eos_id, pad_id,
                                         capture_layers, steering, site)
            for i, o in zip(chunk, outs):
                results[i] = o
    return results


def valid_length(generated: list[int], eos_id: int, pad_id: int) -> int:
    """Index of the first generated EOS/pad, else the number of generated tokens (method §3.2)."""
    for i, t in enumerate(generated):
        if t in (eos_id, pad_id):
            return i
    return len(generated)


class JumpReLUSAE:
    def __init__(self, path: str):
        with np.load(path) as z:
            self.W_enc = z["W_enc"].astype(np.float32)
            self.W_dec = z["W_dec"].astype(np.float32)
            self.b_enc = z["b_enc"].astype(np.float32)
            self.b_dec = z["b_dec"].astype(np.float32)
            self.threshold = z["threshold"].astype(np.float32)

    def encode(self, x: np.ndarray) -> np.ndarray:
        pre = x.astype(np.float32) @ self.W_enc + self.b_enc
        return np.where(pre > self.threshold, np.maximum(pre, 0), 0).astype(np.float32)


def find_saes(sae_dir: str) -> dict:
    """{layer: params.npz path} for the layout layer_{L}/width_{W}/average_l0_{X}/params.npz."""
    out = {}
    for path in sorted(glob.glob(os.path.join(sae_dir, "layer_*", "width_*", "average_l0_*", "params.npz"))):
        layer = int(path.split(os.sep)[-4].split("_")[1])
        out[layer] = path
    return out


def load_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
