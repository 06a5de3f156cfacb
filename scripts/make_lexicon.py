#!/usr/bin/env python3
"""Build data/lexicon/jieba.txt.gz, the word list of the FLAT lattice encoder, from jieba's dictionary.

The dictionary is the `dict.txt` that the jieba-rs crate (MIT) ships, one `word frequency tag` line
per word. Get it without a Rust project of your own:

    cargo new --vcs none /tmp/jb && cd /tmp/jb && cargo add jieba-rs@0.11.0 && cargo fetch
    python3 scripts/make_lexicon.py ~/.cargo/registry/src/*/jieba-rs-0.11.0/src/data/dict.txt

Kept: words of 2 to 8 Han characters (single characters are the lattice's characters already)
with a frequency of at least 3 (the rarest entries, mostly noise). Written one word per line in
the dictionary's order, gzipped with a fixed timestamp so reruns reproduce the bytes.
"""

import argparse
import gzip
import re
import sys
from pathlib import Path

HAN = re.compile(r"^[\u4e00-\u9fff]+$")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dict", type=Path, help="jieba's dict.txt")
    ap.add_argument("--out", type=Path, default=Path("data/lexicon/jieba.txt.gz"))
    ap.add_argument("--min-len", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=8)
    ap.add_argument("--min-freq", type=int, default=3)
    a = ap.parse_args()
    words, seen = [], set()
    for line in a.dict.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        w, f = parts[0], int(parts[1])
        if a.min_len <= len(w) <= a.max_len and f >= a.min_freq and HAN.match(w) and w not in seen:
            seen.add(w)
            words.append(w)
    data = ("\n".join(words) + "\n").encode("utf-8")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    print(f"{a.out}: {len(words)} words, {len(data)} bytes ({a.out.stat().st_size} gzipped)", file=sys.stderr)


if __name__ == "__main__":
    main()
