"""Build the tiny random BERT fixture in tests/fixtures/bert-tiny/ with Hugging Face transformers.

No hub download: the model comes from a BertConfig with random weights (seeded), saved in the
layout of a Chinese BERT checkpoint (BertForMaskedLM: `bert.`-prefixed keys plus the MLM head).
The Rust tests compare model_core's BERT against `reference.json`, so Python is needed only to
regenerate the fixture:

    /work/main/bench/.venv/bin/python scripts/make_bert_fixture.py

The vocabulary is the special tokens plus the 120 most frequent characters of
tests/fixtures/resume-tiny.char.bmes (the rest map to [UNK], which the tests exercise). [UNK] and
[CLS] sit at unusual ids on purpose, so code that assumes bert-base-chinese's ids fails.
"""

import collections
import json
import pathlib

import torch
from transformers import BertConfig, BertForMaskedLM

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "bert-tiny"


def vocabulary():
    counts = collections.Counter()
    for line in (ROOT / "tests/fixtures/resume-tiny.char.bmes").read_text("utf-8").splitlines():
        parts = line.split()
        if parts:
            counts[parts[0]] += 1
    chars = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:120]]
    tokens = ["[PAD]"] + chars[:7] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars[7:]
    # A word piece, as real BERT vocabularies have; characters never map to it.
    tokens.append("##的")
    return tokens


def main():
    torch.manual_seed(7)
    tokens = vocabulary()
    config = BertConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        pad_token_id=0,
        initializer_range=0.2,
    )
    model = BertForMaskedLM(config)
    # Random LayerNorm scales and biases too, so a loader that mixes them up fails the test.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "vocab.txt").write_text("".join(t + "\n" for t in tokens), "utf-8")

    index = {t: i for i, t in enumerate(tokens)}
    unk, cls, sep, pad = index["[UNK]"], index["[CLS]"], index["[SEP]"], index["[PAD]"]

    def encode(text):
        return [cls] + [index.get(c, unk) for c in text] + [sep]

    texts = ["高勇：男，中国国籍，无境外居留权，", "1966年出生，汉族", "张三在魑魅"]
    ids = [encode(t) for t in texts]
    width = max(len(x) for x in ids)
    mask = [[1] * len(x) + [0] * (width - len(x)) for x in ids]
    padded = [x + [pad] * (width - len(x)) for x in ids]
    with torch.no_grad():
        batch = model.bert(
            input_ids=torch.tensor(padded),
            attention_mask=torch.tensor(mask),
        ).last_hidden_state
        # Each sentence alone, unpadded: real positions must not depend on the padding.
        alone = [model.bert(input_ids=torch.tensor([x])).last_hidden_state[0] for x in ids]
    for k, x in enumerate(ids):
        diff = (batch[k, : len(x)] - alone[k]).abs().max().item()
        assert diff < 1e-5, f"padding changed sentence {k} by {diff}"
    reference = {
        "texts": texts,
        "input_ids": padded,
        "attention_mask": mask,
        "hidden_size": config.hidden_size,
        "last_hidden_state": batch.tolist(),
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
    }
    (OUT / "reference.json").write_text(json.dumps(reference), "utf-8")
    print(f"wrote {OUT}: vocab {len(tokens)}, batch {len(ids)}x{width}")


if __name__ == "__main__":
    main()
