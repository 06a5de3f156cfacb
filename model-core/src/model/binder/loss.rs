//! Binder's losses (reference: microsoft/binder `src/model.py` `contrastive_loss`, masks from
//! `run_ner.py` and `src/trainer.py`).
//!
//! Per sentence b, type t and x ∈ {start, end, span}, the denominator set is
//! D^x_{b,t} = N^x_{b,t} ∪ {CLS}, N being every valid candidate that is not a gold x of type t
//! (gold spans of *other* types are negatives). Then
//! - threshold loss for every (b, t), absent types included: `LSE(D) − S_CLS`;
//! - mention loss for every gold (b, t, i, j): `−log(e^{S_g} / (e^{S_g} + Σ_D e^S))
//!   = softplus(LSE(D) − S_g)`: other gold spans of t stay out of the denominator, CLS stays in.
//!
//! `L = w_mention · mean_mentions(0.2 L^s + 0.2 L^e + 0.6 L^sp)
//!    + w_threshold · mean_(b,t)(0.2 L^s_thr + 0.2 L^e_thr + 0.6 L^sp_thr)`, both weights 0.5.
//!
//! A batch without mentions trains the threshold term only (the reference drops such chunks;
//! here sentences without entities are kept).
//!
//! Gold spans wider than K have no span score: they are left out of the mention loss (counted in
//! [`BinderLoss::too_long`]), but their start and end stay out of the negatives of their type,
//! since they are true entity boundaries.

use super::{BinderScores, SpanDims, valid_span, valid_token};
use crate::data::Span;
use crate::model::crf::log_sum_exp;
use burn::prelude::*;
use std::collections::BTreeSet;

/// A gold entity for the loss: type index `ty`, chars `first..=last` (inclusive, 0-based,
/// without the CLS offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoldMention {
    pub ty: usize,
    pub first: usize,
    pub last: usize,
}

impl GoldMention {
    pub fn width(&self) -> usize {
        self.last + 1 - self.first
    }

    /// One sentence's spans (end exclusive, as the readers give them) as gold mentions, types
    /// looked up in `types` (index = type id).
    pub fn from_spans(spans: &[Span], types: &[String]) -> Result<Vec<Self>, BinderError> {
        spans
            .iter()
            .map(|s| {
                let ty = types.iter().position(|t| *t == s.label).ok_or_else(|| {
                    BinderError::UnknownLabel {
                        label: s.label.clone(),
                    }
                })?;
                if s.end <= s.start {
                    return Err(BinderError::EmptySpan { start: s.start });
                }
                Ok(GoldMention {
                    ty,
                    first: s.start,
                    last: s.end - 1,
                })
            })
            .collect()
    }
}

/// Gold that does not fit the batch. `sentence` is the 0-based index in the batch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BinderError {
    #[error("{lengths} sentence lengths but {gold} gold lists")]
    GoldCount { lengths: usize, gold: usize },
    #[error("sentence {sentence}: {len} chars do not fit {positions} positions (CLS included)")]
    TooManyChars {
        sentence: usize,
        len: usize,
        positions: usize,
    },
    #[error("sentence {sentence}: gold type {ty}, but the head has {n_types} types")]
    UnknownType {
        sentence: usize,
        ty: usize,
        n_types: usize,
    },
    #[error("sentence {sentence}: gold span [{first}, {last}] is not inside its {len} chars")]
    SpanOutOfRange {
        sentence: usize,
        first: usize,
        last: usize,
        len: usize,
    },
    #[error("entity type `{label}` is not one of the head's types")]
    UnknownLabel { label: String },
    #[error("an empty span at {start}")]
    EmptySpan { start: usize },
}

/// The loss's term weights (reference defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    pub start: f64,
    pub end: f64,
    pub span: f64,
    pub mention: f64,
    pub threshold: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            start: 0.2,
            end: 0.2,
            span: 0.6,
            mention: 0.5,
            threshold: 0.5,
        }
    }
}

/// A batch's gold as host-side masks and gather indices, built once per batch.
#[derive(Clone, Debug)]
pub struct BinderTargets {
    dims: SpanDims,
    batch: usize,
    /// `[b, t, p]` / `[b, t, p]` / `[b, t, p, k]`: in the denominator set D (negatives + CLS).
    start_allowed: Vec<bool>,
    end_allowed: Vec<bool>,
    span_allowed: Vec<bool>,
    /// Per scored mention: its (b, t) row, and its flat index in the start, end, span scores.
    owner: Vec<i64>,
    start_at: Vec<i64>,
    end_at: Vec<i64>,
    span_at: Vec<i64>,
    /// Distinct gold mentions wider than K, left out of the mention loss.
    pub too_long: usize,
}

/// The differentiable loss with the counts behind it.
#[derive(Clone, Debug)]
pub struct BinderLoss {
    pub loss: Tensor<1>,
    /// Mentions in the mention term (distinct, at most K wide).
    pub mentions: usize,
    pub too_long: usize,
}

/// Checks one sentence's gold and returns it deduplicated.
fn checked_gold(
    sentence: usize,
    len: usize,
    gold: &[GoldMention],
    n_types: usize,
) -> Result<BTreeSet<GoldMention>, BinderError> {
    for m in gold {
        if m.ty >= n_types {
            return Err(BinderError::UnknownType {
                sentence,
                ty: m.ty,
                n_types,
            });
        }
        if m.first > m.last || m.last >= len {
            return Err(BinderError::SpanOutOfRange {
                sentence,
                first: m.first,
                last: m.last,
                len,
            });
        }
    }
    Ok(gold.iter().copied().collect())
}

impl BinderTargets {
    /// Targets for sentences of `lengths` chars with `gold` mentions each, against scores of
    /// shape `dims`.
    pub fn new(
        lengths: &[usize],
        gold: &[Vec<GoldMention>],
        dims: SpanDims,
    ) -> Result<Self, BinderError> {
        if lengths.len() != gold.len() {
            return Err(BinderError::GoldCount {
                lengths: lengths.len(),
                gold: gold.len(),
            });
        }
        let SpanDims {
            n_types: nt,
            positions: p,
            max_span_len: k,
        } = dims;
        let b = lengths.len();
        let mut t = BinderTargets {
            dims,
            batch: b,
            start_allowed: Vec::with_capacity(b * nt * p),
            end_allowed: Vec::new(),
            span_allowed: Vec::with_capacity(b * nt * p * k),
            owner: Vec::new(),
            start_at: Vec::new(),
            end_at: Vec::new(),
            span_at: Vec::new(),
            too_long: 0,
        };
        for (s, &len) in lengths.iter().enumerate() {
            if len >= p {
                return Err(BinderError::TooManyChars {
                    sentence: s,
                    len,
                    positions: p,
                });
            }
            for _ in 0..nt {
                t.start_allowed.extend((0..p).map(|i| valid_token(i, len)));
                t.span_allowed
                    .extend((0..p * k).map(|f| valid_span(f / k, f % k, len)));
            }
        }
        t.end_allowed = t.start_allowed.clone();
        for (s, (&len, gold)) in lengths.iter().zip(gold).enumerate() {
            for m in checked_gold(s, len, gold, nt)? {
                t.add_mention(s, m);
            }
        }
        Ok(t)
    }

    /// Takes a gold mention out of its type's negatives and, if at most K wide, schedules its
    /// mention loss.
    fn add_mention(&mut self, sentence: usize, m: GoldMention) {
        let SpanDims {
            n_types: nt,
            positions: p,
            max_span_len: k,
        } = self.dims;
        let row = sentence * nt + m.ty;
        let (i, j) = (m.first + 1, m.last + 1);
        self.start_allowed[row * p + i] = false;
        self.end_allowed[row * p + j] = false;
        if m.width() > k {
            self.too_long += 1;
            return;
        }
        let span = (row * p + i) * k + (j - i);
        self.span_allowed[span] = false;
        self.owner.push(row as i64);
        self.start_at.push((row * p + i) as i64);
        self.end_at.push((row * p + j) as i64);
        self.span_at.push(span as i64);
    }

    /// Mentions in the mention term.
    pub fn mentions(&self) -> usize {
        self.owner.len()
    }
}

/// Threshold losses `[b·t]` and mention losses `[mentions]` of one score kind, `x: [b, t, n]`
/// with the anchor at index 0 of the last dimension.
fn terms(
    x: Tensor<3>,
    allowed: &[bool],
    gold_at: &[i64],
    owner: &[i64],
) -> (Tensor<1>, Option<Tensor<1>>) {
    let [b, t, n] = x.dims();
    let device = x.device();
    let outside =
        Tensor::<3, Bool>::from_data(TensorData::new(allowed.to_vec(), [b, t, n]), &device)
            .bool_not();
    // The anchor is always in D, so no row is fully masked.
    let lse = log_sum_exp(x.clone().mask_fill(outside, -1e30), 2).reshape([b * t]);
    let threshold = lse.clone() - x.clone().narrow(2, 0, 1).reshape([b * t]);
    if gold_at.is_empty() {
        return (threshold, None);
    }
    let ints =
        |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
    let gold = x.reshape([b * t * n]).select(0, ints(gold_at));
    let z = lse.select(0, ints(owner)) - gold;
    // softplus(z), stable for large |z|.
    let mention = z.clone().clamp_min(0.0) + z.abs().neg().exp().log1p();
    (threshold, Some(mention))
}

/// Binder's loss of `scores` against `targets` (see the module docs).
pub fn binder_loss(
    scores: &BinderScores,
    targets: &BinderTargets,
    weights: LossWeights,
) -> BinderLoss {
    assert_eq!(
        scores.dims(),
        targets.dims,
        "targets built for other scores"
    );
    let SpanDims {
        n_types: nt,
        positions: p,
        max_span_len: k,
    } = targets.dims;
    let b = targets.batch;
    let tg = targets;
    let (s_thr, s_m) = terms(
        scores.start.clone(),
        &tg.start_allowed,
        &tg.start_at,
        &tg.owner,
    );
    let (e_thr, e_m) = terms(scores.end.clone(), &tg.end_allowed, &tg.end_at, &tg.owner);
    let span = scores.span.clone().reshape([b, nt, p * k]);
    let (sp_thr, sp_m) = terms(span, &tg.span_allowed, &tg.span_at, &tg.owner);
    let w = weights;
    let threshold =
        (s_thr.mul_scalar(w.start) + e_thr.mul_scalar(w.end) + sp_thr.mul_scalar(w.span))
            .mean()
            .mul_scalar(w.threshold);
    let loss = match (s_m, e_m, sp_m) {
        (Some(s), Some(e), Some(sp)) => {
            let mention = (s.mul_scalar(w.start) + e.mul_scalar(w.end) + sp.mul_scalar(w.span))
                .mean()
                .mul_scalar(w.mention);
            threshold + mention
        }
        _ => threshold,
    };
    BinderLoss {
        loss,
        mentions: tg.mentions(),
        too_long: tg.too_long,
    }
}

/// The loss written plainly, one (sentence, type, candidate) at a time in f64, from host copies
/// of the scores (`start`, `end`: `[b, t, p]`; `span`: `[b, t, p, k]`): the ground truth for
/// tests. Gold must be valid (as [`BinderTargets::new`] checks).
#[allow(clippy::too_many_arguments)]
pub fn binder_loss_naive(
    start: &[f32],
    end: &[f32],
    span: &[f32],
    lengths: &[usize],
    gold: &[Vec<GoldMention>],
    dims: SpanDims,
    weights: LossWeights,
) -> f64 {
    let SpanDims {
        n_types: nt,
        positions: p,
        max_span_len: k,
    } = dims;
    // −log(e^{pos} / Σ_{x ∈ others ∪ {pos}} e^x).
    let nll = |pos: f64, others: &[f64]| {
        let total: f64 = others.iter().map(|x| x.exp()).sum::<f64>() + pos.exp();
        -(pos.exp() / total).ln()
    };
    let (mut threshold, mut mention, mut mentions) = (0.0, 0.0, 0usize);
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..nt {
            let row = b * nt + t;
            let s = |i: usize| start[row * p + i] as f64;
            let e = |j: usize| end[row * p + j] as f64;
            let sp = |i: usize, j: usize| span[(row * p + i) * k + (j - i)] as f64;
            let golds: BTreeSet<(usize, usize)> = gold[b]
                .iter()
                .filter(|m| m.ty == t)
                .map(|m| (m.first + 1, m.last + 1))
                .collect();
            let is_start = |i: usize| golds.iter().any(|g| g.0 == i);
            let is_end = |j: usize| golds.iter().any(|g| g.1 == j);
            // Negatives (the anchor first, so that it is element 0).
            let neg_s: Vec<f64> = std::iter::once(0)
                .chain((1..=len).filter(|&i| !is_start(i)))
                .map(s)
                .collect();
            let neg_e: Vec<f64> = std::iter::once(0)
                .chain((1..=len).filter(|&j| !is_end(j)))
                .map(e)
                .collect();
            let mut neg_sp = vec![sp(0, 0)];
            for i in 1..=len {
                for j in i..=len.min(i + k - 1) {
                    if !golds.contains(&(i, j)) {
                        neg_sp.push(sp(i, j));
                    }
                }
            }
            threshold += weights.start * nll(neg_s[0], &neg_s[1..])
                + weights.end * nll(neg_e[0], &neg_e[1..])
                + weights.span * nll(neg_sp[0], &neg_sp[1..]);
            for &(i, j) in golds.iter().filter(|(i, j)| j - i < k) {
                mentions += 1;
                mention += weights.start * nll(s(i), &neg_s)
                    + weights.end * nll(e(j), &neg_e)
                    + weights.span * nll(sp(i, j), &neg_sp);
            }
        }
    }
    let mut loss = weights.threshold * threshold / (lengths.len() * nt) as f64;
    if mentions > 0 {
        loss += weights.mention * mention / mentions as f64;
    }
    loss
}
