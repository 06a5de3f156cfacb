//! A BERT encoder (Devlin et al., 2019) that loads Hugging Face checkpoints: the configuration
//! deserialises straight from `config.json` ([`config`]), the weights come from
//! `model.safetensors` bytes with or without the `bert.` prefix of `BertFor*` checkpoints
//! ([`weights`]), and [`Bert::to_safetensors`] writes the same layout back, so `nerco pretrain`
//! output loads here and in `transformers` alike. Every Hugging Face tensor name is written once,
//! in `names.rs`, which both directions go through.
//!
//! Layout: word + position + token-type embeddings → LayerNorm → post-LN layers (self-attention,
//! residual, LayerNorm; GELU feed-forward, residual, LayerNorm). Token types are all 0 (single
//! sentences).

pub mod config;
pub mod error;
#[cfg(feature = "native")]
pub mod files;
pub(crate) mod names;
pub mod weights;

#[cfg(test)]
pub(crate) mod fixture;

pub use config::BertConfig;
pub use error::{BertError, TensorError};

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, softmax};

#[derive(Module, Debug)]
pub struct BertLayer {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attn_out: Linear,
    pub attn_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub out_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct Bert {
    pub word: Embedding,
    pub position: Embedding,
    pub token_type: Embedding,
    pub embed_norm: LayerNorm,
    pub layers: Vec<BertLayer>,
    pub dropout: Dropout,
    pub attn_dropout: Dropout,
    pub n_heads: usize,
    pub gelu_tanh: bool,
}

impl BertConfig {
    /// A randomly initialised BERT (normal, std 0.02, as BERT's own initialisation).
    pub fn init(&self, device: &Device) -> Bert {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let h = self.hidden_size;
        let emb = |n| {
            EmbeddingConfig::new(n, h)
                .with_initializer(init.clone())
                .init(device)
        };
        let lin = |i, o| {
            LinearConfig::new(i, o)
                .with_initializer(init.clone())
                .init(device)
        };
        let norm = || {
            LayerNormConfig::new(h)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        Bert {
            word: emb(self.vocab_size),
            position: emb(self.max_position_embeddings),
            token_type: emb(self.type_vocab_size),
            embed_norm: norm(),
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    query: lin(h, h),
                    key: lin(h, h),
                    value: lin(h, h),
                    attn_out: lin(h, h),
                    attn_norm: norm(),
                    intermediate: lin(h, self.intermediate_size),
                    output: lin(self.intermediate_size, h),
                    out_norm: norm(),
                })
                .collect(),
            dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
            attn_dropout: DropoutConfig::new(self.attention_probs_dropout_prob).init(),
            n_heads: self.num_attention_heads,
            gelu_tanh: self.gelu_tanh().unwrap_or(false),
        }
    }
}

impl Bert {
    pub fn hidden_size(&self) -> usize {
        self.word.weight.dims()[1]
    }

    /// Longest input (special tokens included) the position table covers.
    pub fn max_len(&self) -> usize {
        self.position.weight.dims()[0]
    }

    /// Hidden states `[batch, len, hidden]` of token ids `[batch, len]`; `pad` is true at padding
    /// (this crate's mask convention; Hugging Face's `attention_mask` is its negation). Padding
    /// is excluded as a key; padded positions still get (meaningless) outputs, as in
    /// `transformers`. `len` must not exceed [`Bert::max_len`].
    pub fn forward(&self, ids: Tensor<2, Int>, pad: Tensor<2, Bool>) -> Tensor<3> {
        let [b, l] = ids.dims();
        assert!(
            l <= self.max_len(),
            "BERT input of {l} tokens exceeds its {} positions",
            self.max_len()
        );
        let h = self.hidden_size();
        let position = self
            .position
            .weight
            .val()
            .narrow(0, 0, l)
            .reshape([1, l, h]);
        let token_type = self
            .token_type
            .weight
            .val()
            .narrow(0, 0, 1)
            .reshape([1, 1, h]);
        let x = self.word.forward(ids) + position + token_type;
        let mut x = self.dropout.forward(self.embed_norm.forward(x));
        let key_pad = pad.reshape([b, 1, 1, l]).expand([b, self.n_heads, l, l]);
        for layer in &self.layers {
            x = self.layer(layer, x, key_pad.clone());
        }
        x
    }

    fn layer(&self, layer: &BertLayer, x: Tensor<3>, key_pad: Tensor<4, Bool>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.n_heads;
        let hd = d / h;
        let heads = |t: Tensor<3>| t.reshape([b, l, h, hd]).swap_dims(1, 2);
        let q = heads(layer.query.forward(x.clone()));
        let k = heads(layer.key.forward(x.clone()));
        let v = heads(layer.value.forward(x.clone()));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((hd as f64).sqrt())
            .mask_fill(key_pad, f32::MIN);
        let attn = self.attn_dropout.forward(softmax(scores, 3));
        let ctx = attn.matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        let x = layer
            .attn_norm
            .forward(x + self.dropout.forward(layer.attn_out.forward(ctx)));
        let inner = layer.intermediate.forward(x.clone());
        let inner = if self.gelu_tanh {
            gelu_approximate(inner)
        } else {
            gelu(inner)
        };
        layer
            .out_norm
            .forward(x + self.dropout.forward(layer.output.forward(inner)))
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{CONFIG, Reference, VOCAB, WEIGHTS, inputs, max_diff};
    use super::*;
    use crate::vocab::BertVocab;

    #[test]
    fn hidden_states_match_transformers() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        let bert = cfg.load(WEIGHTS, &device).unwrap();
        let r = Reference::load();
        let (ids, pad) = inputs(&r, &device);
        // The padded sentences are the point of the fixture: at least one row has padding.
        assert!(r.attention_mask.iter().any(|m| m.contains(&0)));
        let (real, all) = max_diff(bert.forward(ids, pad), &r);
        assert!(real < 1e-4, "max abs diff at real positions {real}");
        assert!(all < 1e-4, "max abs diff at padded positions {all}");
    }

    #[test]
    fn characters_encode_to_the_reference_ids() {
        let vocab = BertVocab::from_vocab_txt(VOCAB).unwrap();
        let r = Reference::load();
        for (text, ids) in r.texts.iter().zip(&r.input_ids) {
            let chars: Vec<char> = text.chars().collect();
            let mut want = vec![vocab.cls];
            want.extend(vocab.encode(&chars));
            want.push(vocab.sep);
            let got: Vec<i64> = want.iter().map(|&i| i as i64).collect();
            assert_eq!(&got[..], &ids[..got.len()], "{text}");
        }
        // The fixture's last text has characters outside the vocabulary.
        assert!(r.input_ids[2].contains(&(vocab.unk as i64)));
    }
}
