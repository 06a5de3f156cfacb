"""The nerco tagger in PyTorch (CPU or CUDA), for the training-throughput comparison of `nerco bench`.

Same architecture as model-core: char + bigram embeddings -> dropout -> projection -> one
post-LN Transformer layer with FLAT-style relative-position attention (a sinusoidal distance
table, fused by a ReLU linear layer, projected per head and gathered into the L x L scores;
unscaled; Transformer-XL u/v biases) and a 3x feed-forward -> dropout -> linear -> CRF NLL
(forward algorithm, autograd). Stage 1 uses the vectorised Semantic-Class InfoNCE
(Non-Entity tokens are not queries). AdamW with gradient value clipping.

Reads the batches `nerco bench --suite train` exports (bench/batches_resume.json), runs
`warmup_batches` untimed steps, then the rest timed, and prints `TOKENS_PER_S <x>`.

    bench/.venv/bin/python bench/torch_tagger.py --batches bench/batches_resume.json --stage 1

`--infer` is the inference comparison of `nerco bench --suite inference`: the batches `nerco`'s
pipeline runs over the MSRA test set (bench/batches_msra_infer.json), under
`torch.inference_mode()` in eval mode, emissions and a batched Viterbi (with the tag scheme's
constraints) up to tag names on the host; one untimed warm-up pass, then one timed pass, and
prints `SENTENCES_PER_S <x>`.

`--device cuda` runs it on a GPU (scripts/gpu-check.sh): every tensor is made there, and the
clock waits for the device before it stops.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NON_ENTITY = 0


class RelativeAttention(nn.Module):
    def __init__(self, d, heads, scaled=False):
        super().__init__()
        self.h, self.hd, self.d, self.scaled = heads, d // heads, d, scaled
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.rel = nn.Linear(d, d)
        self.fusion = nn.Linear(2 * d, d)
        self.u = nn.Parameter(torch.zeros(heads, self.hd))
        self.v = nn.Parameter(torch.zeros(heads, self.hd))
        self.out = nn.Linear(d, d)

    @staticmethod
    def distance_encoding(length, d):
        half = d // 2
        dist = torch.arange(-(length - 1), length, dtype=torch.float32).unsqueeze(1)
        k = torch.arange(half, dtype=torch.float32)
        freq = torch.exp(-k * math.log(10000.0) / max(half, 1))
        ang = dist * freq
        return torch.cat([torch.sin(ang), torch.cos(ang)], 1)  # [2L-1, d]

    def forward(self, x, pad):
        b, l, d = x.shape
        h, hd = self.h, self.hd
        heads = lambda t: t.view(b, l, h, hd).transpose(1, 2)  # [b, h, l, hd]
        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        pe = self.distance_encoding(l, d)
        fused = F.relu(self.fusion(torch.cat([pe, pe], 1)))
        r = self.rel(fused).view(2 * l - 1, h, hd).transpose(0, 1)  # [h, 2l-1, hd]
        content = (q + self.u.view(1, h, 1, hd)) @ k.transpose(2, 3)  # [b, h, l, l]
        by_dist = (q + self.v.view(1, h, 1, hd)) @ r.transpose(1, 2).unsqueeze(0)  # [b, h, l, 2l-1]
        i = torch.arange(l)
        idx = (i.view(l, 1) - i.view(1, l) + l - 1).view(1, 1, l, l).expand(b, h, l, l)
        scores = content + by_dist.gather(3, idx)
        if self.scaled:
            scores = scores / math.sqrt(hd)
        scores = scores.masked_fill(pad.view(b, 1, 1, l), -1e9)
        attn = torch.softmax(scores, 3)
        ctx = (attn @ v).transpose(1, 2).reshape(b, l, d)
        return self.out(ctx)


class Tagger(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.chars = nn.Embedding(c["n_chars"], c["char_dim"])
        self.bigrams = nn.Embedding(c["n_bigrams"], c["bigram_dim"])
        nn.init.normal_(self.chars.weight, 0.0, 0.1)
        nn.init.normal_(self.bigrams.weight, 0.0, 0.1)
        self.proj = nn.Linear(c["char_dim"] + c["bigram_dim"], d)
        self.drop_embed = nn.Dropout(c["dropout_embed"])
        self.attention = RelativeAttention(d, c["n_heads"], c["scaled_attention"])
        self.norm_attn = nn.LayerNorm(d)
        self.ff_in = nn.Linear(d, d * c["ff_mult"])
        self.ff_out = nn.Linear(d * c["ff_mult"], d)
        self.norm_ff = nn.LayerNorm(d)
        self.drop_ff = nn.Dropout(c["dropout_ff"])
        self.drop_res = nn.Dropout(c["dropout_residual"])
        self.drop_out = nn.Dropout(c["dropout_out"])
        n = c["n_tags"]
        self.head = nn.Linear(d, n)
        self.transitions = nn.Parameter(torch.zeros(n, n))
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        p = c["penalties"]
        self.register_buffer("pen_t", torch.tensor(p["transitions"]).view(n, n))
        self.register_buffer("pen_s", torch.tensor(p["start"]))
        self.register_buffer("pen_e", torch.tensor(p["end"]))

    def encode(self, chars, bigrams, pad):
        x = torch.cat([self.chars(chars), self.bigrams(bigrams)], 2)
        x = self.proj(self.drop_embed(x))
        x = self.norm_attn(x + self.drop_res(self.attention(x, pad)))
        f = self.ff_out(self.drop_ff(F.relu(self.ff_in(x))))
        return self.norm_ff(x + self.drop_res(f))

    def crf_nll(self, reps, tags, lengths):
        em = self.head(self.drop_out(reps))  # [b, l, n]
        b, l, n = em.shape
        trans = self.transitions + self.pen_t
        start, end = self.start + self.pen_s, self.end + self.pen_e
        live = torch.arange(l).view(1, l) < lengths.view(b, 1)  # [b, l]
        # Log partition by the forward algorithm.
        alpha = em[:, 0] + start
        for t in range(1, l):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0) + em[:, t].unsqueeze(1), 1)
            alpha = torch.where(live[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + end, 1)
        # Gold path score.
        emit = em.gather(2, tags.unsqueeze(2)).squeeze(2)
        score = (emit * live).sum(1)
        tr = trans[tags[:, :-1], tags[:, 1:]]
        score = score + (tr * live[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1).view(b, 1)).squeeze(1)
        score = score + start[tags[:, 0]] + end[last]
        return (log_z - score).sum()


def info_nce(reps, classes, tau):
    """Vectorised Semantic-Class InfoNCE, as model-core's: one Q x N block, masks."""
    n = reps.shape[0]
    counts = torch.bincount(classes)
    total = n
    w_class = torch.zeros(len(counts))
    for c, k in enumerate(counts.tolist()):
        if c != NON_ENTITY and k >= 2 and total > k:
            w_class[c] = 1.0 / (k * (k - 1))
    qmask = w_class[classes] > 0
    if not bool(qmask.any()):
        return None
    qrows = qmask.nonzero().squeeze(1)
    h = F.normalize(reps, dim=1, eps=1e-12)
    sim = (h[qrows] @ h.t()) / tau  # [q, n]
    same = classes[qrows].view(-1, 1) == classes.view(1, -1)
    lse_neg = torch.logsumexp(sim.masked_fill(same, -1e30), 1, keepdim=True)
    pair_w = same.float() * w_class[classes[qrows]].view(-1, 1)
    pair_w[torch.arange(len(qrows)), qrows] = 0.0
    return (F.softplus(lse_neg - sim) * pair_w).sum()


def viterbi(em, lengths, trans, start, end):
    """Best tag paths of a padded batch, `em` [b, l, n]: the max-product forward pass with
    back-pointers, then the back-trace; a padded step keeps each tag's score and points at itself."""
    b, l, n = em.shape
    live = torch.arange(l).view(1, l) < lengths.view(b, 1)
    score = em[:, 0] + start
    keep = torch.arange(n).view(1, n).expand(b, n)
    back = []
    for t in range(1, l):
        best, arg = (score.unsqueeze(2) + trans.unsqueeze(0)).max(1)  # over the previous tag
        on = live[:, t : t + 1]
        score = torch.where(on, best + em[:, t], score)
        back.append(torch.where(on, arg, keep))
    tag = (score + end).argmax(1)
    path = [tag]
    for arg in reversed(back):
        tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    return torch.stack(path[::-1], 1)  # [b, l]


def check_viterbi(trials=50):
    """The batched Viterbi against brute force over every path (small random cases)."""
    import itertools
    g = torch.Generator().manual_seed(0)
    for _ in range(trials):
        b, l, n = 3, 4, 3
        em, trans = torch.randn(b, l, n, generator=g), torch.randn(n, n, generator=g)
        start, end = torch.randn(n, generator=g), torch.randn(n, generator=g)
        lengths = torch.randint(1, l + 1, (b,), generator=g)
        got = viterbi(em, lengths, trans, start, end)
        for i in range(b):
            k = int(lengths[i])
            def score(p):
                s = start[p[0]] + end[p[-1]] + sum(em[i, t, p[t]] for t in range(k))
                return s + sum(trans[p[t - 1], p[t]] for t in range(1, k))
            best = max(itertools.product(range(n), repeat=k), key=score)
            assert got[i, :k].tolist() == list(best), (got[i, :k], best)
    print("viterbi ok")


def infer(c):
    """One warm-up pass and one timed pass over the exported inference batches."""
    model = Tagger(c)
    model.eval()
    names = c["tag_names"]
    trans = model.transitions + model.pen_t
    start, end = model.start + model.pen_s, model.end + model.pen_e

    def run():
        out = []
        for batch in c["batches"]:
            chars, bigrams, pad, lengths, _, _ = pad_batch(batch, labelled=False)
            em = model.head(model.encode(chars, bigrams, pad))
            paths = viterbi(em, lengths, trans, start, end).tolist()
            out.extend([names[t] for t in p[:n]] for p, n in zip(paths, lengths.tolist()))
        return out

    with torch.inference_mode():
        run()
        t0 = time.perf_counter()
        tags = run()
        dt = time.perf_counter() - t0
    assert sum(map(len, tags)) == c["characters"]
    print(f"TORCH {torch.__version__} threads={torch.get_num_threads()} device=cpu")
    print(f"SENTENCES {c['sentences']} SECONDS {dt:.3f}")
    print(f"SENTENCES_PER_S {c['sentences'] / dt:.1f}")


def pad_batch(batch, labelled=True):
    lengths = torch.tensor([len(s) for s in batch["chars"]])
    b, l = len(lengths), int(lengths.max())
    def padded(key, fill=0):
        t = torch.full((b, l), fill, dtype=torch.long)
        for i, s in enumerate(batch[key]):
            t[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return t
    pad = torch.arange(l).view(1, l) >= lengths.view(b, 1)
    if not labelled:
        return padded("chars"), padded("bigrams"), pad, lengths, None, None
    return padded("chars"), padded("bigrams"), pad, lengths, padded("tags"), padded("classes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="bench/batches_resume.json")
    ap.add_argument("--stage", type=int, choices=[1, 2], default=1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--infer", action="store_true", help="the inference comparison (see above)")
    ap.add_argument("--check-viterbi", action="store_true", help="test viterbi by brute force")
    args = ap.parse_args()
    if args.check_viterbi:
        return check_viterbi()
    torch.set_default_device(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.batches) as f:
        c = json.load(f)
    if args.infer:
        return infer(c)
    warmup = c["warmup_batches"] if args.warmup is None else args.warmup
    batches = [pad_batch(b) for b in c[f"stage{args.stage}"]]
    model = Tagger(c)
    model.train()
    s = args.stage - 1
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=c["weight_decay"][s])
    clip = c["clip"][s]

    def step(batch):
        chars, bigrams, pad, lengths, tags, classes = batch
        reps = model.encode(chars, bigrams, pad)
        if args.stage == 1:
            live = ~pad
            loss = info_nce(reps[live], classes[live], c["tau"])
            if loss is None:
                return
            loss.item()
        else:
            loss = model.crf_nll(reps, tags, lengths)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_value_(model.parameters(), clip)
        opt.step()

    for b in batches[:warmup]:
        step(b)
    tokens = sum(int(b[3].sum()) for b in batches[warmup:])
    sync()
    t0 = time.perf_counter()
    for b in batches[warmup:]:
        step(b)
    sync()
    dt = time.perf_counter() - t0
    print(f"TORCH {torch.__version__} threads={torch.get_num_threads()} device={args.device}")
    print(f"TOKENS {tokens} SECONDS {dt:.3f}")
    print(f"TOKENS_PER_S {tokens / dt:.1f}")


if __name__ == "__main__":
    main()
