//! Binder's span/type bi-encoder head (Zhang, Cheng, Poon et al., ICLR 2023; microsoft/binder
//! `src/model.py`): candidate spans and entity types are projected into one space and scored by
//! scaled cosine; a `[CLS]`-like anchor carries a per-sentence, per-type threshold.
//!
//! **Input contract.** [`BinderHead::forward`] takes the encoder output `reps: [batch, 1+len, H]`
//! whose position 0 is the `[CLS]`-like token (putting it into the encoder is the caller's job),
//! and position `1 + c` is character `c` of the sentence. Sentence `b` has `lengths[b]` chars;
//! positions past `lengths[b]` are padding. The CLS is never a candidate start or end: it is only
//! the anchor, position 0 for start/end scores and span `(0, 0)` for span scores. Gold mentions
//! ([`GoldMention`]) and decoded spans ([`ScoredSpan`]) are in character positions *without* the
//! CLS offset.
//!
//! **Scores.** Start and end scores are `[batch, types, 1+len]`; span scores are
//! `[batch, types, 1+len, K]`, entry `(i, k)` being the span from position `i` to `i + k`
//! (width `k + 1`), so only widths up to `K` (`max_span_len`) exist. The anchor span `(0, 0)` uses
//! the width-1 embedding, as in the reference (its width index `j − i + 1 = 1`). Invalid entries
//! (padding, spans ending past the sentence, spans starting at the CLS other than the anchor) are
//! [`MASKED`].

mod decode;
mod loss;

pub(crate) use decode::greedy_non_overlapping;
pub use decode::{Decoding, ScoredSpan, decode_batch, decode_sentence};
pub use loss::{
    BinderError, BinderLoss, BinderTargets, GoldMention, LossWeights, binder_loss,
    binder_loss_naive,
};

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

/// The score of an invalid entry. Valid scores are bounded by `e^{max_log_scale}` (cosines are
/// in [−1, 1]), so this is below every real score and the anchor while staying finite in f32.
pub const MASKED: f32 = -1e4;

/// The shape of one batch's span scores, shared by the loss targets and the decoders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanDims {
    pub n_types: usize,
    /// `1 + len` of the padded batch (the CLS plus the longest sentence, or more).
    pub positions: usize,
    /// K: the longest span scored.
    pub max_span_len: usize,
}

#[derive(Config, Debug)]
pub struct BinderConfig {
    /// H: the encoder's width.
    pub d_input: usize,
    pub n_types: usize,
    /// K: the longest span (in chars) that is scored. Take it from the training data: longer
    /// gold spans cannot be predicted (Resume has 58-char entities; the reference uses 30).
    pub max_span_len: usize,
    /// d: the shared type/token/span space.
    #[config(default = 128)]
    pub dim: usize,
    /// The width embedding's size (the reference uses d).
    #[config(default = 128)]
    pub width_dim: usize,
    /// Dropout before the L2 normalisation of every projection.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// α's initial value, ln(1/0.07) as in the reference (`init_temperature` 0.07).
    #[config(default = 2.659_260_036_932_778)]
    pub init_log_scale: f64,
    /// α is used as min(α, cap): ln 100. The reference leaves it unclamped.
    #[config(default = 4.605_170_185_988_092)]
    pub max_log_scale: f64,
}

#[derive(Module, Debug)]
pub struct BinderHead {
    /// The learned type table, `[types, H]`: g_t.
    pub types: Embedding,
    pub type_start: Linear,
    pub type_end: Linear,
    pub type_span: Linear,
    pub token_start: Linear,
    pub token_end: Linear,
    /// W^sp = [A; B; C] split by input: A on h_i, B on h_j, C (with the bias b) on the width
    /// embedding, so that `A·h_i + B·h_j + C·w + b` is a broadcast sum, not a concatenation.
    pub span_first: Linear,
    pub span_last: Linear,
    pub span_width: Linear,
    /// Width embeddings, `[K, width_dim]`: row `k` is width `k + 1`.
    pub width: Embedding,
    pub dropout: Dropout,
    pub log_scale_start: Param<Tensor<1>>,
    pub log_scale_end: Param<Tensor<1>>,
    pub log_scale_span: Param<Tensor<1>>,
    pub max_log_scale: f64,
    pub max_span_len: usize,
}

/// The head's three score tensors (see the module docs for shapes and masking).
#[derive(Clone, Debug)]
pub struct BinderScores {
    pub start: Tensor<3>,
    pub end: Tensor<3>,
    pub span: Tensor<4>,
}

impl BinderScores {
    pub fn dims(&self) -> SpanDims {
        let [_, n_types, positions, max_span_len] = self.span.dims();
        SpanDims {
            n_types,
            positions,
            max_span_len,
        }
    }
}

impl BinderConfig {
    pub fn init(&self, device: &Device) -> BinderHead {
        assert!(self.max_span_len >= 1, "max_span_len must be at least 1");
        let (h, d) = (self.d_input, self.dim);
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        let plain = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        let scale = || Param::from_tensor(Tensor::full([1], self.init_log_scale, device));
        BinderHead {
            types: EmbeddingConfig::new(self.n_types, h).init(device),
            type_start: lin(h, d),
            type_end: lin(h, d),
            type_span: lin(h, d),
            token_start: lin(h, d),
            token_end: lin(h, d),
            span_first: plain(h, d),
            span_last: plain(h, d),
            span_width: lin(self.width_dim, d),
            width: EmbeddingConfig::new(self.max_span_len, self.width_dim).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            log_scale_start: scale(),
            log_scale_end: scale(),
            log_scale_span: scale(),
            max_log_scale: self.max_log_scale,
            max_span_len: self.max_span_len,
        }
    }
}

/// `x / ‖x‖` along the last dimension (the norm floored as in `F.normalize`).
fn l2_normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().square().sum_dim(D - 1).clamp_min(1e-24).sqrt();
    x / norm
}

impl BinderHead {
    pub fn n_types(&self) -> usize {
        self.types.weight.dims()[0]
    }

    /// Dropout then unit length: every vector that enters a cosine goes through this.
    fn unit<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        l2_normalize(self.dropout.forward(x))
    }

    /// e^{min(α, cap)}, shaped `[1; D]` to broadcast.
    fn scale<const D: usize>(&self, alpha: &Param<Tensor<1>>) -> Tensor<D> {
        alpha
            .val()
            .clamp_max(self.max_log_scale)
            .exp()
            .reshape([1; D])
    }

    /// W^sp [h_i; h_{i+k}; w_k] + b for every position i and width index k, `[batch, 1+len, K,
    /// d]`, before dropout and normalisation. Positions past the end read zeros for h_j (those
    /// spans are masked later).
    pub fn span_projection(&self, reps: Tensor<3>) -> Tensor<4> {
        let [b, p, _] = reps.dims();
        let k = self.max_span_len;
        let first = self.span_first.forward(reps.clone());
        let last = self.span_last.forward(reps);
        let d = first.dims()[2];
        let last = if k > 1 {
            Tensor::cat(vec![last, Tensor::zeros([b, k - 1, d], &first.device())], 1)
        } else {
            last
        };
        // [b, p, k, d]: entry (i, k) is B·h_{i+k}.
        let last = Tensor::stack::<4>((0..k).map(|w| last.clone().narrow(1, w, p)).collect(), 2);
        let width = self
            .span_width
            .forward(self.width.weight.val())
            .reshape([1, 1, k, d]);
        first.unsqueeze_dim::<4>(2) + last + width
    }

    /// Start, end and span scores of `reps` (`[batch, 1+len, H]`, CLS at 0) for sentences of
    /// `lengths` chars, invalid entries [`MASKED`].
    pub fn forward(&self, reps: Tensor<3>, lengths: &[usize]) -> BinderScores {
        let [b, p, _] = reps.dims();
        assert_eq!(lengths.len(), b, "one length per sentence");
        assert!(
            lengths.iter().all(|&len| len < p),
            "reps must hold the CLS and every char"
        );
        let device = reps.device();
        let types = self.types.weight.val();
        let n_types = types.dims()[0];
        let k = self.max_span_len;

        // [b, p, d] @ [1, d, T] → [b, p, T] → [b, T, p].
        let cosines = |tokens: Tensor<3>, ty: Tensor<2>| {
            tokens
                .matmul(ty.transpose().unsqueeze_dim(0))
                .swap_dims(1, 2)
        };
        let start = cosines(
            self.unit(self.token_start.forward(reps.clone())),
            self.unit(self.type_start.forward(types.clone())),
        ) * self.scale::<3>(&self.log_scale_start);
        let end = cosines(
            self.unit(self.token_end.forward(reps.clone())),
            self.unit(self.type_end.forward(types.clone())),
        ) * self.scale::<3>(&self.log_scale_end);

        let spans = self.unit(self.span_projection(reps));
        let d = spans.dims()[3];
        let span = cosines(
            spans.reshape([b, p * k, d]),
            self.unit(self.type_span.forward(types)),
        )
        .reshape([b, n_types, p, k])
            * self.scale::<4>(&self.log_scale_span);

        let (token_bias, span_bias) = validity_biases(lengths, p, k, &device);
        BinderScores {
            start: start + token_bias.clone(),
            end: end + token_bias,
            span: span + span_bias,
        }
    }
}

/// Whether position `i` is the anchor or a real char of a sentence of `len` chars.
pub(crate) fn valid_token(i: usize, len: usize) -> bool {
    i <= len
}

/// Whether span `(i, i + k)` is the anchor `(0, 0)` or lies inside a sentence of `len` chars.
pub(crate) fn valid_span(i: usize, k: usize, len: usize) -> bool {
    (i == 0 && k == 0) || (i >= 1 && i + k <= len)
}

/// Additive masks: 0 where valid, [`MASKED`] elsewhere; `[b, 1, p]` and `[b, 1, p, k]`.
fn validity_biases(
    lengths: &[usize],
    p: usize,
    k: usize,
    device: &Device,
) -> (Tensor<3>, Tensor<4>) {
    let b = lengths.len();
    let bias = |ok: bool| if ok { 0.0 } else { MASKED };
    let tokens: Vec<f32> = lengths
        .iter()
        .flat_map(|&len| (0..p).map(move |i| bias(valid_token(i, len))))
        .collect();
    let spans: Vec<f32> = lengths
        .iter()
        .flat_map(|&len| (0..p * k).map(move |f| bias(valid_span(f / k, f % k, len))))
        .collect();
    (
        Tensor::from_data(TensorData::new(tokens, [b, 1, p]), device),
        Tensor::from_data(TensorData::new(spans, [b, 1, p, k]), device),
    )
}

#[cfg(test)]
mod tests;
