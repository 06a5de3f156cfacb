#!/usr/bin/env python3
"""Chunk-level NER scoring: a Python port of the CoNLL ``conlleval.pl`` script.

This is an independent reference scorer for checking the Rust evaluator. It ports the Perl
algorithm: the ``startOfChunk`` / ``endOfChunk`` rules, the ``inCorrect`` state machine that
counts a chunk as correct only when the gold and the predicted chunk start at the same token,
end at the same token and have the same type, and the report format.

Differences from the 2004 Perl script, all for tag schemes it predates:

* ``S-`` (single) is handled as in the widely used BIOES extension of conlleval: ``B-`` and
  ``S-`` always start a chunk; a chunk always ends after ``E-`` or ``S-``, and before ``B-``,
  ``S-`` or ``O``. On IOB1, IOB2, IOE1 and IOE2 input this gives the same results as the Perl
  script.
* ``M-`` (BMES "middle") is read as ``I-``, so a BMES file scores exactly like the same file in
  BIOES.

As in conlleval, chunks are decoded leniently: an ``I-``/``E-`` after ``O`` (or after a chunk of
another type) opens a new chunk, and an unterminated chunk ends at the next ``O``, chunk start,
type change or sentence boundary.

Input: one token per line, whitespace-separated fields, the LAST two fields are the gold tag and
the predicted tag (``char gold pred``); a blank line ends a sentence. Every non-blank line must
have the same number of fields.

Usage::

    python3 tests/conlleval.py [FILE]            # conlleval-style report (stdin if no FILE)
    python3 tests/conlleval.py --json [FILE]     # JSON: precision, recall, f1 (0..100), counts,
                                                 # per_type
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable

_TAG_RE = re.compile(r"^([^-]*)-(.*)$")


class ConllevalError(ValueError):
    pass


def split_tag(tag: str) -> tuple[str, str]:
    """``B-PER`` -> (``B``, ``PER``); ``O`` -> (``O``, ``""``). ``M`` is mapped to ``I``.

    Like the Perl regex ``^([^-]*)-(.*)$``: the prefix stops at the first hyphen, the type is the
    rest (so ``B-PER.NAM`` -> ``PER.NAM``).
    """
    m = _TAG_RE.match(tag)
    if m:
        prefix, typ = m.group(1), m.group(2)
    else:
        prefix, typ = tag, ""
    if prefix == "M":
        prefix = "I"
    return prefix, typ


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """True if a chunk ended between the previous token and the current one."""
    chunk_end = False
    if prev_tag == "E":
        chunk_end = True
    if prev_tag == "S":
        chunk_end = True

    if prev_tag == "B" and tag == "B":
        chunk_end = True
    if prev_tag == "B" and tag == "S":
        chunk_end = True
    if prev_tag == "B" and tag == "O":
        chunk_end = True
    if prev_tag == "I" and tag == "B":
        chunk_end = True
    if prev_tag == "I" and tag == "S":
        chunk_end = True
    if prev_tag == "I" and tag == "O":
        chunk_end = True

    if prev_tag != "O" and prev_tag != "." and prev_type != type_:
        chunk_end = True

    # conlleval 1998-12-22: bracket chunks have length 1
    if prev_tag == "]":
        chunk_end = True
    if prev_tag == "[":
        chunk_end = True
    return chunk_end


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """True if a chunk starts at the current token."""
    chunk_start = False
    if tag == "B":
        chunk_start = True
    if tag == "S":
        chunk_start = True

    if prev_tag == "E" and tag == "E":
        chunk_start = True
    if prev_tag == "E" and tag == "I":
        chunk_start = True
    if prev_tag == "S" and tag == "E":
        chunk_start = True
    if prev_tag == "S" and tag == "I":
        chunk_start = True
    if prev_tag == "O" and tag == "E":
        chunk_start = True
    if prev_tag == "O" and tag == "I":
        chunk_start = True

    if tag != "O" and tag != "." and prev_type != type_:
        chunk_start = True

    # conlleval 1998-12-22: bracket chunks have length 1
    if tag == "[":
        chunk_start = True
    if tag == "]":
        chunk_start = True
    return chunk_start


@dataclass
class Counts:
    correct_chunk: int = 0  # chunks predicted exactly (start, end, type)
    found_correct: int = 0  # gold chunks
    found_guessed: int = 0  # predicted chunks
    correct_tags: int = 0  # tokens whose full tag is right
    token_counter: int = 0
    t_correct_chunk: dict = field(default_factory=dict)
    t_found_correct: dict = field(default_factory=dict)
    t_found_guessed: dict = field(default_factory=dict)


def _inc(d: dict, key: str) -> None:
    d[key] = d.get(key, 0) + 1


def evaluate(
    lines: Iterable[str],
    boundary: str = "-X-",
    delimiter: str | None = None,
    raw: bool = False,
    otag: str = "O",
) -> Counts:
    """Score ``lines`` (each ``... gold pred``); return the counts."""
    c = Counts()
    n_features = -1
    in_correct = False
    last_correct, last_correct_type = "O", ""
    last_guessed, last_guessed_type = "O", ""

    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        features = line.split(delimiter) if delimiter is not None else line.split()
        if delimiter is not None and line.strip() == "":
            features = []
        if n_features < 0:
            n_features = len(features)
        elif n_features != len(features) and len(features) != 0:
            raise ConllevalError(
                f"line {lineno}: unexpected number of features: {len(features)} ({n_features})"
            )
        if len(features) == 0 or features[0] == boundary:
            features = [boundary, "O", "O"]
        if len(features) < 2:
            raise ConllevalError(f"line {lineno}: unexpected number of features in line {line!r}")

        if raw:
            if features[-1] == otag:
                features[-1] = "O"
            if features[-2] == otag:
                features[-2] = "O"
            if features[-1] != "O":
                features[-1] = "B-" + features[-1]
            if features[-2] != "O":
                features[-2] = "B-" + features[-2]

        guessed, guessed_type = split_tag(features[-1])
        correct, correct_type = split_tag(features[-2])
        first_item = features[0]

        # conlleval 1999-06-26: sentence breaks are always out of chunk
        if first_item == boundary:
            guessed = "O"

        if in_correct:
            gold_end = end_of_chunk(last_correct, correct, last_correct_type, correct_type)
            guess_end = end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
            if gold_end and guess_end and last_guessed_type == last_correct_type:
                in_correct = False
                c.correct_chunk += 1
                _inc(c.t_correct_chunk, last_correct_type)
            elif gold_end != guess_end or guessed_type != correct_type:
                in_correct = False

        gold_start = start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        guess_start = start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if gold_start and guess_start and guessed_type == correct_type:
            in_correct = True
        if gold_start:
            c.found_correct += 1
            _inc(c.t_found_correct, correct_type)
        if guess_start:
            c.found_guessed += 1
            _inc(c.t_found_guessed, guessed_type)
        if first_item != boundary:
            if correct == guessed and guessed_type == correct_type:
                c.correct_tags += 1
            c.token_counter += 1

        last_guessed, last_guessed_type = guessed, guessed_type
        last_correct, last_correct_type = correct, correct_type

    if in_correct:
        c.correct_chunk += 1
        _inc(c.t_correct_chunk, last_correct_type)
    return c


def evaluate_sequences(gold: list[list[str]], pred: list[list[str]]) -> Counts:
    """Score parallel lists of tag sequences (one list per sentence)."""
    if len(gold) != len(pred):
        raise ConllevalError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    lines = []
    for k, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ConllevalError(f"sentence {k}: {len(g)} gold tags but {len(p)} predicted")
        lines.extend(f"x {a} {b}" for a, b in zip(g, p))
        lines.append("")
    return evaluate(lines)


def _prf(correct: int, guessed: int, gold: int) -> tuple[float, float, float]:
    precision = 100.0 * correct / guessed if guessed > 0 else 0.0
    recall = 100.0 * correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def sorted_types(c: Counts) -> list[str]:
    return sorted(set(c.t_found_correct) | set(c.t_found_guessed))


def metrics(c: Counts) -> dict:
    """The JSON object: overall and per-type precision/recall/f1 in percent (0..100)."""
    p, r, f = _prf(c.correct_chunk, c.found_guessed, c.found_correct)
    out = {
        "precision": p,
        "recall": r,
        "f1": f,
        "correct": c.correct_chunk,
        "predicted": c.found_guessed,
        "gold": c.found_correct,
        "accuracy": 100.0 * c.correct_tags / c.token_counter if c.token_counter else 0.0,
        "tokens": c.token_counter,
        "per_type": {},
    }
    for t in sorted_types(c):
        k, g, n = c.t_correct_chunk.get(t, 0), c.t_found_guessed.get(t, 0), c.t_found_correct.get(t, 0)
        tp, tr, tf = _prf(k, g, n)
        out["per_type"][t] = {
            "precision": tp,
            "recall": tr,
            "f1": tf,
            "correct": k,
            "predicted": g,
            "gold": n,
        }
    return out


def report(c: Counts) -> str:
    """conlleval.pl's text report."""
    lines = [
        f"processed {c.token_counter} tokens with {c.found_correct} phrases; "
        f"found: {c.found_guessed} phrases; correct: {c.correct_chunk}."
    ]
    if c.token_counter > 0:
        p, r, f = _prf(c.correct_chunk, c.found_guessed, c.found_correct)
        lines.append(
            "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f"
            % (100.0 * c.correct_tags / c.token_counter, p, r, f)
        )
    for t in sorted_types(c):
        tp, tr, tf = _prf(c.t_correct_chunk.get(t, 0), c.t_found_guessed.get(t, 0), c.t_found_correct.get(t, 0))
        lines.append(
            "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d"
            % (t, tp, tr, tf, c.t_found_guessed.get(t, 0))
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="conlleval.pl port (BIO/BIOES/BMES)")
    ap.add_argument("file", nargs="?", help="input file (default: stdin)")
    ap.add_argument("--json", action="store_true", help="print a JSON object instead of the report")
    ap.add_argument("-b", "--boundary", default="-X-", help="sentence boundary token (default -X-)")
    ap.add_argument("-d", "--delimiter", default=None, help="field separator (default: any whitespace)")
    ap.add_argument("-r", "--raw", action="store_true", help="tags have no B-/I- prefix")
    ap.add_argument("-o", "--otag", default="O", help="outside tag in raw mode (default O)")
    args = ap.parse_args(argv)

    try:
        if args.file:
            with open(args.file, encoding="utf-8") as f:
                counts = evaluate(f, args.boundary, args.delimiter, args.raw, args.otag)
        else:
            counts = evaluate(sys.stdin, args.boundary, args.delimiter, args.raw, args.otag)
    except ConllevalError as e:
        print(f"conlleval: {args.file or '<stdin>'}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(metrics(counts), ensure_ascii=False, sort_keys=False))
    else:
        sys.stdout.write(report(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
