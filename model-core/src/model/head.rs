//! Output heads: what turns the encoder's states into the scores a host decoder reads, and into
//! a training loss against a batch's gold labels.
//!
//! Two heads: linear + CRF (NerCo's stage 2, [`LinearCrf`]) and Binder's span/type bi-encoder
//! ([`BinderHead`]). [`Tagger::head`] picks the model's; the training step (`crate::train`,
//! feature `train`) and inference ([`crate::infer::forward()`]) call the trait, never a head
//! directly. The host side of a head's scores (Viterbi, or span decoding) follows the model's
//! config ([`crate::infer::Run`]).

use super::binder::{BinderHead, BinderTargets, LossWeights, binder_loss};
use super::crf::{Crf, CrfConstraints};
use super::tagger::Tagger;
use crate::batch::Batch;
use burn::nn::{Dropout, Linear};
use burn::prelude::*;

/// A head's training loss.
pub struct HeadLoss {
    /// What to differentiate.
    pub tensor: Tensor<1>,
    /// Its value when the head computed it on the host (the CRF NLL, whose tensor is a surrogate
    /// with the NLL's gradient); `None`: the value is `tensor`'s.
    pub host: Option<f64>,
}

/// How the CRF head computes its loss: the tag set's allowed transitions, and where the NLL runs.
#[derive(Clone, Copy)]
pub struct CrfLoss<'a> {
    pub constraints: &'a CrfConstraints,
    /// Host forward–backward ([`Crf::nll_fast`]: one read-back, 5–15× faster on a CPU), or the
    /// batched forward algorithm on the device ([`Crf::nll`]: no read-back, a GPU's path).
    pub on_host: bool,
}

pub trait OutputHead {
    /// Device-side scores for the host decoder, one block per sentence: the CRF head's
    /// emissions `[batch, len, tags]`; Binder's span scores `[batch, types, (1 + len) · K]`.
    /// `states`: the encoder's outputs for `batch`, a Binder model's sentence token first.
    fn scores(&self, states: Tensor<3>, batch: &Batch) -> Tensor<3>;

    /// The loss of `batch`'s gold labels (its tags for the CRF, its gold spans for Binder).
    /// `crf`: the CRF's settings (heads that do not tag ignore them).
    fn loss(&self, states: Tensor<3>, batch: &Batch, crf: CrfLoss) -> HeadLoss;
}

/// The linear + CRF head, a view over the tagger's `dropout_out`, `head` and `crf` fields. They
/// stay fields of the tagger, not of a nested module, so that weight files written before the
/// head was a choice keep their tensor names and load.
pub struct LinearCrf<'a> {
    pub(crate) dropout: &'a Dropout,
    pub(crate) linear: &'a Linear,
    pub(crate) crf: &'a Crf,
}

impl OutputHead for LinearCrf<'_> {
    fn scores(&self, states: Tensor<3>, _batch: &Batch) -> Tensor<3> {
        self.linear.forward(self.dropout.forward(states))
    }

    /// The CRF NLL, on the host or on the device as `crf` says.
    fn loss(&self, states: Tensor<3>, batch: &Batch, crf: CrfLoss) -> HeadLoss {
        let emissions = self.scores(states, batch);
        if crf.on_host {
            let (tensor, value) = self.crf.nll_fast(emissions, &batch.tags, crf.constraints);
            HeadLoss {
                tensor,
                host: Some(value),
            }
        } else {
            HeadLoss {
                tensor: self.crf.nll(emissions, &batch.tags, crf.constraints),
                host: None,
            }
        }
    }
}

impl OutputHead for BinderHead {
    fn scores(&self, states: Tensor<3>, batch: &Batch) -> Tensor<3> {
        let span = self.forward(states, &batch.lengths).span;
        let [b, t, p, k] = span.dims();
        span.reshape([b, t, p * k])
    }

    /// Binder's loss against the batch's gold spans (see [`binder_loss`]).
    fn loss(&self, states: Tensor<3>, batch: &Batch, _: CrfLoss) -> HeadLoss {
        let scores = self.forward(states, &batch.lengths);
        // Gold mentions were checked against the sentence and the head's types when their
        // examples were built (`Example::with_gold`), and `states` holds every char.
        let targets = BinderTargets::new(&batch.lengths, &batch.gold, scores.dims())
            .unwrap_or_else(|e| panic!("a batch's gold does not fit its scores: {e}"));
        HeadLoss {
            tensor: binder_loss(&scores, &targets, LossWeights::default()).loss,
            host: None,
        }
    }
}

/// The model's head: one of the two, behind the trait.
pub enum Head<'a> {
    Crf(LinearCrf<'a>),
    Binder(&'a BinderHead),
}

impl OutputHead for Head<'_> {
    fn scores(&self, states: Tensor<3>, batch: &Batch) -> Tensor<3> {
        match self {
            Head::Crf(h) => h.scores(states, batch),
            Head::Binder(h) => h.scores(states, batch),
        }
    }

    fn loss(&self, states: Tensor<3>, batch: &Batch, crf: CrfLoss) -> HeadLoss {
        match self {
            Head::Crf(h) => h.loss(states, batch, crf),
            Head::Binder(h) => h.loss(states, batch, crf),
        }
    }
}

impl Tagger {
    /// The tagger's output head: Binder's when the model has one, else linear + CRF.
    pub fn head(&self) -> Head<'_> {
        match &self.binder {
            Some(parts) => Head::Binder(&parts.head),
            None => Head::Crf(LinearCrf {
                dropout: &self.dropout_out,
                linear: &self.head,
                crf: &self.crf,
            }),
        }
    }
}
