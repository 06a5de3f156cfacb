//! The full tagger: embeddings → encoder (stage 1 learns these) → dropout → linear → CRF.
//!
//! With a pretrained character encoder (BERT), its hidden states join the character and bigram
//! embeddings before the projection, and the relative-position encoder runs on top (FLAT+BERT's
//! layout). The trainer keeps BERT frozen in stage 1 by feeding [`Tagger::encode_with`] features
//! computed without autodiff.

use super::bert::{Bert, BertConfig};
use super::crf::{Crf, CrfConfig, CrfConstraints};
use super::embedding::{CharBigramEmbedding, CharBigramEmbeddingConfig};
use super::encoder::{Encoder, EncoderConfig};
use crate::batch::Batch;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct TaggerConfig {
    pub n_chars: usize,
    pub n_bigrams: usize,
    pub n_tags: usize,
    #[config(default = 100)]
    pub char_dim: usize,
    #[config(default = 100)]
    pub bigram_dim: usize,
    #[config(default = 160)]
    pub d_model: usize,
    #[config(default = 8)]
    pub n_heads: usize,
    #[config(default = 1)]
    pub n_layers: usize,
    #[config(default = 3)]
    pub ff_mult: usize,
    #[config(default = 0.5)]
    pub dropout_embed: f64,
    #[config(default = 0.15)]
    pub dropout_ff: f64,
    #[config(default = 0.15)]
    pub dropout_residual: f64,
    #[config(default = 0.0)]
    pub dropout_attn: f64,
    #[config(default = 0.3)]
    pub dropout_out: f64,
    #[config(default = false)]
    pub scaled_attention: bool,
    /// The pretrained character encoder's shape; its weights live in the tagger's record.
    pub char_encoder: Option<BertConfig>,
}

#[derive(Module, Debug)]
pub struct Tagger {
    pub bert: Option<Bert>,
    pub embed: CharBigramEmbedding,
    pub encoder: Encoder,
    pub dropout_out: Dropout,
    pub head: Linear,
    pub crf: Crf,
}

impl TaggerConfig {
    pub fn init(&self, device: &Device) -> Tagger {
        Tagger {
            bert: self.char_encoder.as_ref().map(|c| c.init(device)),
            embed: CharBigramEmbeddingConfig::new(self.n_chars, self.n_bigrams, self.d_model)
                .with_char_dim(self.char_dim)
                .with_extra_dim(self.char_encoder.as_ref().map_or(0, |c| c.hidden_size))
                .with_bigram_dim(self.bigram_dim)
                .with_dropout(self.dropout_embed)
                .init(device),
            encoder: EncoderConfig::new(self.d_model, self.n_heads)
                .with_n_layers(self.n_layers)
                .with_ff_mult(self.ff_mult)
                .with_dropout_ff(self.dropout_ff)
                .with_dropout_residual(self.dropout_residual)
                .with_dropout_attn(self.dropout_attn)
                .with_scaled(self.scaled_attention)
                .init(device),
            dropout_out: DropoutConfig::new(self.dropout_out).init(),
            head: LinearConfig::new(self.d_model, self.n_tags).init(device),
            crf: CrfConfig::new(self.n_tags).init(device),
        }
    }
}

impl Tagger {
    /// Token representations `[batch, len, d_model]`: what stage 1 contrasts.
    pub fn encode(&self, batch: &Batch) -> Tensor<3> {
        let features = self.bert.as_ref().and_then(|b| char_features(b, batch));
        self.encode_with(batch, features)
    }

    /// [`Tagger::encode`] with the pretrained encoder's features computed by the caller (e.g.
    /// without autodiff, to freeze it). `features`: `[batch, len, hidden]` or `None` without one.
    pub fn encode_with(&self, batch: &Batch, features: Option<Tensor<3>>) -> Tensor<3> {
        let x = self
            .embed
            .forward(batch.chars.clone(), batch.bigrams.clone(), features);
        self.encoder.forward(x, batch.pad.clone())
    }

    /// Tag scores `[batch, len, tags]` from representations.
    pub fn emissions(&self, reps: Tensor<3>) -> Tensor<3> {
        self.head.forward(self.dropout_out.forward(reps))
    }

    /// The CRF loss by host forward–backward: a scalar with the NLL's gradient, and the NLL.
    pub fn nll_fast(
        &self,
        reps: Tensor<3>,
        batch: &Batch,
        constraints: &CrfConstraints,
    ) -> (Tensor<1>, f64) {
        self.crf
            .nll_fast(self.emissions(reps), &batch.tags, constraints)
    }

    /// Summed CRF negative log-likelihood of the batch's gold tags.
    pub fn nll(&self, reps: Tensor<3>, batch: &Batch, constraints: &CrfConstraints) -> Tensor<1> {
        self.crf.nll(self.emissions(reps), &batch.tags, constraints)
    }
}

/// BERT's hidden states at the characters, `[batch, len, hidden]`: the `[CLS]` and `[SEP]`/padding
/// outputs are dropped. `None` when the batch carries no BERT ids.
pub fn char_features(bert: &Bert, batch: &Batch) -> Option<Tensor<3>> {
    let (ids, pad) = batch.bert.as_ref()?;
    let h = bert.forward(ids.clone(), pad.clone());
    Some(h.narrow(1, 1, batch.max_len()))
}
