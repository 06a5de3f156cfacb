//! Entity-level evaluation: conlleval's micro P/R/F1, per type, Span F, Type Acc, and F1 by
//! sentence length and by mention kind (Weibo's `.NAM` vs `.NOM`).
//!
//! Tag sequences (`evaluate`) and span sets ([`evaluate_spans`], nested output included) are
//! scored by the same rules: each sentence's gold and predicted spans are sets (type, start,
//! end); an exact match needs all three. Span F compares the sets of boundaries (type ignored),
//! and Type Acc is the share of predictions on gold boundaries that also have the gold type.
//! For flat spans (no two share boundaries) these are conlleval's counts.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write;

use crate::data::{Span, tags_to_spans};

/// Precision, recall and F1 in percent (0..100, as conlleval prints them) with their counts.
/// A ratio whose denominator is 0 is 0.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub(crate) correct: usize,
    pub(crate) predicted: usize,
    pub(crate) gold: usize,
}

impl Prf {
    pub(crate) fn from_counts(correct: usize, predicted: usize, gold: usize) -> Self {
        let precision = percent(correct, predicted);
        let recall = percent(correct, gold);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Prf {
            precision,
            recall,
            f1,
            correct,
            predicted,
            gold,
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Everything `evaluate` measures.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Entity-level micro scores: a prediction counts only with exact type and both boundaries.
    pub overall: Prf,
    pub(crate) per_type: BTreeMap<String, Prf>,
    /// Boundaries only, type ignored ("Span F").
    pub span: Prf,
    /// Percent of boundary-correct predictions whose type is also correct; 0 if there are none.
    pub type_accuracy: f64,
    /// Micro scores per sentence-length bucket (see [`LENGTH_BUCKETS`]), non-empty buckets only.
    pub by_length: Vec<(String, Prf)>,
    /// Micro scores per type suffix after the last `.` (`PER.NAM` → `NAM`); empty when no type
    /// has a `.`.
    pub by_suffix: BTreeMap<String, Prf>,
    pub(crate) sentences: usize,
    pub(crate) tokens: usize,
    /// Percent of tokens whose tag is right; 0 for span input ([`evaluate_spans`]), which has
    /// no tags.
    pub(crate) token_accuracy: f64,
}

/// Sentence-length buckets in chars, as in the paper's Figure 3.
pub const LENGTH_BUCKETS: [&str; 6] = ["1-20", "21-40", "41-60", "61-80", "81-100", ">100"];

fn length_bucket(len: usize) -> usize {
    (len.saturating_sub(1) / 20).min(LENGTH_BUCKETS.len() - 1)
}

/// Gold and predictions disagree in shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("gold has {gold} sentences but the predictions have {pred}")]
    SentenceCount { gold: usize, pred: usize },
    /// `index` is 0-based.
    #[error("sentence {index}: gold has {gold} tags but the prediction has {pred}")]
    LengthMismatch {
        index: usize,
        gold: usize,
        pred: usize,
    },
    #[error("{sentences} sentences but {lengths} sentence lengths")]
    LengthCount { sentences: usize, lengths: usize },
}

/// Scores per-sentence tag sequences (any scheme; spans come from [`tags_to_spans`]).
pub(crate) fn evaluate<S: AsRef<str>>(
    gold: &[Vec<S>],
    pred: &[Vec<S>],
) -> Result<Report, MetricsError> {
    if gold.len() != pred.len() {
        return Err(MetricsError::SentenceCount {
            gold: gold.len(),
            pred: pred.len(),
        });
    }
    let mut tally = Tally::default();
    for (index, (g, p)) in gold.iter().zip(pred).enumerate() {
        if g.len() != p.len() {
            return Err(MetricsError::LengthMismatch {
                index,
                gold: g.len(),
                pred: p.len(),
            });
        }
        tally.add_sentence(g, p);
    }
    Ok(tally.report())
}

/// Scores per-sentence span sets, which may overlap (nested NER); `lengths` are the sentences'
/// lengths in chars (for the length buckets and the token count). Duplicate spans count once.
pub fn evaluate_spans(
    gold: &[Vec<Span>],
    pred: &[Vec<Span>],
    lengths: &[usize],
) -> Result<Report, MetricsError> {
    if gold.len() != pred.len() {
        return Err(MetricsError::SentenceCount {
            gold: gold.len(),
            pred: pred.len(),
        });
    }
    if gold.len() != lengths.len() {
        return Err(MetricsError::LengthCount {
            sentences: gold.len(),
            lengths: lengths.len(),
        });
    }
    let mut tally = Tally::default();
    for ((g, p), &len) in gold.iter().zip(pred).zip(lengths) {
        tally.add_spans(g, p, len);
    }
    Ok(tally.report())
}

#[derive(Clone, Copy, Default)]
struct Counts {
    correct: usize,
    predicted: usize,
    gold: usize,
}

impl Counts {
    fn prf(self) -> Prf {
        Prf::from_counts(self.correct, self.predicted, self.gold)
    }
}

#[derive(Default)]
struct Tally {
    overall: Counts,
    per_type: BTreeMap<String, Counts>,
    span: Counts,
    /// Predictions (typed) whose boundaries are gold boundaries: Type Acc's denominator.
    on_gold_bounds: usize,
    by_length: [Option<Counts>; LENGTH_BUCKETS.len()],
    by_suffix: BTreeMap<String, Counts>,
    sentences: usize,
    tokens: usize,
    correct_tokens: usize,
}

fn suffix(label: &str) -> Option<&str> {
    label.rsplit_once('.').map(|(_, suffix)| suffix)
}

impl Tally {
    fn add_sentence<S: AsRef<str>>(&mut self, gold: &[S], pred: &[S]) {
        self.correct_tokens += gold
            .iter()
            .zip(pred)
            .filter(|(g, p)| g.as_ref() == p.as_ref())
            .count();
        self.add_spans(&tags_to_spans(gold), &tags_to_spans(pred), gold.len());
    }

    fn add_spans(&mut self, gold: &[Span], pred: &[Span], len: usize) {
        self.sentences += 1;
        self.tokens += len;
        let gold: BTreeSet<&Span> = gold.iter().collect();
        let pred: BTreeSet<&Span> = pred.iter().collect();
        let bucket = self.by_length[length_bucket(len)].get_or_insert_default();
        let bounds = |spans: &BTreeSet<&Span>| -> HashSet<(usize, usize)> {
            spans.iter().map(|s| (s.start, s.end)).collect()
        };
        let (gold_bounds, pred_bounds) = (bounds(&gold), bounds(&pred));

        for span in &gold {
            for counts in counters(
                &mut self.overall,
                bucket,
                &mut self.per_type,
                &mut self.by_suffix,
                &span.label,
            ) {
                counts.gold += 1;
            }
        }
        for span in &pred {
            let hit = gold.contains(span);
            for counts in counters(
                &mut self.overall,
                bucket,
                &mut self.per_type,
                &mut self.by_suffix,
                &span.label,
            ) {
                counts.predicted += 1;
                counts.correct += usize::from(hit);
            }
            self.on_gold_bounds += usize::from(gold_bounds.contains(&(span.start, span.end)));
        }
        self.span.correct += pred_bounds.intersection(&gold_bounds).count();
        self.span.predicted += pred_bounds.len();
        self.span.gold += gold_bounds.len();
    }

    fn report(self) -> Report {
        let to_prf =
            |map: BTreeMap<String, Counts>| map.into_iter().map(|(k, c)| (k, c.prf())).collect();
        Report {
            overall: self.overall.prf(),
            per_type: to_prf(self.per_type),
            span: self.span.prf(),
            // Every exact hit is on gold boundaries.
            type_accuracy: percent(self.overall.correct, self.on_gold_bounds),
            by_length: LENGTH_BUCKETS
                .iter()
                .zip(self.by_length)
                .filter_map(|(name, counts)| Some((name.to_string(), counts?.prf())))
                .collect(),
            by_suffix: to_prf(self.by_suffix),
            sentences: self.sentences,
            tokens: self.tokens,
            token_accuracy: percent(self.correct_tokens, self.tokens),
        }
    }
}

/// The counters one entity of type `label` adds to: overall, its length bucket, its type and
/// its suffix group.
fn counters<'a>(
    overall: &'a mut Counts,
    bucket: &'a mut Counts,
    per_type: &'a mut BTreeMap<String, Counts>,
    by_suffix: &'a mut BTreeMap<String, Counts>,
    label: &str,
) -> impl Iterator<Item = &'a mut Counts> {
    let by_type = per_type.entry(label.to_string()).or_default();
    let by_suffix = suffix(label).map(|s| by_suffix.entry(s.to_string()).or_default());
    [Some(overall), Some(bucket), Some(by_type), by_suffix]
        .into_iter()
        .flatten()
}

impl Report {
    /// A conlleval-style text summary, with Span F, Type Acc and the breakdowns.
    pub fn summary(&self) -> String {
        let o = &self.overall;
        let mut out = format!(
            "processed {} tokens with {} phrases; found: {} phrases; correct: {}.\n\
             accuracy: {:6.2}%; precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}\n",
            self.tokens,
            o.gold,
            o.predicted,
            o.correct,
            self.token_accuracy,
            o.precision,
            o.recall,
            o.f1,
        );
        for (name, prf) in &self.per_type {
            out += &prf_line(name, prf);
        }
        out += &prf_line("span (any type)", &self.span);
        let _ = writeln!(out, "{:>17}: {:6.2}%", "type accuracy", self.type_accuracy);
        for (bucket, prf) in &self.by_length {
            out += &prf_line(&format!("length {bucket}"), prf);
        }
        for (suffix, prf) in &self.by_suffix {
            out += &prf_line(&format!("*.{suffix}"), prf);
        }
        out
    }
}

fn prf_line(name: &str, prf: &Prf) -> String {
    format!(
        "{name:>17}: precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}  {}\n",
        prf.precision, prf.recall, prf.f1, prf.predicted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn assert_prf(prf: &Prf, counts: (usize, usize, usize), p: f64, r: f64, f: f64) {
        assert_eq!((prf.correct, prf.predicted, prf.gold), counts, "{prf:?}");
        assert!(
            close(prf.precision, p) && close(prf.recall, r) && close(prf.f1, f),
            "{prf:?}"
        );
    }

    /// Gold: PER(0,2) LOC(3,4) | ORG(0,3).
    /// Pred: PER(0,2) exact, ORG(3,4) right boundaries wrong type | ORG(0,2) wrong end, PER(3,4) spurious.
    fn mixed() -> Report {
        let gold = [seq("B-PER I-PER O B-LOC O"), seq("B-ORG I-ORG I-ORG O")];
        let pred = [seq("B-PER I-PER O B-ORG O"), seq("B-ORG I-ORG O B-PER")];
        evaluate(&gold, &pred).unwrap()
    }

    #[test]
    fn overall_micro_scores() {
        let r = mixed();
        // 1 correct of 4 predicted and 3 gold: F1 = 2·1/(4+3).
        assert_prf(&r.overall, (1, 4, 3), 25.0, 100.0 / 3.0, 200.0 / 7.0);
        assert_eq!((r.sentences, r.tokens), (2, 9));
        assert!(close(r.token_accuracy, 600.0 / 9.0));
    }

    #[test]
    fn per_type_scores() {
        let r = mixed();
        assert_eq!(r.per_type.keys().collect::<Vec<_>>(), ["LOC", "ORG", "PER"]);
        assert_prf(&r.per_type["PER"], (1, 2, 1), 50.0, 100.0, 200.0 / 3.0);
        assert_prf(&r.per_type["LOC"], (0, 0, 1), 0.0, 0.0, 0.0);
        assert_prf(&r.per_type["ORG"], (0, 2, 1), 0.0, 0.0, 0.0);
    }

    #[test]
    fn wrong_type_counts_for_span_f_but_not_overall() {
        let r = mixed();
        // PER(0,2) and (3,4) match gold boundaries: 2 of 4 predicted, 2 of 3 gold.
        assert_prf(&r.span, (2, 4, 3), 50.0, 200.0 / 3.0, 400.0 / 7.0);
        assert!(close(r.type_accuracy, 50.0));
    }

    #[test]
    fn scores_by_sentence_length() {
        let sentence = |len: usize, tags: &str| {
            let mut t = seq(tags);
            t.resize(len, "O".to_string());
            t
        };
        let gold = [
            sentence(3, "B-A"),
            sentence(25, "B-A"),
            sentence(101, "B-A"),
            sentence(20, ""),
        ];
        let pred = [
            sentence(3, "B-A"),
            sentence(25, "O B-A"),
            sentence(101, "B-A B-B"),
            sentence(20, ""),
        ];
        let r = evaluate(&gold, &pred).unwrap();
        let names: Vec<&str> = r.by_length.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["1-20", "21-40", ">100"]);
        assert_prf(&r.by_length[0].1, (1, 1, 1), 100.0, 100.0, 100.0);
        assert_prf(&r.by_length[1].1, (0, 1, 1), 0.0, 0.0, 0.0);
        assert_prf(&r.by_length[2].1, (1, 2, 1), 50.0, 100.0, 200.0 / 3.0);
    }

    #[test]
    fn length_bucket_edges() {
        let buckets: Vec<&str> = [1, 20, 21, 40, 41, 80, 81, 100, 101, 500]
            .map(|n| LENGTH_BUCKETS[length_bucket(n)])
            .to_vec();
        assert_eq!(
            buckets,
            [
                "1-20", "1-20", "21-40", "21-40", "41-60", "61-80", "81-100", "81-100", ">100",
                ">100"
            ]
        );
    }

    #[test]
    fn scores_by_mention_kind_suffix() {
        let gold = [seq("B-PER.NAM I-PER.NAM O B-PER.NOM B-LOC.NOM")];
        let pred = [seq("B-PER.NAM I-PER.NAM O B-LOC.NOM B-LOC.NOM")];
        let r = evaluate(&gold, &pred).unwrap();
        assert_eq!(r.by_suffix.keys().collect::<Vec<_>>(), ["NAM", "NOM"]);
        assert_prf(&r.by_suffix["NAM"], (1, 1, 1), 100.0, 100.0, 100.0);
        assert_prf(&r.by_suffix["NOM"], (1, 2, 2), 50.0, 50.0, 50.0);
        assert!(mixed().by_suffix.is_empty());
    }

    #[test]
    fn zero_denominators_give_zero() {
        assert_eq!(
            Prf::from_counts(0, 0, 5),
            Prf {
                gold: 5,
                ..Prf::default()
            }
        );
        assert_eq!(
            Prf::from_counts(0, 3, 0),
            Prf {
                predicted: 3,
                ..Prf::default()
            }
        );

        let r = evaluate(&[seq("O O")], &[seq("O O")]).unwrap();
        assert_eq!(r.overall, Prf::default());
        assert_eq!(r.span, Prf::default());
        assert_eq!(r.type_accuracy, 0.0);
        assert!(close(r.token_accuracy, 100.0));

        let r = evaluate::<String>(&[], &[]).unwrap();
        assert_eq!((r.sentences, r.tokens, r.token_accuracy), (0, 0, 0.0));
        assert!(r.by_length.is_empty());
    }

    #[test]
    fn any_scheme_and_lenient_starts() {
        let gold = [seq("B-ORG M-ORG E-ORG S-PER")];
        let pred = [seq("M-ORG M-ORG E-ORG O")];
        let r = evaluate(&gold, &pred).unwrap();
        assert_prf(&r.overall, (1, 1, 2), 100.0, 50.0, 200.0 / 3.0);
    }

    #[test]
    fn shape_mismatches_are_errors() {
        let err = evaluate(&[seq("O")], &[]).unwrap_err();
        assert_eq!(err, MetricsError::SentenceCount { gold: 1, pred: 0 });
        let err = evaluate(&[seq("O"), seq("O O")], &[seq("O"), seq("O")]).unwrap_err();
        assert_eq!(
            err,
            MetricsError::LengthMismatch {
                index: 1,
                gold: 2,
                pred: 1
            }
        );
        assert!(err.to_string().contains("sentence 1"), "{err}");
    }

    fn sp(start: usize, end: usize, label: &str) -> Span {
        Span {
            start,
            end,
            label: label.to_string(),
        }
    }

    #[test]
    fn nested_spans_scores() {
        let gold = [
            vec![sp(0, 4, "ORG"), sp(0, 2, "LOC"), sp(4, 6, "TITLE")],
            vec![],
        ];
        // An exact nested pair, a wrong type on gold boundaries, a wrong boundary, a duplicate.
        let pred = [
            vec![
                sp(0, 4, "ORG"),
                sp(0, 2, "LOC"),
                sp(0, 2, "PER"),
                sp(1, 3, "LOC"),
                sp(0, 4, "ORG"),
            ],
            vec![],
        ];
        let r = evaluate_spans(&gold, &pred, &[6, 25]).unwrap();
        assert_prf(&r.overall, (2, 4, 3), 50.0, 200.0 / 3.0, 400.0 / 7.0);
        assert_prf(&r.per_type["LOC"], (1, 2, 1), 50.0, 100.0, 200.0 / 3.0);
        assert_prf(&r.per_type["ORG"], (1, 1, 1), 100.0, 100.0, 100.0);
        assert_prf(&r.per_type["PER"], (0, 1, 0), 0.0, 0.0, 0.0);
        assert_prf(&r.per_type["TITLE"], (0, 0, 1), 0.0, 0.0, 0.0);
        // Boundaries as sets: gold {0..4, 0..2, 4..6}, predicted {0..4, 0..2, 1..3}.
        assert_prf(&r.span, (2, 3, 3), 200.0 / 3.0, 200.0 / 3.0, 200.0 / 3.0);
        // Three predictions sit on gold boundaries, two of them with the gold type.
        assert!(close(r.type_accuracy, 200.0 / 3.0), "{}", r.type_accuracy);
        assert_eq!((r.sentences, r.tokens, r.token_accuracy), (2, 31, 0.0));
        let names: Vec<&str> = r.by_length.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["1-20", "21-40"]);
    }

    #[test]
    fn flat_spans_score_like_their_tags() {
        let gold = [seq("B-PER I-PER O B-LOC O"), seq("B-ORG I-ORG I-ORG O")];
        let pred = [seq("B-PER I-PER O B-ORG O"), seq("B-ORG I-ORG O B-PER")];
        let spans = |s: &[Vec<String>]| s.iter().map(|t| tags_to_spans(t)).collect::<Vec<_>>();
        let r = evaluate_spans(&spans(&gold), &spans(&pred), &[5, 4]).unwrap();
        let t = mixed();
        assert_eq!(
            (&r.overall, &r.per_type, &r.span, &r.by_suffix),
            (&t.overall, &t.per_type, &t.span, &t.by_suffix)
        );
        assert_eq!(r.by_length, t.by_length);
        assert_eq!(
            (r.type_accuracy, r.sentences, r.tokens),
            (t.type_accuracy, 2, 9)
        );
    }

    #[test]
    fn span_input_shape_mismatches_are_errors() {
        let one = [vec![sp(0, 1, "A")]];
        assert_eq!(
            evaluate_spans(&one, &[], &[3]).unwrap_err(),
            MetricsError::SentenceCount { gold: 1, pred: 0 }
        );
        let err = evaluate_spans(&one, &one, &[]).unwrap_err();
        assert_eq!(
            err,
            MetricsError::LengthCount {
                sentences: 1,
                lengths: 0
            }
        );
    }

    #[test]
    fn summary_lists_the_scores() {
        let s = mixed().summary();
        assert!(
            s.starts_with("processed 9 tokens with 3 phrases; found: 4 phrases; correct: 1.\n"),
            "{s}"
        );
        assert!(
            s.contains("accuracy:  66.67%; precision:  25.00%; recall:  33.33%; FB1:  28.57\n"),
            "{s}"
        );
        assert!(
            s.contains("              PER: precision:  50.00%; recall: 100.00%; FB1:  66.67  2\n"),
            "{s}"
        );
        assert!(s.contains("span (any type): precision:  50.00%"), "{s}");
        assert!(s.contains("type accuracy:  50.00%"), "{s}");
        assert!(s.contains("length 1-20: precision:  25.00%"), "{s}");
    }
}
