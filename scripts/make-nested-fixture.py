#!/usr/bin/env python3
"""Writes tests/fixtures/nested/train.jsonl: a few dozen short sentences with nested entities
(an ORG such as 北京大学 containing the LOC 北京), flat ones, and sentences without entities,
in the span JSON Lines form {"text", "spans": [{"start", "end" (exclusive), "type"}]}.
Deterministic: rerunning it rewrites the same file."""
import json
import os

PEOPLE = ["张伟", "李娜", "王强", "刘洋", "陈静", "赵磊"]
PLACES = ["北京", "上海", "南京", "广州", "武汉", "成都", "杭州", "西安"]
SUFFIXES = ["大学", "银行", "医院", "市政府"]


def record(parts):
    """parts: (text, [types]) pieces; each type list marks the piece as an entity of those
    types, and ("ORG", k) marks an entity spanning this piece and the next k pieces."""
    text, spans, pos = "", [], []
    for piece, _ in parts:
        pos.append(len(text))
        text += piece
    for i, (piece, marks) in enumerate(parts):
        for m in marks:
            ty, extra = m if isinstance(m, tuple) else (m, 0)
            end = pos[i + extra] + len(parts[i + extra][0])
            spans.append({"start": pos[i], "end": end, "type": ty})
    return {"text": text, "spans": sorted(spans, key=lambda s: (s["start"], s["end"], s["type"]))}


def sentences():
    out = []
    for k in range(16):
        p, l, s = PEOPLE[k % 6], PLACES[k % 8], SUFFIXES[k % 4]
        # An ORG containing its LOC, and a person.
        out.append(record([(p, ["PER"]), ("在", []), (l, ["LOC", ("ORG", 1)]), (s, []), ("工作。", [])]))
    for k in range(10):
        p, l = PEOPLE[(k + 2) % 6], PLACES[(k + 3) % 8]
        # A LOC on its own.
        out.append(record([(p, ["PER"]), ("去了", []), (l, ["LOC"]), ("。", [])]))
    for k in range(8):
        l, s, p, l2 = PLACES[(k + 5) % 8], SUFFIXES[(k + 1) % 4], PEOPLE[(k + 4) % 6], PLACES[(k + 1) % 8]
        out.append(record([(l, ["LOC", ("ORG", 1)]), (s, []), ("的", []), (p, ["PER"]),
                           ("来到", []), (l2, ["LOC"]), ("。", [])]))
    for text in ["今天天气很好。", "我们明天开会。", "这本书很有意思。", "大家都来了。"]:
        out.append({"text": text, "spans": []})
    return out


if __name__ == "__main__":
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "tests", "fixtures", "nested", "train.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in sentences():
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
