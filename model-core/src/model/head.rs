//! Output heads: what turns the encoder's character representations into the scores a host
//! decoder reads, and into a training loss against a batch's gold labels.
//!
//! The linear + CRF head (NerCo's stage 2) is the only one today. A second head (Binder's
//! span/type bi-encoder) is a new file here implementing [`OutputHead`], a
//! [`crate::config::HeadKind`] variant, an optional field of the [`Tagger`] and an arm of
//! [`Tagger::head`]; the training step (`crate::train`, feature `train`) and inference call the trait, not the
//! CRF.

use super::crf::{Crf, CrfConstraints};
use super::tagger::Tagger;
use crate::batch::Batch;
use burn::nn::{Dropout, Linear};
use burn::prelude::*;

pub trait OutputHead {
    /// Device-side scores for the host decoder (the CRF head: emissions `[batch, len, tags]`).
    fn scores(&self, reps: Tensor<3>) -> Tensor<3>;

    /// The loss of `batch`'s gold labels to differentiate, and its value. `constraints`: the
    /// tag set's allowed transitions (heads that do not tag ignore them).
    fn loss(
        &self,
        reps: Tensor<3>,
        batch: &Batch,
        constraints: &CrfConstraints,
    ) -> (Tensor<1>, f64);
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
    fn scores(&self, reps: Tensor<3>) -> Tensor<3> {
        self.linear.forward(self.dropout.forward(reps))
    }

    /// The CRF NLL by host forward–backward ([`Crf::nll_fast`]).
    fn loss(
        &self,
        reps: Tensor<3>,
        batch: &Batch,
        constraints: &CrfConstraints,
    ) -> (Tensor<1>, f64) {
        self.crf
            .nll_fast(self.scores(reps), &batch.tags, constraints)
    }
}

impl Tagger {
    /// The tagger's output head.
    pub fn head(&self) -> impl OutputHead + '_ {
        LinearCrf {
            dropout: &self.dropout_out,
            linear: &self.head,
            crf: &self.crf,
        }
    }
}
