#!/usr/bin/env python3
"""Build the repository's ``data/`` folder from the shared raw data.

Usage (from the repository root)::

    python3 scripts/prepare_data.py                # reads ../shared/data, writes data/
    python3 scripts/prepare_data.py --shared PATH  # another copy of the shared data
    python3 scripts/prepare_data.py --check        # rebuild in memory, compare with data/

Standard library only.  The output is byte-for-byte reproducible (gzip with mtime 0 and
no file name in the header, fixed compression level).

What it writes (see data/README.md, which this script also writes):

* ``data/resume/``  byte copies of ``{train,dev,test}.char.bmes`` + README.md + SOURCE.md
* ``data/weibo/``   byte copies of ``weiboNER_2nd_conll.{train,dev,test}`` + README.md + SOURCE.md
* ``data/msra/``
    - ``train.bio.gz``  zh-NER-TF ``train_data`` minus the dev pieces (gzip)
    - ``dev.bio``       the train pieces that overlap the Lattice-LSTM ``dev.char.bmes`` sentences
    - ``test.bio``      byte copy of zh-NER-TF ``test_data``
    - README.md + SOURCE.md copied from the shared folder

The MSRA dev carve: every sentence of ``LatticeLSTM-format/dev.char.bmes`` occurs in the
text of ``train_data`` once full-width digits/letters are normalised to ASCII.  The script
concatenates the (normalised) train pieces without separators, locates each dev sentence with
``str.find`` from a running position (falling back to a search from the start if a sentence
is out of order), and moves every train piece that overlaps a located dev sentence into dev.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import gzip
import hashlib
import io
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

RESUME_FILES = ["train.char.bmes", "dev.char.bmes", "test.char.bmes"]
WEIBO_FILES = [f"weiboNER_2nd_conll.{s}" for s in ("train", "dev", "test")]
DOC_FILES = ["README.md", "SOURCE.md"]

MSRA_TRAIN = "zh-NER-TF/train_data"
MSRA_TEST = "zh-NER-TF/test_data"
MSRA_LATTICE_DEV = "LatticeLSTM-format/dev.char.bmes"

LATTICE_TYPE_MAP = {"NR": "PER", "NS": "LOC", "NT": "ORG"}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Full-width digits and Latin letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A) -> ASCII."""
    out = []
    for ch in text:
        o = ord(ch)
        if 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
            out.append(chr(o - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


class Sentence:
    __slots__ = ("tokens", "tags", "raw")

    def __init__(self, tokens, tags, raw):
        self.tokens = tokens  # list[str] (token column, as in the file)
        self.tags = tags  # list[str]
        self.raw = raw  # bytes: the sentence's lines exactly as in the file, incl. trailing blank line


def read_column_file(data: bytes, path: str, sep: str | None) -> list[Sentence]:
    """Parse a two-column ``token<sep>tag`` file with blank lines between sentences.

    ``sep`` None means any whitespace.  Keeps each sentence's raw bytes so that subsets can be
    written back unchanged.
    """
    text = data.decode("utf-8")
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    raw: list[str] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line == "":
            if tokens:
                raw.append("\n")
                sentences.append(Sentence(tokens, tags, "".join(raw).encode("utf-8")))
                tokens, tags, raw = [], [], []
            continue
        parts = line.split(sep) if sep is not None else line.split()
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path}:{lineno}: expected 'token{sep or ' '}tag', got {line!r}")
        tokens.append(parts[0])
        tags.append(parts[1])
        raw.append(line + "\n")
    if tokens:  # file without a final blank line
        sentences.append(Sentence(tokens, tags, "".join(raw).encode("utf-8")))
    return sentences


# --------------------------------------------------------------------------------------------
# Entity counting (strict: opened by B-/S-; lenient: conlleval start-of-chunk rule)
# --------------------------------------------------------------------------------------------


def split_tag(tag: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    prefix, _, typ = tag.partition("-")
    return prefix, typ


def count_entities(tags: list[str]) -> tuple[collections.Counter, collections.Counter]:
    """Return (strict, lenient) Counters by type for one sentence."""
    strict: collections.Counter = collections.Counter()
    lenient: collections.Counter = collections.Counter()
    prev_p, prev_t = "O", ""
    for tag in tags:
        p, t = split_tag(tag)
        if p in ("B", "S"):
            strict[t] += 1
        # conlleval startOfChunk, with M treated like I
        start = False
        if p in ("B", "S"):
            start = True
        elif p in ("I", "M", "E"):
            if prev_p in ("E", "S", "O") or prev_t != t:
                start = True
        if start:
            lenient[t] += 1
        prev_p, prev_t = p, t
    return strict, lenient


class SplitStats:
    def __init__(self, name: str, sentences: list[Sentence], first_codepoint: bool = False):
        self.name = name
        self.sentences = len(sentences)
        if first_codepoint:  # Weibo: token = char + word-position digits
            self.chars = sum(len(s.tokens) for s in sentences)
        else:
            self.chars = sum(len("".join(s.tokens)) for s in sentences)
        self.strict: collections.Counter = collections.Counter()
        self.lenient: collections.Counter = collections.Counter()
        for s in sentences:
            st, le = count_entities(s.tags)
            self.strict.update(st)
            self.lenient.update(le)

    def row(self) -> str:
        per_type = ", ".join(f"{t} {self.lenient[t]:,}" for t in sorted(self.lenient))
        return (
            f"| {self.name} | {self.sentences:,} | {self.chars:,} | "
            f"{sum(self.strict.values()):,} | {sum(self.lenient.values()):,} | {per_type} |"
        )


TABLE_HEADER = (
    "| split | sentences | chars | entities (strict) | entities (lenient) | per type (lenient) |\n"
    "|---|---|---|---|---|---|"
)


# --------------------------------------------------------------------------------------------
# MSRA dev carve
# --------------------------------------------------------------------------------------------


class Carve:
    def __init__(self):
        self.dev_sentences = 0
        self.matched = 0
        self.in_order = 0
        self.out_of_order = 0
        self.unmatched: list[int] = []
        self.misaligned = 0  # matched dev sentences whose ends are not train piece boundaries
        self.multi_occurrence = 0  # dev sentences whose text occurs more than once in train
        self.contiguous_tail = False
        self.moved: list[int] = []  # indices of train pieces moved to dev (sorted)
        self.entity_agreement = None  # (same spans, lattice-only, carved-only)


def carve_msra_dev(train: list[Sentence], lattice_dev: list[Sentence]) -> Carve:
    c = Carve()
    c.dev_sentences = len(lattice_dev)
    # train_data is already normalised; normalise again anyway (idempotent) so the carve does not
    # depend on that.
    piece_texts = [normalise("".join(s.tokens)) for s in train]
    starts = []
    pos = 0
    for t in piece_texts:
        starts.append(pos)
        pos += len(t)
    ends = set(st + len(t) for st, t in zip(starts, piece_texts))
    start_set = set(starts)
    text = "".join(piece_texts)

    moved = set()
    spans = []  # (start, end) in the concatenated text, per matched dev sentence
    pos = 0
    for k, sent in enumerate(lattice_dev):
        d = normalise("".join(sent.tokens))
        i = text.find(d, pos)
        if i >= 0:
            c.in_order += 1
        else:
            i = text.find(d)
            if i >= 0:
                c.out_of_order += 1
        if i < 0:
            c.unmatched.append(k)
            continue
        c.matched += 1
        if text.find(d, text.find(d) + 1) >= 0:
            c.multi_occurrence += 1
        e = i + len(d)
        if i not in start_set or e not in ends:
            c.misaligned += 1
        a = bisect.bisect_right(starts, i) - 1
        b = bisect.bisect_left(starts, e)
        moved.update(range(a, b))
        spans.append((i, e, sent))
        pos = max(pos, e)
    c.moved = sorted(moved)
    c.contiguous_tail = bool(c.moved) and c.moved == list(range(c.moved[0], len(train)))

    # Entity agreement between the carved BIO pieces and the Lattice-LSTM BMES dev
    # (types NR/NS/NT -> PER/LOC/ORG), compared as (start, end, type) over the concatenated text.
    def spans_of(tags, offset, type_map=None):
        out = set()
        cur = None
        prev_p, prev_t = "O", ""
        for j, tag in enumerate(tags + ["O"]):
            p, t = split_tag(tag)
            if type_map:
                t = type_map.get(t, t)
            end_prev = prev_p in ("B", "I", "M") and (p in ("B", "S", "O") or t != prev_t) or prev_p in ("E", "S")
            if cur is not None and end_prev:
                out.add((cur[0], offset + j, cur[1]))
                cur = None
            start = p in ("B", "S") or (p in ("I", "M", "E") and (prev_p in ("E", "S", "O") or prev_t != t))
            if start:
                cur = (offset + j, t)
            prev_p, prev_t = p, t
        return out

    lattice_spans = set()
    for i, e, sent in spans:
        lattice_spans |= spans_of(sent.tags, i, LATTICE_TYPE_MAP)
    carved_spans = set()
    for k in c.moved:
        carved_spans |= spans_of(train[k].tags, starts[k])
    c.entity_agreement = (
        len(lattice_spans & carved_spans),
        len(lattice_spans - carved_spans),
        len(carved_spans - lattice_spans),
    )
    return c


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    # filename="" and mtime=0: no name and no time stamp in the header -> reproducible bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def readme_text(files: dict, stats: dict, carve: Carve, msra_counts: dict) -> str:
    def table(prefix):
        return "\n".join(stats[k].row() for k in stats if k.startswith(prefix))

    def file_rows(prefix):
        rows = []
        for path in sorted(files):
            if path.startswith(prefix) and not path.endswith(".md"):
                rows.append(f"| `{path}` | {len(files[path]):,} | `{sha256(files[path])[:16]}…` |")
        return "\n".join(rows)

    ea = carve.entity_agreement
    tr, dv, te = msra_counts["train"], msra_counts["dev"], msra_counts["test"]
    return f"""# data/

Datasets used by nerco, committed so that a fresh clone works offline.
Everything here is generated by

    python3 scripts/prepare_data.py            # from the repository root; reads ../shared/data

from the raw copies in `../shared/data` (override with `--shared PATH`). The script is
deterministic: rerunning it reproduces these bytes (`--check` verifies that without writing;
the gzip bytes could only differ under a different zlib build).
Provenance, upstream commits, checksums of the raw files and licence notes are in each folder's
`SOURCE.md` and `README.md`, copied unchanged from the shared data.

All files are UTF-8 with LF line endings: one token per line, a tag after a separator, and a
blank line after every sentence. Entity counts below are "strict" (opened by `B-`/`S-`) and
"lenient" (the conlleval rule: an `I-`/`M-`/`E-` after `O` or after another type also opens an
entity); per-type counts are lenient.

## resume/ (Zhang & Yang 2018)

Byte copies of `{{train,dev,test}}.char.bmes` — see `resume/SOURCE.md`. `char<SPACE>tag`,
BMES (`B- M- E- S-` + `O`), 8 types (CONT EDU LOC NAME ORG PRO RACE TITLE).

{TABLE_HEADER}
{table("resume")}

## weibo/ (Peng & Dredze 2015/2016, revised "2nd" version)

Byte copies of `weiboNER_2nd_conll.{{train,dev,test}}` — see `weibo/SOURCE.md`. `token<TAB>tag`,
BIO, 8 types (`PER LOC GPE ORG` × `.NAM .NOM`). The token is the character followed by its
position in the jieba word (`科0`, sometimes two digits): the character is its first code point.

{TABLE_HEADER}
{table("weibo")}

## msra/ (SIGHAN 2006 MSRA NER)

Derived from the zh-NER-TF copy of MSRA (see `msra/SOURCE.md` and `msra/README.md`):
`char<TAB>tag`, BIO, types `PER LOC ORG`, full-width digits and Latin letters already
normalised to ASCII, long lines clipped into pieces of at most 100 characters (so "sentences"
below are pieces).

- `test.bio` — byte copy of zh-NER-TF `test_data`: the paper's 172,601 test characters.
- `dev.bio` — a dev set carved out of zh-NER-TF `train_data` (see below), same format and
  normalisation as train and test.
- `train.bio.gz` — zh-NER-TF `train_data` minus the dev pieces, gzip-compressed
  (`zcat msra/train.bio.gz` gives the plain file).

**The dev carve.** The Lattice-LSTM release's MSRA `dev.char.bmes` ({carve.dev_sentences:,} line-level
sentences, BMES, types NR/NS/NT, full-width characters kept) is a dev set carved out of the
original train. Its sentences were located in the normalised `train_data` text (train pieces
concatenated without separators; `str.find` from a running position):

- {carve.matched:,} of {carve.dev_sentences:,} dev sentences matched: {carve.in_order:,} in train order,
  {carve.out_of_order} out of order, {len(carve.unmatched)} unmatched. {carve.misaligned} matched sentences fail to
  start and end on train piece boundaries. {carve.multi_occurrence} dev sentence text(s) occur more than once in
  train (the occurrence found in order was taken; the other copy stays in train).
- The {len(carve.moved):,} train pieces that overlap a matched dev sentence were moved to `dev.bio`
  with their own BIO tags, in `train_data`'s normalised form.
  {"They are exactly the last " + format(len(carve.moved), ",") + " pieces of `train_data`: the Lattice-LSTM dev is the contiguous tail of" + chr(10) + "  train, so `train.bio.gz` decompresses to a byte prefix of `train_data`, and train + dev is `train_data`." if carve.contiguous_tail else "They are not one contiguous block of `train_data`."}
- Entities of the carved pieces compared with the Lattice-LSTM dev (NR→PER, NS→LOC, NT→ORG, same
  character offsets): {ea[0]:,} identical spans, {ea[1]:,} only in the Lattice-LSTM file,
  {ea[2]:,} only in the carved pieces.
- Train + dev = {tr.chars + dv.chars:,} chars, the paper's MSRA train character count.
- The clipping cut a few entities across pieces, so some pieces start with `I-`: that is the
  difference between the strict and lenient counts of train and test below.

{TABLE_HEADER}
{table("msra")}

The 46,364-sentence line-level train of Lattice LSTM / FLAT / NerCo is not public in a form that
could be recovered (see `msra/SOURCE.md`); report MSRA results as trained on the clipped pieces.

## Files

| file | bytes | sha256 (prefix) |
|---|---|---|
{file_rows("")}
"""


def build(shared: Path):
    """Return (files: {relative path: bytes}, stats, carve, log lines)."""
    files: dict[str, bytes] = {}
    stats: dict[str, SplitStats] = {}

    def raw(rel: str) -> bytes:
        p = shared / rel
        if not p.is_file():
            raise SystemExit(f"missing input file: {p}")
        return p.read_bytes()

    # Resume and Weibo: byte copies.
    for name, fnames, sep in (("resume", RESUME_FILES, " "), ("weibo", WEIBO_FILES, "\t")):
        for fn in fnames + DOC_FILES:
            files[f"{name}/{fn}"] = raw(f"{name}/{fn}")
        for fn, split in zip(fnames, ("train", "dev", "test")):
            sents = read_column_file(files[f"{name}/{fn}"], fn, sep)
            stats[f"{name} {split}"] = SplitStats(f"{name} {split}", sents, first_codepoint=(name == "weibo"))

    # MSRA.
    train_raw = raw(f"msra/{MSRA_TRAIN}")
    test_raw = raw(f"msra/{MSRA_TEST}")
    train = read_column_file(train_raw, MSRA_TRAIN, "\t")
    assert b"".join(s.raw for s in train) == train_raw, "train_data does not round-trip"
    test = read_column_file(test_raw, MSRA_TEST, "\t")
    lattice_dev = read_column_file(raw(f"msra/{MSRA_LATTICE_DEV}"), MSRA_LATTICE_DEV, " ")

    carve = carve_msra_dev(train, lattice_dev)
    moved = set(carve.moved)
    new_train = [s for k, s in enumerate(train) if k not in moved]
    new_dev = [train[k] for k in carve.moved]

    train_bytes = b"".join(s.raw for s in new_train)
    files["msra/train.bio.gz"] = gzip_bytes(train_bytes)
    files["msra/dev.bio"] = b"".join(s.raw for s in new_dev)
    files["msra/test.bio"] = test_raw
    for fn in DOC_FILES:
        files[f"msra/{fn}"] = raw(f"msra/{fn}")
    msra_counts = {
        "train": SplitStats("msra train", new_train),
        "dev": SplitStats("msra dev", new_dev),
        "test": SplitStats("msra test", test),
    }
    for k, v in msra_counts.items():
        stats[f"msra {k}"] = v

    files["README.md"] = readme_text(files, stats, carve, msra_counts).encode("utf-8")
    return files, stats, carve, train_bytes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--shared",
        type=Path,
        default=None,
        help="the shared raw data folder (default: ../shared/data relative to the repository root)",
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="output folder (default: data/ in the repository root)"
    )
    ap.add_argument("--check", action="store_true", help="compare with the output folder, write nothing")
    args = ap.parse_args(argv)

    shared = (args.shared if args.shared is not None else REPO_ROOT / ".." / "shared" / "data").resolve()
    out = (args.out if args.out is not None else REPO_ROOT / "data").resolve()
    print(f"shared data: {shared}")
    print(f"output:      {out}")

    files, stats, carve, train_bytes = build(shared)

    print()
    print("MSRA dev carve (Lattice-LSTM dev.char.bmes located in zh-NER-TF train_data):")
    print(f"  dev sentences: {carve.dev_sentences:,}; matched {carve.matched:,} "
          f"(in order {carve.in_order:,}, out of order {carve.out_of_order}); unmatched {len(carve.unmatched)}")
    if carve.unmatched:
        print(f"  unmatched dev sentence indices (0-based): {carve.unmatched}")
    print(f"  matched but not on piece boundaries: {carve.misaligned}; "
          f"text occurring more than once in train: {carve.multi_occurrence}")
    print(f"  train pieces moved to dev: {len(carve.moved):,} "
          f"(contiguous tail of train_data: {'yes' if carve.contiguous_tail else 'no'})")
    ea = carve.entity_agreement
    print(f"  entity spans vs Lattice-LSTM dev: same {ea[0]:,}, lattice-only {ea[1]:,}, carved-only {ea[2]:,}")
    print()
    print(TABLE_HEADER)
    for s in stats.values():
        print(s.row())
    print()

    if args.check:
        bad = 0
        for rel, data in sorted(files.items()):
            p = out / rel
            if not p.is_file() or p.read_bytes() != data:
                print(f"DIFFERS: {rel}")
                bad += 1
        print("check: OK" if not bad else f"check: {bad} file(s) differ")
        return 1 if bad else 0

    for rel, data in sorted(files.items()):
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)
    # Sanity: the written gzip decompresses to the intended train text.
    assert gzip.decompress((out / "msra/train.bio.gz").read_bytes()) == train_bytes

    total = 0
    print("| file | bytes |\n|---|---|")
    for rel in sorted(files):
        n = (out / rel).stat().st_size
        total += n
        print(f"| {rel} | {n:,} |")
    print(f"| total | {total:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
