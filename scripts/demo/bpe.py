"""A small deterministic BPE trainer and a Gemma-style tokenizer.json built from its result.

The `tokenizers` trainer breaks ties between equally frequent pairs in an order that is not
guaranteed across runs, so the demo trains its merges here (ties broken by the pair's text) and only
uses `tokenizers` to assemble and check the final file.
"""

import json
import re
from collections import Counter

from tokenizers import Tokenizer, decoders, models, normalizers, processors

SPACE = "\u2581"  # "▁", SentencePiece's visible space
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]

# Training-time word split: a word starts at every "▁"; punctuation and newlines stand alone.
# No learned token ever spans one of these boundaries, so the final tokenizer (which, like Gemma's,
# has no pre-tokenizer and merges the whole string as one word) segments text the same way.
_WORD = re.compile(r"[:?.,'!\n]|" + SPACE + r"?[^" + SPACE + r":?.,'!\n]+|" + SPACE)


def split_words(text: str) -> list[str]:
    return _WORD.findall(text.replace(" ", SPACE))


def train_merges(texts: list[str], num_merges: int, min_frequency: int = 2):
    """Returns (alphabet, merges) learned from `texts`, fully deterministic."""
    counts = Counter()
    for text in texts:
        counts.update(split_words(text))
    words = {tuple(w): c for w, c in counts.items()}
    alphabet = sorted({ch for w in words for ch in w})
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < min_frequency:
            break
        best = min(p for p, c in pairs.items() if c == best_count)
        merges.append(best)
        joined = best[0] + best[1]
        new_words = {}
        for w, c in words.items():
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(joined)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            key = tuple(out)
            new_words[key] = new_words.get(key, 0) + c
        words = new_words
    return alphabet, merges


def build_tokenizer(alphabet: list[str], merges: list[tuple[str, str]]) -> Tokenizer:
    """Gemma-2-style tokenizer: <pad>=0 <eos>=1 <bos>=2 <unk>=3, byte-fallback tokens, BPE pieces."""
    vocab: dict[str, int] = {}
    for token in SPECIALS + BYTE_TOKENS + alphabet + [a + b for a, b in merges]:
        if token not in vocab:
            vocab[token] = len(vocab)
    model = models.BPE(vocab=vocab, merges=list(merges), unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens(SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return tok


def tokenizer_config() -> dict:
    """tokenizer_config.json in the shape Gemma-2 ships (the fields a loader needs)."""
    added = {
        str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                 "special": True}
        for i, t in enumerate(SPECIALS)
    }
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": "<bos>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "<eos>",
        "model_max_length": 128,
        "pad_token": "<pad>",
        "padding_side": "left",
        "spaces_between_special_tokens": False,
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


def write_json(path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
