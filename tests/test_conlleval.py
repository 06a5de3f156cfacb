"""Unit tests for tests/conlleval.py (run: python3 -m unittest tests/test_conlleval.py).

Every expected number below was worked out by hand from the conlleval rules; the comments give
the gold and predicted chunks as (first token, last token, type).
"""

import io
import json
import random
import subprocess
import sys
import unittest
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conlleval  # noqa: E402


def score(gold, pred):
    """gold/pred: tag strings, sentences separated by '|'. Returns the metrics dict."""
    gs = [s.split() for s in gold.split("|")]
    ps = [s.split() for s in pred.split("|")]
    return conlleval.metrics(conlleval.evaluate_sequences(gs, ps))


class CountsMixin:
    def assertCounts(self, m, correct, predicted, gold):
        self.assertEqual((m["correct"], m["predicted"], m["gold"]), (correct, predicted, gold))


class TestBIO(unittest.TestCase, CountsMixin):
    def test_perfect(self):
        m = score("B-PER I-PER O B-LOC | O B-ORG", "B-PER I-PER O B-LOC | O B-ORG")
        self.assertCounts(m, 3, 3, 3)
        self.assertEqual((m["precision"], m["recall"], m["f1"]), (100.0, 100.0, 100.0))
        self.assertEqual(m["accuracy"], 100.0)
        self.assertEqual(m["tokens"], 6)

    def test_boundary_mismatch(self):
        # gold (0,1,PER) (3,3,LOC); pred (0,0,PER) (3,3,LOC) -> 1 correct of 2/2
        m = score("B-PER I-PER O B-LOC", "B-PER O O B-LOC")
        self.assertCounts(m, 1, 2, 2)
        self.assertAlmostEqual(m["f1"], 50.0)
        self.assertEqual(m["per_type"]["PER"]["correct"], 0)
        self.assertEqual(m["per_type"]["LOC"]["f1"], 100.0)
        self.assertEqual(m["accuracy"], 75.0)

    def test_longer_prediction(self):
        # gold (0,0,PER); pred (0,1,PER): the gold chunk ends before the predicted one
        m = score("B-PER O", "B-PER I-PER")
        self.assertCounts(m, 0, 1, 1)

    def test_wrong_type_same_span(self):
        m = score("B-PER I-PER", "B-LOC I-LOC")
        self.assertCounts(m, 0, 1, 1)
        self.assertEqual(m["per_type"]["PER"]["gold"], 1)
        self.assertEqual(m["per_type"]["PER"]["predicted"], 0)
        self.assertEqual(m["per_type"]["LOC"]["predicted"], 1)
        self.assertEqual(m["per_type"]["LOC"]["precision"], 0.0)

    def test_adjacent_b(self):
        # gold (0,0) (1,1); pred (0,1)
        m = score("B-PER B-PER", "B-PER I-PER")
        self.assertCounts(m, 0, 1, 2)
        m = score("B-PER B-PER", "B-PER B-PER")
        self.assertCounts(m, 2, 2, 2)

    def test_lenient_i_after_o(self):
        # gold: I-PER after O opens a chunk (1,2,PER); pred B-started (1,2,PER) -> correct
        m = score("O I-PER I-PER O", "O B-PER I-PER O")
        self.assertCounts(m, 1, 1, 1)
        # accuracy is per tag though: I-PER != B-PER at token 1
        self.assertEqual(m["accuracy"], 75.0)
        # orphan I at sentence start
        m = score("I-LOC O", "B-LOC O")
        self.assertCounts(m, 1, 1, 1)

    def test_type_change_ends_and_starts(self):
        # gold: B-PER I-LOC -> (0,0,PER) (1,1,LOC); pred B-PER I-PER -> (0,1,PER)
        m = score("B-PER I-LOC", "B-PER I-PER")
        self.assertCounts(m, 0, 1, 2)
        # the same gold against B-PER B-LOC: both chunks right
        m = score("B-PER I-LOC", "B-PER B-LOC")
        self.assertCounts(m, 2, 2, 2)
        # I-PER I-LOC I-LOC: (0,0,PER) (1,2,LOC)
        m = score("I-PER I-LOC I-LOC", "B-PER B-LOC I-LOC")
        self.assertCounts(m, 2, 2, 2)

    def test_sentence_boundary_ends_chunks(self):
        # 'B-PER | I-PER': the boundary closes (0,0); I-PER opens a new chunk in sentence 2
        m = score("B-PER | I-PER", "B-PER | B-PER")
        self.assertCounts(m, 2, 2, 2)
        m = score("B-PER | I-PER", "B-PER | O")
        self.assertCounts(m, 1, 1, 2)
        self.assertEqual(m["tokens"], 2)  # boundaries are not tokens

    def test_hyphenated_and_dotted_types(self):
        m = score("B-PER.NAM I-PER.NAM B-A-B", "B-PER.NAM I-PER.NAM B-A-B")
        self.assertEqual(sorted(m["per_type"]), ["A-B", "PER.NAM"])
        self.assertCounts(m, 2, 2, 2)

    def test_no_predictions(self):
        m = score("B-PER O", "O O")
        self.assertCounts(m, 0, 0, 1)
        self.assertEqual((m["precision"], m["recall"], m["f1"]), (0.0, 0.0, 0.0))

    def test_mixed_example(self):
        # gold: (0,1,PER) (3,4,ORG) (6,6,LOC)
        # pred: (0,1,PER) (3,3,ORG) (4,4,ORG) (6,6,PER)
        m = score("B-PER I-PER O B-ORG I-ORG O B-LOC", "B-PER I-PER O B-ORG B-ORG O B-PER")
        self.assertCounts(m, 1, 4, 3)
        self.assertAlmostEqual(m["precision"], 25.0)
        self.assertAlmostEqual(m["recall"], 100.0 / 3)
        self.assertAlmostEqual(m["f1"], 2 * 25.0 * (100.0 / 3) / (25.0 + 100.0 / 3))
        self.assertEqual(m["per_type"]["ORG"]["predicted"], 2)
        self.assertEqual(m["per_type"]["PER"]["predicted"], 2)
        self.assertAlmostEqual(m["per_type"]["PER"]["precision"], 50.0)
        self.assertEqual(m["per_type"]["LOC"]["recall"], 0.0)


class TestBIOES(unittest.TestCase, CountsMixin):
    def test_singletons_are_separate(self):
        # S S -> two chunks (the 2004 Perl script, which predates S-, would merge them)
        m = score("S-PER S-PER", "S-PER S-PER")
        self.assertCounts(m, 2, 2, 2)
        m = score("S-PER S-PER", "B-PER E-PER")
        self.assertCounts(m, 0, 1, 2)

    def test_e_then_b(self):
        # gold (0,1) (2,3); pred (0,3)
        m = score("B-LOC E-LOC B-LOC E-LOC", "B-LOC I-LOC I-LOC E-LOC")
        self.assertCounts(m, 0, 1, 2)
        m = score("B-LOC E-LOC B-LOC E-LOC", "B-LOC E-LOC B-LOC E-LOC")
        self.assertCounts(m, 2, 2, 2)

    def test_s_after_b_and_i(self):
        # B-PER S-PER: (0,0) (1,1); B I S: (0,1) (2,2)
        self.assertCounts(score("B-PER S-PER", "B-PER S-PER"), 2, 2, 2)
        self.assertCounts(score("B-PER I-PER S-PER", "B-PER I-PER S-PER"), 2, 2, 2)
        self.assertCounts(score("B-PER I-PER S-PER", "B-PER I-PER I-PER"), 0, 1, 2)

    def test_i_or_e_after_e_or_s_starts_new_chunk(self):
        # B E I E -> (0,1) (2,3); S I E -> (0,0) (1,2); S E -> (0,0) (1,1); E E -> (0,0) (1,1)
        self.assertCounts(score("B-PER E-PER I-PER E-PER", "B-PER E-PER B-PER E-PER"), 2, 2, 2)
        self.assertCounts(score("S-PER I-PER E-PER", "S-PER B-PER E-PER"), 2, 2, 2)
        self.assertCounts(score("S-PER E-PER", "S-PER S-PER"), 2, 2, 2)
        self.assertCounts(score("E-PER E-PER", "S-PER S-PER"), 2, 2, 2)

    def test_lenient_e_after_o(self):
        # O E-ORG -> (1,1,ORG)
        self.assertCounts(score("O E-ORG O", "O S-ORG O"), 1, 1, 1)

    def test_unterminated_chunk_closes_at_sentence_end(self):
        # pred B-ORG I-ORG at sentence end closes at the boundary: (0,1) = gold (0,1)
        self.assertCounts(score("B-ORG E-ORG | O", "B-ORG I-ORG | O"), 1, 1, 1)
        # S-ORG vs B-ORG on a last token
        self.assertCounts(score("O S-ORG", "O B-ORG"), 1, 1, 1)

    def test_mixed(self):
        # gold: (0,0,PER) (1,1,PER) (2,3,LOC) (4,6,LOC) (8,8,ORG)
        # pred: (0,1,PER) (2,3,LOC) (4,5,LOC) (6,6,LOC) (8,8,ORG)
        gold = "S-PER S-PER B-LOC E-LOC B-LOC I-LOC E-LOC O S-ORG"
        pred = "B-PER E-PER B-LOC E-LOC B-LOC E-LOC S-LOC O S-ORG"
        m = score(gold, pred)
        self.assertCounts(m, 2, 5, 5)
        self.assertEqual(m["per_type"]["LOC"]["correct"], 1)
        self.assertEqual(m["per_type"]["LOC"]["predicted"], 3)
        self.assertEqual(m["per_type"]["ORG"]["f1"], 100.0)
        self.assertEqual(m["per_type"]["PER"]["gold"], 2)


class TestBMES(unittest.TestCase, CountsMixin):
    def test_m_is_i(self):
        self.assertCounts(score("B-ORG M-ORG E-ORG", "B-ORG M-ORG E-ORG"), 1, 1, 1)
        # M-ORG after O opens a chunk (lenient), like I-ORG
        self.assertCounts(score("O M-ORG E-ORG", "O B-ORG E-ORG"), 1, 1, 1)
        # M after E starts a new chunk: (0,1) (2,3)
        self.assertCounts(score("B-ORG E-ORG M-ORG E-ORG", "B-ORG E-ORG B-ORG E-ORG"), 2, 2, 2)
        # type change inside: B-ORG M-LOC E-LOC -> (0,0,ORG) (1,2,LOC)
        self.assertCounts(score("B-ORG M-LOC E-LOC", "S-ORG B-LOC E-LOC"), 2, 2, 2)

    def test_bmes_scores_like_bioes(self):
        rng = random.Random(7)
        tags = ["O", "B-A", "M-A", "E-A", "S-A", "B-B", "M-B", "E-B", "S-B"]
        for _ in range(200):
            n = rng.randint(1, 15)
            g = [rng.choice(tags) for _ in range(n)]
            p = [rng.choice(tags) for _ in range(n)]
            bmes = score(" ".join(g), " ".join(p))
            bioes = score(" ".join(g).replace("M-", "I-"), " ".join(p).replace("M-", "I-"))
            self.assertEqual(bmes, bioes)


def exact_spans(tags):
    """Chunks of a well-formed BIO/BIOES/BMES sequence, decoded directly."""
    spans, start = set(), None
    for i, t in enumerate(tags + ["O"]):
        p, typ = (t.split("-", 1) + [""])[:2]
        if start is not None and p in ("B", "S", "O"):
            spans.add((start[0], i - 1, start[1]))
            start = None
        if p in ("B", "S"):
            start = (i, typ)
        if p in ("S", "E"):
            spans.add((start[0], i, start[1]))
            start = None
    return spans


def random_wellformed(rng, n, scheme):
    out = []
    while len(out) < n:
        typ = rng.choice(["PER", "LOC", "ORG"])
        k = min(rng.choice([0, 0, 1, 1, 2, 3, 4]), n - len(out))
        if k == 0:
            out.append("O")
        elif scheme == "BIO":
            out += ["B-" + typ] + ["I-" + typ] * (k - 1)
        elif k == 1:
            out.append("S-" + typ)
        else:
            mid = "M-" if scheme == "BMES" else "I-"
            out += ["B-" + typ] + [mid + typ] * (k - 2) + ["E-" + typ]
    return out


class TestAgainstExactSpans(unittest.TestCase):
    """On well-formed input conlleval equals exact (start, end, type) matching."""

    def test_random(self):
        rng = random.Random(12345)
        for scheme in ("BIO", "BIOES", "BMES"):
            for _ in range(300):
                gold, pred = [], []
                for _ in range(rng.randint(1, 4)):
                    g = random_wellformed(rng, rng.randint(1, 20), scheme)
                    p = random_wellformed(rng, len(g), scheme)
                    gold.append(g)
                    pred.append(p)
                m = conlleval.metrics(conlleval.evaluate_sequences(gold, pred))
                gs = set((k,) + s for k, g in enumerate(gold) for s in exact_spans(g))
                ps = set((k,) + s for k, p in enumerate(pred) for s in exact_spans(p))
                self.assertEqual(
                    (m["correct"], m["predicted"], m["gold"]),
                    (len(gs & ps), len(ps), len(gs)),
                    (scheme, gold, pred),
                )


class TestInputAndOutput(unittest.TestCase):
    def test_last_two_fields_and_tabs(self):
        lines = ["字\tfeat\tB-PER\tB-PER", "字\tfeat\tI-PER\tI-PER", "", "x\ty\tO\tB-LOC"]
        c = conlleval.evaluate(lines)
        m = conlleval.metrics(c)
        self.assertEqual((m["correct"], m["predicted"], m["gold"]), (1, 2, 1))
        self.assertEqual(m["tokens"], 3)

    def test_boundary_line(self):
        # a line whose first field is -X- is a sentence break: not a token, prediction forced to O
        c = conlleval.evaluate(["a B-PER B-PER", "-X- O B-LOC", "b B-PER B-PER"])
        m = conlleval.metrics(c)
        self.assertEqual((m["correct"], m["predicted"], m["gold"]), (2, 2, 2))
        self.assertEqual(m["tokens"], 2)
        self.assertNotIn("LOC", m["per_type"])

    def test_inconsistent_field_count_is_an_error(self):
        with self.assertRaises(conlleval.ConllevalError):
            conlleval.evaluate(["a B-PER B-PER", "b O"])

    def test_report_format(self):
        lines = ["a B-PER B-PER", "b I-PER O", "c O O", "d B-LOC B-LOC"]
        text = conlleval.report(conlleval.evaluate(lines))
        self.assertEqual(
            text,
            "processed 4 tokens with 2 phrases; found: 2 phrases; correct: 1.\n"
            "accuracy:  75.00%; precision:  50.00%; recall:  50.00%; FB1:  50.00\n"
            "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
            "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
        )

    def test_cli_json(self):
        data = "a B-PER B-PER\nb I-PER I-PER\nc O B-LOC\n\nd S-ORG S-ORG\n"
        out = subprocess.run(
            [sys.executable, str(HERE / "conlleval.py"), "--json"],
            input=data, capture_output=True, text=True, check=True,
        ).stdout
        m = json.loads(out)
        self.assertEqual((m["correct"], m["predicted"], m["gold"]), (2, 3, 2))
        self.assertAlmostEqual(m["precision"], 200.0 / 3)
        self.assertEqual(m["recall"], 100.0)
        self.assertAlmostEqual(m["f1"], 80.0)
        self.assertEqual(set(m["per_type"]), {"PER", "LOC", "ORG"})
        self.assertEqual(m["per_type"]["LOC"], {
            "precision": 0.0, "recall": 0.0, "f1": 0.0, "correct": 0, "predicted": 1, "gold": 0,
        })

    def test_main_report(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
            f.write("一 B-NR B-NR\n二 E-NR E-NR\n")
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = conlleval.main([f.name])
        Path(f.name).unlink()
        self.assertEqual(rc, 0)
        self.assertTrue(buf.getvalue().startswith(
            "processed 2 tokens with 1 phrases; found: 1 phrases; correct: 1.\n"))


if __name__ == "__main__":
    unittest.main()
