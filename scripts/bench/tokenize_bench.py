#!/usr/bin/env python3
"""Tokenizer speed: `corrsteer tokenize` (release build) against Hugging Face `tokenizers`.

Encodes the 14,042 MMLU test prompts (CorrSteer's zero-shot select template) with each tokenizer,
single-threaded on both sides, and times 100,000-character words. Times are CPU seconds (user +
system), best of --repeat runs, so a busy machine disturbs them less. The Swift side is timed
through the CLI, minus the CPU time of the same run on an empty input (loading the tokenizer);
the Python side times `encode_batch` alone. Not a test: figures only.

Usage:
  swift build -c release --scratch-path .build-tok --product corrsteer
  python3 scripts/bench/tokenize_bench.py [--cli .build-tok/release/corrsteer] [--repeat 3]
"""
import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
TOKENIZERS = {
    "llama-3.1": SHARED / "tokenizers" / "llama-3.1",
    "llama-2-spm-standin": SHARED / "tokenizers" / "llama-2-spm-standin",
    "gemma-2-like": ROOT / "Tests" / "Fixtures" / "tokenization" / "gemma-2-like",
}


def mmlu_prompts():
    prompts = []
    with open(SHARED / "data" / "mmlu" / "test.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            choices = "\n".join(f"{chr(65 + i)}. {c}" for i, c in enumerate(row["choices"]))
            prompts.append(f"{row['question']}\n{choices}\nChoose one of the following options only: A, B, C, or D\nAnswer:")
    return prompts


def time_cli(cli, folder, path, threads, repeat):
    """Best CPU time (user + system) of the CLI over `repeat` runs: robust on a busy machine."""
    best = float("inf")
    for _ in range(repeat):
        with open(path, "rb") as stdin, tempfile.TemporaryFile() as stdout:
            process = subprocess.Popen([cli, "tokenize", "--tokenizer", str(folder), "--threads", str(threads)],
                                       stdin=stdin, stdout=stdout)
            _, status, usage = os.wait4(process.pid, 0)
            assert status == 0, status
            best = min(best, usage.ru_utime + usage.ru_stime)
            stdout.seek(0)
            output = stdout.read()
    return best, output


def python_child(folder, path, threads, repeat):
    """Runs in a fresh interpreter so the thread setting takes effect."""
    code = f"""
import json, time
from tokenizers import Tokenizer
texts = [json.loads(l)["text"] for l in open({str(path)!r}, encoding="utf-8")]
t0 = time.process_time(); tok = Tokenizer.from_file({str(folder / "tokenizer.json")!r}); load = time.process_time() - t0
best = 1e9
for _ in range({repeat}):
    t0 = time.process_time(); enc = tok.encode_batch(texts); best = min(best, time.process_time() - t0)
print(json.dumps({{"load": load, "encode": best, "tokens": sum(len(e.ids) for e in enc)}}))
"""
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    out = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", default=str(ROOT / ".build-tok" / "release" / "corrsteer"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    prompts = mmlu_prompts()
    rng = random.Random(0)
    # Twenty different 100,000-character words (no cache can help), timed together.
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(100_000)) for _ in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        empty, corpus, word = tmp / "empty.jsonl", tmp / "mmlu.jsonl", tmp / "word.jsonl"
        empty.write_text("")
        corpus.write_text("".join(json.dumps({"text": p}) + "\n" for p in prompts))
        word.write_text("".join(json.dumps({"text": w}) + "\n" for w in words))
        print(f"MMLU test prompts: {len(prompts)} ({sum(map(len, prompts))} characters); threads: {args.threads}")
        for name, folder in TOKENIZERS.items():
            load, _ = time_cli(args.cli, folder, empty, args.threads, args.repeat)
            total, out = time_cli(args.cli, folder, corpus, args.threads, args.repeat)
            word_total, _ = time_cli(args.cli, folder, word, args.threads, args.repeat)
            tokens = sum(len(json.loads(l)["ids"]) for l in out.splitlines())
            swift_rate = tokens / max(total - load, 1e-9)
            hf = python_child(folder, corpus, args.threads, args.repeat)
            hf_word = python_child(folder, word, 1, args.repeat)
            hf_rate = hf["tokens"] / hf["encode"]
            assert hf["tokens"] == tokens, (hf["tokens"], tokens)
            print(f"{name:20s} swift {swift_rate / 1e6:6.2f} M tok/s (load {load:.2f} s) | "
                  f"tokenizers {hf_rate / 1e6:6.2f} M tok/s (load {hf['load']:.2f} s) | ratio {swift_rate / hf_rate:5.2f} | "
                  f"100k-char word: swift {max(word_total - load, 0) / len(words):.3f} s, "
                  f"tokenizers {hf_word['encode'] / len(words):.3f} s")


if __name__ == "__main__":
    main()
