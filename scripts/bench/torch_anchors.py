#!/usr/bin/env python3
"""PyTorch anchors for BENCHMARKS.md, measured in the same session as corrsteer's figures.

  python3 scripts/bench/torch_anchors.py gemm  [--m 1,8,128,512]
      GFLOP/s of y = x @ W.T at the Gemma-2-2B shapes (2304x9216, 9216x2304, 2304x2048, LM head
      2304x256000) in bf16 and f32, best of several runs, two threads (torch.nn.functional.linear, the
      call transformers makes).
  python3 scripts/bench/torch_anchors.py model [--shape gemma-2-2b] [--prompt 128,512] [--batch 1,8]
                                               [--dtype bfloat16] [--steps 16]
      A transformers model of the real shape with random weights: prefill tok/s per prompt length
      (logits only for the last position, as generate() does), decode tok/s per batch size after a
      128-token prompt, and peak RSS.

Prints one JSON object per line. No files are read or written; no network.
"""
import argparse
import json
import resource
import time

import torch

SHAPES = [("mlp-up", 9216, 2304), ("mlp-down", 2304, 9216), ("q-proj", 2048, 2304), ("lm-head", 256000, 2304)]

CONFIGS = {
    "gemma-2-2b": dict(
        model_type="gemma2", vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
        num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256,
        sliding_window=4096, attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
        hidden_activation="gelu_pytorch_tanh", max_position_embeddings=8192, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0),
    "llama-3.1-8b": dict(
        model_type="llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False, hidden_act="silu",
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=8192),
        bos_token_id=128000, eos_token_id=128001),
    "qwen3-1.7b": dict(
        model_type="qwen3", vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, hidden_act="silu",
        attention_bias=False, use_sliding_window=False, bos_token_id=151643, eos_token_id=151645),
    "tiny": dict(
        model_type="gemma2", vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, sliding_window=32,
        attn_logit_softcapping=50.0, final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
        bos_token_id=2, eos_token_id=1, pad_token_id=0),
}


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average():
    try:
        with open("/proc/loadavg") as fh:
            return float(fh.read().split()[0])
    except OSError:
        return None


def best_time(fn, reps, with_cpu=False):
    fn()
    best, best_cpu = float("inf"), 0.0
    for _ in range(reps):
        t, c = time.perf_counter(), cpu_seconds()
        fn()
        elapsed = time.perf_counter() - t
        if elapsed < best:
            best, best_cpu = elapsed, cpu_seconds() - c
    return (best, best_cpu) if with_cpu else best


def gemm(args):
    ms = [int(v) for v in args.m.split(",")]
    for dtype in (torch.bfloat16, torch.float32):
        for name, n, k in SHAPES:
            w = torch.randn(n, k, dtype=dtype) * 0.05
            for m in ms:
                x = torch.randn(m, k, dtype=dtype)
                flops = 2.0 * m * n * k
                reps = 3 if flops > 2e10 else 6 if flops > 1e9 else 20
                with torch.inference_mode():
                    t = best_time(lambda: torch.nn.functional.linear(x, w), reps)
                print(json.dumps(dict(engine=f"torch {torch.__version__}", dtype=str(dtype).replace("torch.", ""),
                                      op=name, n=n, k=k, m=m, ms=round(t * 1e3, 3),
                                      gflops=round(flops / t / 1e9, 1),
                                      weight_gbs=round(n * k * w.element_size() / t / 1e9, 1))), flush=True)


def build_model(shape, dtype):
    import transformers
    cfg = dict(CONFIGS[shape])
    model_type = cfg.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **cfg)
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.eval()
    return model, config


def model_bench(args):
    import transformers
    model, config = build_model(args.shape, args.dtype)
    vocab = config.vocab_size
    g = torch.Generator().manual_seed(1)
    common = dict(engine=f"transformers {transformers.__version__} + torch {torch.__version__}",
                  shape=args.shape, dtype=args.dtype, attn=str(model.config._attn_implementation))
    with torch.inference_mode():
        for length in [int(v) for v in args.prompt.split(",")]:
            ids = torch.randint(3, vocab, (1, length), generator=g)
            # logits_to_keep=1: the LM head only for the last position, as generate() does.
            load = load_average()
            t, cpu = best_time(lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1), args.reps, True)
            print(json.dumps(dict(common, metric="prefill", prompt=length, seconds=round(t, 3),
                                  tok_s=round(length / t, 1), cpu_seconds=round(cpu, 2), load_before=load,
                                  load_after=load_average(), peak_rss_gb=round(peak_rss_gb(), 2))), flush=True)
        for batch in [int(v) for v in args.batch.split(",")]:
            ids = torch.randint(3, vocab, (batch, 128), generator=g)
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
            times = []
            for step in range(args.steps):
                t = time.perf_counter()
                out = model(input_ids=token, past_key_values=past, use_cache=True)
                times.append(time.perf_counter() - t)
                past = out.past_key_values
                token = out.logits[:, -1:].argmax(-1)
            times.sort()
            median = times[len(times) // 2]
            print(json.dumps(dict(common, metric="decode", batch=batch, after=128, steps=args.steps, load=load_average(),
                                  median_step_s=round(median, 4), tok_s=round(batch / median, 2),
                                  best_tok_s=round(batch / times[0], 2), peak_rss_gb=round(peak_rss_gb(), 2))),
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gemm")
    g.add_argument("--m", default="1,8,128,512")
    m = sub.add_parser("model")
    m.add_argument("--shape", default="gemma-2-2b", choices=sorted(CONFIGS))
    m.add_argument("--prompt", default="128,512")
    m.add_argument("--batch", default="1,8")
    m.add_argument("--dtype", default="bfloat16")
    m.add_argument("--steps", type=int, default=16)
    m.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"gemm": gemm, "model": model_bench}[args.command](args)


if __name__ == "__main__":
    main()
