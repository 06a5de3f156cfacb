//! Decoding Binder's span scores on the host (reference: `postprocess_nested_predictions`,
//! `postprocess_flat_predictions` and `remove_overlaps` in microsoft/binder `src/utils.py`).
//!
//! A span (t, i, j) is predicted when its score beats the sentence's threshold for t, the anchor
//! score S^sp_{t,0,0}. Nested decoding keeps every such span; flat decoding takes them greedily by
//! raw score (as the reference does) and drops any that overlaps one already kept, which also
//! leaves at most one type per span.

use super::SpanDims;
use crate::data::Span;

/// How overlapping predictions are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoding {
    Flat,
    Nested,
}

/// A predicted entity: type index `ty`, chars `start..end` (end exclusive, 0-based, without the
/// CLS offset), its score and the threshold it beat.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredSpan {
    pub ty: usize,
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub threshold: f32,
}

impl ScoredSpan {
    /// As a [`Span`] labelled with `types[ty]`.
    ///
    /// # Panics
    /// If `types` has fewer entries than the head has types.
    pub fn to_span(&self, types: &[String]) -> Span {
        Span {
            start: self.start,
            end: self.end,
            label: types[self.ty].clone(),
        }
    }

    fn overlaps(&self, other: &ScoredSpan) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The entities of one sentence of `len` chars from its span scores `[types, positions, K]`
/// (row-major, as [`super::BinderScores::span`] holds them for one sentence), sorted by start,
/// end, then type.
pub fn decode_sentence(
    scores: &[f32],
    dims: SpanDims,
    len: usize,
    mode: Decoding,
) -> Vec<ScoredSpan> {
    let SpanDims {
        n_types,
        positions: p,
        max_span_len: k,
    } = dims;
    assert_eq!(scores.len(), n_types * p * k, "scores of one sentence");
    assert!(len < p, "a sentence longer than its scores");
    let mut found = Vec::new();
    for ty in 0..n_types {
        let at = |i: usize, w: usize| scores[(ty * p + i) * k + w];
        let threshold = at(0, 0);
        for i in 1..=len {
            // Position i is char i − 1; width index w spans chars i−1 ..= i−1+w.
            for w in 0..k.min(len + 1 - i) {
                let score = at(i, w);
                if score > threshold {
                    found.push(ScoredSpan {
                        ty,
                        start: i - 1,
                        end: i + w,
                        score,
                        threshold,
                    });
                }
            }
        }
    }
    if mode == Decoding::Flat {
        found = greedy_non_overlapping(found);
    }
    found.sort_by_key(|s| (s.start, s.end, s.ty));
    found
}

/// Highest score first (ties: earlier, then shorter, then lower type), skipping overlaps.
pub(crate) fn greedy_non_overlapping(mut spans: Vec<ScoredSpan>) -> Vec<ScoredSpan> {
    spans.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((a.start, a.end, a.ty).cmp(&(b.start, b.end, b.ty)))
    });
    let mut kept: Vec<ScoredSpan> = Vec::new();
    for s in spans {
        if !kept.iter().any(|k| k.overlaps(&s)) {
            kept.push(s);
        }
    }
    kept
}

/// [`decode_sentence`] for every sentence of a batch's span scores `[batch, types, positions, K]`.
pub fn decode_batch(
    scores: &[f32],
    dims: SpanDims,
    lengths: &[usize],
    mode: Decoding,
) -> Vec<Vec<ScoredSpan>> {
    let per = dims.n_types * dims.positions * dims.max_span_len;
    assert_eq!(scores.len(), per * lengths.len(), "scores of the batch");
    lengths
        .iter()
        .zip(scores.chunks(per))
        .map(|(&len, s)| decode_sentence(s, dims, len, mode))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: SpanDims = SpanDims {
        n_types: 2,
        positions: 6,
        max_span_len: 3,
    };

    /// Scores all at −5, anchors at `thr`, and the given `(ty, first_char, width, score)` set.
    fn grid(thr: [f32; 2], set: &[(usize, usize, usize, f32)]) -> Vec<f32> {
        let (p, k) = (DIMS.positions, DIMS.max_span_len);
        let mut s = vec![-5.0; DIMS.n_types * p * k];
        for (ty, &t) in thr.iter().enumerate() {
            s[ty * p * k] = t;
        }
        for &(ty, c, w, v) in set {
            s[(ty * p + c + 1) * k + w - 1] = v;
        }
        s
    }

    fn bounds(spans: &[ScoredSpan]) -> Vec<(usize, usize, usize)> {
        spans.iter().map(|s| (s.ty, s.start, s.end)).collect()
    }

    #[test]
    fn a_span_below_its_threshold_is_never_predicted() {
        // Type 0's threshold is 2: the span at 1.5 loses, the one at 2.5 wins; type 1's
        // threshold is −6, so every valid type-1 span (all at −5) is predicted.
        let s = grid([2.0, -6.0], &[(0, 0, 2, 1.5), (0, 2, 1, 2.5)]);
        for mode in [Decoding::Nested, Decoding::Flat] {
            let got = decode_sentence(&s, DIMS, 4, mode);
            assert!(got.iter().all(|x| x.score > x.threshold), "{got:?}");
            assert!(!bounds(&got).contains(&(0, 0, 2)));
        }
        let nested = decode_sentence(&s, DIMS, 4, Decoding::Nested);
        assert!(bounds(&nested).contains(&(0, 2, 3)));
        // Type 1: 4 + 3 + 2 spans of widths ≤ 3 inside 4 chars (no span past the end).
        assert_eq!(nested.iter().filter(|x| x.ty == 1).count(), 9);
        assert!(nested.iter().all(|x| x.end <= 4));
    }

    #[test]
    fn a_span_equal_to_its_threshold_is_not_predicted() {
        let s = grid([1.0, 1.0], &[(0, 1, 1, 1.0)]);
        assert!(decode_sentence(&s, DIMS, 4, Decoding::Nested).is_empty());
    }

    #[test]
    fn flat_decoding_is_greedy_and_never_overlaps() {
        // Nested: an outer span (0..3) with two inner ones; type 1 on the same span as type 0.
        let set = [
            (0, 0, 3, 3.0),
            (0, 0, 1, 4.0),
            (1, 0, 1, 3.5),
            (0, 2, 2, 2.0),
            (1, 3, 2, 1.0),
        ];
        let s = grid([0.0, 0.0], &set);
        let nested = decode_sentence(&s, DIMS, 5, Decoding::Nested);
        assert_eq!(nested.len(), 5);
        let flat = decode_sentence(&s, DIMS, 5, Decoding::Flat);
        // 4.0 (0..1) first; 3.5 same span other type and 3.0 (0..3) overlap it; 2.0 (2..4)
        // kept; 1.0 (3..5) overlaps it.
        assert_eq!(bounds(&flat), [(0, 0, 1), (0, 2, 4)]);
        for (a, x) in flat.iter().enumerate() {
            for y in &flat[a + 1..] {
                assert!(!x.overlaps(y), "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn flat_decoding_never_overlaps_on_random_scores() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..50 {
            let s: Vec<f32> = (0..DIMS.n_types * DIMS.positions * DIMS.max_span_len)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let flat = decode_sentence(&s, DIMS, 5, Decoding::Flat);
            let nested = decode_sentence(&s, DIMS, 5, Decoding::Nested);
            for (a, x) in flat.iter().enumerate() {
                assert!(nested.contains(x), "flat output is a subset of nested");
                assert!(flat[a + 1..].iter().all(|y| !x.overlaps(y)));
            }
        }
    }

    #[test]
    fn batches_decode_per_sentence_with_their_lengths() {
        let a = grid([0.0, 0.0], &[(0, 0, 2, 1.0)]);
        // Sentence 2 is 1 char long: its 2-wide span at char 0 would end past it.
        let scores = [a.clone(), a].concat();
        let got = decode_batch(&scores, DIMS, &[3, 1], Decoding::Nested);
        assert_eq!(bounds(&got[0]), [(0, 0, 2)]);
        assert!(got[1].is_empty());
    }
}
