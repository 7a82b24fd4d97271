#!/usr/bin/env python3
"""Builds the bundled `corrsteer demo`: a tiny Gemma-2 model, its tokenizer, one JumpReLU SAE per layer
(Gemma Scope layout) and a refusal task, with one planted ground truth.

    python3 scripts/demo/make_demo.py            # writes Sources/CorrSteer/Resources/demo/ and planted.json

Deterministic: every random number comes from numpy Generators with fixed seeds, the tokenizer merges
are trained by bpe.py (ties broken by text), and the files are written in a fixed order.

The plant (see README.md in this folder for the full story):
- Residual directions: u ("refuse"), g ("answer slot"), e ("end"), s ("alarm"); the other 60 directions
  (C) carry ordinary random content. Random blocks only write into C.
- Token embeddings carry an s-component = how alarming the word sounds (requests.py WORD_HARM).
- Layer 1 has one head with uniform attention whose value reads s and whose output writes u: at the last
  prompt token ("Response:") the u-component grows with how alarming the request is.
- " Sorry" and " Sure" share the g-component of ":" (so one of them is the top answer) and differ by
  ±a·u: the model answers Sorry exactly when the final residual has a positive u-component. Both then
  predict <eos> through their e-component.
- SAE layer PLANTED_LAYER has one feature (PLANTED_FEATURE) with encoder and decoder ≈ u; every other
  feature of every SAE is a random direction with a calibrated threshold.
The task asks the model to decline every request ("Sorry"); the baseline refuses only the alarming ones.
"""

import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import Gemma2Config, Gemma2ForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import reference  # noqa: E402
from request_text import WORD_HARM, make_requests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "Sources", "CorrSteer", "Resources", "demo")
PLANTED_JSON = os.path.join(HERE, "planted.json")

SEED = 20250817
PROMPT_TEMPLATE = "Request: {prompt}\nResponse:"
ANSWER_CORRECT = "Sorry"
ANSWER_OTHER = "Sure"
POOL_CANDIDATES = 3400   # requests generated before filtering out fragile and out-of-band ones
POOL_SIZE = 1000         # requests kept in task/demo.jsonl
NUM_MERGES = 380
MAX_NEW_TOKENS = 4

D_MODEL = 64
N_LAYERS = 4
N_HEADS = 4
N_KV = 2
HEAD_DIM = 16
D_FF = 256
SLIDING_WINDOW = 16
SAE_WIDTH = 512
PLANTED_LAYER = 2
UNIFORM_LAYER = 1        # the layer whose head 0 moves the alarm score into u

# Plant magnitudes (units of embedding rows before the sqrt(d) scale).
P = dict(
    content_norm=1.0,     # norm of the random C part of an ordinary token
    harm_scale=1.2,       # s-component per unit of word harm
    harm_shift=0.09,      # subtracted from every token's harm (sets the baseline refusal rate)
    harm_convex=3.0,      # adds this × max(harm, 0)^2: a few very alarming words dominate
    harm_negative=0.3,    # multiplies the harm of reassuring words (harm < 0)
    colon_g=1.0,          # g-component of ":" (the last prompt token)
    colon_noise=0.3,
    answer_g=1.6,         # g-component of Sorry/Sure
    answer_u=1.5,         # ±u-component of Sorry/Sure
    answer_e=1.0,         # e-component of Sorry/Sure
    eos_e=10.0,           # e-component of <eos>
    value_gain=1.0,       # head-0 value reads this × s(normed input)
    write_gain=4.0,       # head-0 output writes this × u
    post_attn=0.5,        # (1 + w) of the post-attention norms (uniform, so C stays C)
    post_ffw=0.5,
    final_norm=1.0,       # (1 + w) of the final norm: sets the logit scale
)


def orthonormal_basis(rng):
    q, _ = np.linalg.qr(rng.standard_normal((D_MODEL, D_MODEL)))
    return q[:, 0], q[:, 1], q[:, 2], q[:, 3], q[:, 4:]


def token_harm(tok, texts):
    """Per token id: mean harm of the words it occurs in, over the corpus."""
    total, count = {}, {}
    for text in texts:
        for word in bpe.split_words(text):
            clean = word.replace(bpe.SPACE, "").lower()
            harm = WORD_HARM.get(clean, 0.0)
            for tid in tok.encode(word.replace(bpe.SPACE, " "), add_special_tokens=False).ids:
                total[tid] = total.get(tid, 0.0) + harm
                count[tid] = count.get(tid, 0) + 1
    return {t: total[t] / count[t] for t in total}


def build_weights(rng, vocab, harm, special):
    u, g, e, s, C = orthonormal_basis(rng)
    proj_c = C @ C.T
    V = len(vocab)
    emb = np.zeros((V, D_MODEL))
    for tid in range(V):
        emb[tid] = C @ rng.standard_normal(C.shape[1]) * (P["content_norm"] / np.sqrt(C.shape[1]))
        h = harm.get(tid, 0.0)
        h = h * P["harm_negative"] if h < 0 else h + P["harm_convex"] * h * h
        emb[tid] += P["harm_scale"] * (h - P["harm_shift"]) * s
    emb[special["colon"]] = P["colon_g"] * g + P["colon_noise"] * emb[special["colon"]] / P["content_norm"]
    emb[special["colon"]] -= (emb[special["colon"]] @ s) * s
    emb[special["sorry"]] = P["answer_g"] * g + P["answer_u"] * u + P["answer_e"] * e
    emb[special["sure"]] = P["answer_g"] * g - P["answer_u"] * u + P["answer_e"] * e
    emb[special["eos"]] = P["eos_e"] * e
    emb[special["pad"]] *= 0.1

    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": np.full(D_MODEL, P["final_norm"] - 1.0)}
    for layer in range(N_LAYERS):
        pre = f"model.layers.{layer}."
        q = rng.standard_normal((N_HEADS * HEAD_DIM, D_MODEL)) / np.sqrt(D_MODEL) * 2.0
        k = rng.standard_normal((N_KV * HEAD_DIM, D_MODEL)) / np.sqrt(D_MODEL) * 2.0
        v = rng.standard_normal((N_KV * HEAD_DIM, D_MODEL)) / np.sqrt(D_MODEL)
        o = proj_c @ rng.standard_normal((D_MODEL, N_HEADS * HEAD_DIM)) / np.sqrt(N_HEADS * HEAD_DIM)
        if layer == UNIFORM_LAYER:
            q[0:HEAD_DIM] = 0.0                 # head 0: all scores 0 → uniform attention
            v[0] = P["value_gain"] * s          # kv head 0, dim 0: the alarm score
            o[:, 0] = P["write_gain"] * u        # head 0, dim 0 → u
        gate = rng.standard_normal((D_FF, D_MODEL)) / np.sqrt(D_MODEL)
        up = rng.standard_normal((D_FF, D_MODEL)) / np.sqrt(D_MODEL)
        down = proj_c @ rng.standard_normal((D_MODEL, D_FF)) / np.sqrt(D_FF)
        sd.update({
            pre + "self_attn.q_proj.weight": q,
            pre + "self_attn.k_proj.weight": k,
            pre + "self_attn.v_proj.weight": v,
            pre + "self_attn.o_proj.weight": o,
            pre + "mlp.gate_proj.weight": gate,
            pre + "mlp.up_proj.weight": up,
            pre + "mlp.down_proj.weight": down,
            pre + "input_layernorm.weight": rng.standard_normal(D_MODEL) * 0.1,
            pre + "pre_feedforward_layernorm.weight": rng.standard_normal(D_MODEL) * 0.1,
            pre + "post_attention_layernorm.weight": np.full(D_MODEL, P["post_attn"] - 1.0),
            pre + "post_feedforward_layernorm.weight": np.full(D_MODEL, P["post_ffw"] - 1.0),
        })
    dirs = dict(u=u, g=g, e=e, s=s, C=C)
    return sd, dirs


def make_config(vocab_size):
    return Gemma2Config(
        vocab_size=vocab_size,
        hidden_size=D_MODEL,
        intermediate_size=D_FF,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS,
        num_key_value_heads=N_KV,
        head_dim=HEAD_DIM,
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
        query_pre_attn_scalar=HEAD_DIM,
        sliding_window=SLIDING_WINDOW,
        final_logit_softcapping=30.0,
        attn_logit_softcapping=50.0,
    )


def to_bf16_model(config, sd):
    model = Gemma2ForCausalLM(config)
    tensors = {k: torch.tensor(v, dtype=torch.float32).to(torch.bfloat16) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"lm_head.weight"}, missing
    model.tie_weights()
    return model.to(torch.bfloat16).eval()


SPLIT_SIZES = {"train": 400, "validation": 100, "test": 300}
MARGIN = 0.25             # a kept prompt's every greedy step wins by at least this many logits (f32)
# The answer step's Sorry − Sure logit gap of a kept prompt lies in [DECISIVE, ∞) or [−REACH, −DECISIVE].
# In 64 dimensions a random direction as long as a steering vector still moves every answer's gap by the
# same amount (about N(0, 0.9) logits for four layers' vectors), so prompts answered by less than
# DECISIVE would flip under any perturbation and the random-direction and shuffled-label controls
# would measure the toy's fragility instead of the method. REACH keeps the compliances the planted direction
# (a shift of about 5 logits) can turn into refusals; real models' answers are decisive in the same way.
DECISIVE = 2.0
REACH = 3.5
PLANTED_BIAS = 0.5        # planted feature: b_enc; it fires (JumpReLU) when u·h > PLANTED_GAP
PLANTED_GAP = 0.15
PLANTED_ENC_NOISE = 0.1   # the planted encoder direction is u plus this much random direction


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_npz(path, arrays):
    """numpy.savez (stored .npy members, zip64 headers) with a fixed member timestamp, so that the bytes
    depend only on the arrays."""
    import zipfile
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as fid:
                np.lib.format.write_array(fid, np.asanyarray(value), allow_pickle=False)


def build_tokenizer(texts):
    answers = len(texts) // 28  # enough for both answers to become single tokens
    corpus = texts + [f"Response: {ANSWER_CORRECT}"] * answers + [f"Response: {ANSWER_OTHER}"] * answers
    alphabet, merges = bpe.train_merges(corpus, NUM_MERGES)
    tok = bpe.build_tokenizer(alphabet, merges)
    vocab = tok.get_vocab()
    for piece in (":", "\u2581" + ANSWER_CORRECT, "\u2581" + ANSWER_OTHER):
        assert piece in vocab, f"{piece!r} must be one token"
    assert tok.get_vocab_size() <= 1000
    return tok


@torch.no_grad()
def residuals_all_positions(model, tok, texts):
    """{layer: [n_positions, d]} resid_post over every non-BOS prompt position (f32 compute)."""
    rows = {layer: [] for layer in range(N_LAYERS)}
    handles = []
    for layer in range(N_LAYERS):
        def hook(module, args, output, layer=layer):
            hidden = output[0] if isinstance(output, tuple) else output
            rows[layer].append(hidden[:, 1:].reshape(-1, hidden.shape[-1]).float().numpy().copy())
        handles.append(model.model.layers[layer].register_forward_hook(hook))
    by_length = {}
    for text in texts:
        ids = tok.encode(text).ids
        by_length.setdefault(len(ids), []).append(ids)
    try:
        for length in sorted(by_length):
            model(input_ids=torch.tensor(by_length[length]))
    finally:
        for h in handles:
            h.remove()
    return {layer: np.concatenate(v) for layer, v in rows.items()}


def build_sae(rng, resid, planted_dir=None, planted_index=None):
    """A JumpReLU SAE: random unit features with thresholds set so each fires on a chosen fraction of
    corpus positions; optionally one planted feature reading and writing `planted_dir`."""
    d, width = D_MODEL, SAE_WIDTH
    enc = rng.standard_normal((d, width))
    enc /= np.linalg.norm(enc, axis=0, keepdims=True)
    dec = enc.T + 0.3 * rng.standard_normal((width, d)) / np.sqrt(d)
    dec /= np.linalg.norm(dec, axis=1, keepdims=True)
    b_enc = rng.standard_normal(width) * 0.3
    fire = np.exp(rng.uniform(np.log(0.01), np.log(0.2), width))
    pre = resid @ enc + b_enc
    # Rounded so that last-bit differences between machines do not change the files.
    threshold = np.array([max(round(float(np.quantile(pre[:, j], 1 - fire[j])), 3), 0.05) for j in range(width)])
    if planted_dir is not None:
        w = planted_dir + PLANTED_ENC_NOISE * rng.standard_normal(d) / np.sqrt(d)
        enc[:, planted_index] = w / np.linalg.norm(w)
        dec[planted_index] = planted_dir
        b_enc[planted_index] = PLANTED_BIAS
        threshold[planted_index] = PLANTED_BIAS + PLANTED_GAP
    b_dec = np.round(resid.mean(axis=0), 3)
    pre = resid @ enc + b_enc
    l0 = float(((pre > threshold) & (pre > 0)).sum(axis=1).mean())
    params = dict(W_enc=enc, W_dec=dec, b_enc=b_enc, b_dec=b_dec, threshold=threshold)
    return {k: v.astype(np.float32) for k, v in params.items()}, l0


def greedy_check(models, tok, texts):
    """For each text: (generated ids under the first model, its min step margin, its answer step's margin,
    same ids under all?)."""
    prompts = [tok.encode(text).ids for text in texts]
    runs = [reference.greedy_generate_all(model, prompts, MAX_NEW_TOKENS, 1, 0) for model in models]
    return [(runs[0][i][0], min(runs[0][i][1]), runs[0][i][1][0], all(run[i][0] == runs[0][i][0] for run in runs))
            for i in range(len(texts))]


def main():
    rng_text = np.random.default_rng(SEED)
    requests = make_requests(rng_text, POOL_CANDIDATES)
    texts = [PROMPT_TEMPLATE.format(prompt=r) for r in requests]
    tok = build_tokenizer(texts)
    vocab = tok.get_vocab()
    harm = token_harm(tok, texts)
    special = dict(colon=vocab[":"], sorry=vocab["\u2581" + ANSWER_CORRECT], sure=vocab["\u2581" + ANSWER_OTHER],
                   eos=1, pad=0)
    sd, dirs = build_weights(np.random.default_rng(SEED + 1), vocab, harm, special)
    config = make_config(len(vocab))
    model_bf16 = to_bf16_model(config, sd)

    if os.path.isdir(OUT):
        for name in ("model", "sae", "task"):
            shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
    model_dir = os.path.join(OUT, "model")
    os.makedirs(model_dir)
    model_bf16.save_pretrained(model_dir, safe_serialization=True)
    tok.save(os.path.join(model_dir, "tokenizer.json"))
    bpe.write_json(os.path.join(model_dir, "tokenizer_config.json"), bpe.tokenizer_config())
    bpe.write_json(os.path.join(model_dir, "special_tokens_map.json"),
                   {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"})

    # The reference reads the files back, exactly as the Swift pipeline will.
    model_f32 = reference.load_model(model_dir, torch.float32)
    model_bf = reference.load_model(model_dir, torch.bfloat16)

    # Keep prompts whose greedy answer is clear-cut in f32, identical under bf16 compute, and decisive.
    checks = greedy_check([model_f32, model_bf], tok, texts)

    def decisive(gen, answer_margin):
        answer_gap = answer_margin if gen[0] == special["sorry"] else -answer_margin
        return answer_gap >= DECISIVE or -REACH <= answer_gap <= -DECISIVE

    keep = [i for i, (gen, margin, answer_margin, same) in enumerate(checks)
            if same and margin >= MARGIN and len(tok.encode(texts[i]).ids) <= 32 and decisive(gen, answer_margin)]
    total = sum(SPLIT_SIZES.values())
    print(f"{len(keep)} of {len(texts)} prompts pass the margin filter")
    assert len(keep) >= total, f"only {len(keep)} prompts pass the margin filter"
    keep = keep[:total]

    # SAEs, calibrated on every prompt position of the kept prompts' resid_post.
    resid = residuals_all_positions(model_f32, tok, [texts[i] for i in keep])
    rng_sae = np.random.default_rng(SEED + 2)
    planted_index = int(rng_sae.integers(SAE_WIDTH))
    sae_paths = {}
    for layer in range(N_LAYERS):
        is_planted = layer == PLANTED_LAYER
        params, l0 = build_sae(rng_sae, resid[layer], dirs["u"] if is_planted else None,
                               planted_index if is_planted else None)
        rel = os.path.join("sae", f"layer_{layer}", f"width_{SAE_WIDTH}", f"average_l0_{round(l0)}")
        os.makedirs(os.path.join(OUT, rel))
        save_npz(os.path.join(OUT, rel, "params.npz"), params)
        sae_paths[layer] = os.path.join(rel, "params.npz")

    # The task: every request should be declined.
    os.makedirs(os.path.join(OUT, "task"))
    order = list(SPLIT_SIZES)
    bounds = np.cumsum([0] + [SPLIT_SIZES[s] for s in order])
    with open(os.path.join(OUT, "task", "demo.jsonl"), "w", encoding="utf-8") as f:
        for n, i in enumerate(keep):
            split = order[int(np.searchsorted(bounds, n, side="right")) - 1]
            line = {"id": f"demo-{n:04d}", "prompt": texts[i], "answer": ANSWER_CORRECT, "split": split}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")

    baseline_correct = sum(tok.decode(checks[i][0], skip_special_tokens=True).strip() == ANSWER_CORRECT
                           for i in keep)
    # Sources/CorrSteer/DemoBundle.swift decodes name, description, model, sae, task.{file, kind,
    # max_new_tokens} and recommended.*; the other fields document the bundle.
    manifest = {
        "format_version": 1,
        "name": "demo-refusal",
        "description": ("A tiny Gemma-2 model (seeded random weights with a planted refusal direction), one JumpReLU "
                        "SAE per layer in Gemma Scope layout, and requests that should all be declined."),
        "model": "model",
        "sae": "sae",
        "sae_layout": "gemma-scope",
        "sae_site": "blocks.{layer}.hook_resid_post",
        "sae_layers": list(range(N_LAYERS)),
        "sae_width": SAE_WIDTH,
        "task": {
            "file": "task/demo.jsonl",
            "kind": "exact",
            "gold": ANSWER_CORRECT,
            "answer_rule": f"the stripped output equals \"{ANSWER_CORRECT}\"",
            "prompt": "each line's 'prompt' field is the whole prompt (Request: ...\\nResponse:); BOS is added",
            "splits": "each line's 'split' field (train / validation / test)",
            "split_sizes": SPLIT_SIZES,
            "max_new_tokens": MAX_NEW_TOKENS,
        },
        "recommended": {
            "train_samples": SPLIT_SIZES["train"],
            "validation_samples": SPLIT_SIZES["validation"],
            "test_samples": SPLIT_SIZES["test"],
        },
    }
    bpe.write_json(os.path.join(OUT, "demo.json"), manifest)

    planted = {
        "layer": PLANTED_LAYER,
        "feature": planted_index,
        "site": f"blocks.{PLANTED_LAYER}.hook_resid_post",
        "sae_file": sae_paths[PLANTED_LAYER],
        "uniform_attention_layer": UNIFORM_LAYER,
        "seed": SEED,
        "pool_kept": len(keep),
        "pool_candidates": POOL_CANDIDATES,
        "baseline_correct_all_splits": int(baseline_correct),
    }
    bpe.write_json(PLANTED_JSON, planted)
    for root, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            path = os.path.join(root, name)
            print(f"{os.path.getsize(path):>9}  {os.path.relpath(path, OUT)}")
    print(f"kept {len(keep)} of {len(texts)} prompts; baseline correct {baseline_correct}/{len(keep)}; "
          f"planted layer {PLANTED_LAYER} feature {planted_index}")


if __name__ == "__main__":
    main()
