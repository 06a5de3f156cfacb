//! The device side of inference: one batch through the tagger, the encoder over examples in
//! length buckets, and the CRF's effective scores. Everything returns tensors; callers read them
//! back their own way (synchronously natively, by awaiting on WebGPU).

use crate::batch::{Batch, Example, length_buckets};
use crate::model::{CrfConstraints, OutputHead, Tagger};
use crate::tags::TagSet;
use burn::prelude::*;

/// What one forward pass returns.
pub struct Forward {
    /// The head's scores for the host ([`crate::model::OutputHead::scores`]): tag scores
    /// `[batch, len, tags]`, or Binder's span scores `[batch, types, (1 + len) · K]`.
    pub scores: Tensor<3>,
    /// The encoder's outputs at the batch's real tokens, `[tokens, d_model]`, in batch order,
    /// when asked for.
    pub reps: Option<Tensor<2>>,
}

/// Run `tagger` (an inference copy: `Tagger::valid`) over `batch`.
pub fn forward(tagger: &Tagger, batch: &Batch, with_reps: bool) -> Forward {
    let h = tagger.states(batch);
    let reps = with_reps.then(|| batch.gather_tokens(tagger.char_states(h.clone())));
    Forward {
        scores: tagger.head().scores(h, batch),
        reps,
    }
}

/// The CRF's transition, start and end scores with the tag set's constraints added, ready to be
/// read into a [`crate::decode::CrfScores`].
pub fn crf_tensors(
    tagger: &Tagger,
    tags: &TagSet,
    device: &Device,
) -> (Tensor<2>, Tensor<1>, Tensor<1>) {
    tagger.crf.effective(&CrfConstraints::new(tags, device))
}

/// One length bucket through the encoder.
pub struct Encoded {
    /// Indices of the bucket's examples in the encoded slice, in batch order.
    pub(crate) examples: Vec<usize>,
    pub batch: Batch,
    /// Encoder outputs at the real tokens, `[tokens, d_model]`, aligned with the batch's classes
    /// flattened (what the contrastive loss takes).
    pub reps: Tensor<2>,
}

impl Encoded {
    /// Each example's rows of `values` (`reps` read back, `d` per row): `(example, rows)`.
    pub fn rows<'v>(
        &self,
        values: &'v [f32],
        d: usize,
    ) -> impl Iterator<Item = (usize, &'v [f32])> {
        let mut start = 0;
        self.examples
            .iter()
            .zip(&self.batch.lengths)
            .map(move |(&i, &len)| {
                let rows = &values[start * d..(start + len) * d];
                start += len;
                (i, rows)
            })
    }
}

/// `examples` through the encoder of `tagger` (an inference copy: `Tagger::valid`) in length
/// buckets of at most `batch_size`, one [`Encoded`] per bucket, lazily.
pub fn encode_buckets<'a>(
    tagger: &'a Tagger,
    examples: &'a [Example],
    batch_size: usize,
    device: &'a Device,
) -> impl Iterator<Item = Encoded> + 'a {
    let lens: Vec<usize> = examples.iter().map(Example::len).collect();
    length_buckets(&lens, batch_size)
        .into_iter()
        .map(move |group| {
            let refs: Vec<&Example> = group.iter().map(|&i| &examples[i]).collect();
            let batch = Batch::new(&refs, device);
            let reps = batch.gather_tokens(tagger.encode(&batch));
            Encoded {
                examples: group,
                batch,
                reps,
            }
        })
}
