//! A BERT encoder (Devlin et al., 2019) that loads Hugging Face checkpoints: the configuration
//! deserialises straight from `config.json`, the weights come from `model.safetensors` bytes (with
//! or without the `bert.` prefix of `BertFor*` checkpoints), and [`Bert::to_safetensors`] writes
//! the same layout back, so `nerco pretrain` output loads here and in `transformers` alike.
//!
//! Layout: word + position + token-type embeddings → LayerNorm → post-LN layers (self-attention,
//! residual, LayerNorm; GELU feed-forward, residual, LayerNorm). Token types are all 0 (single
//! sentences).

use crate::host::tensor_values;
use crate::safetensors::{NamedTensor, SafeTensors, SafetensorsError, serialize_f32};
use burn::module::Param;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, softmax};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("BERT config.json: {0}")]
    Config(String),
    #[error("BERT weights: {0}")]
    Weights(SafetensorsError),
    #[error("BERT vocab.txt: {0}")]
    Vocab(String),
    /// An error in a named file of a model directory.
    // The inner errors are part of the message, not `source`s, so reports do not repeat them.
    #[error("{path}: {error}")]
    In { path: String, error: Box<BertError> },
    #[cfg(feature = "native")]
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
}

impl From<SafetensorsError> for BertError {
    fn from(e: SafetensorsError) -> Self {
        Self::Weights(e)
    }
}

/// Hugging Face `BertConfig`; fields this model does not use are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_position")]
    pub position_embedding_type: String,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn two() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_position() -> String {
    "absolute".into()
}
fn default_model_type() -> String {
    "bert".into()
}

impl BertConfig {
    /// A BERT-base-shaped config for `vocab_size` tokens (what `nerco pretrain` scales down).
    pub fn new(
        vocab_size: usize,
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        intermediate_size: usize,
        max_position_embeddings: usize,
    ) -> Self {
        Self {
            vocab_size,
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size,
            max_position_embeddings,
            type_vocab_size: 2,
            layer_norm_eps: default_eps(),
            hidden_act: default_act(),
            hidden_dropout_prob: default_dropout(),
            attention_probs_dropout_prob: default_dropout(),
            position_embedding_type: default_position(),
            model_type: default_model_type(),
        }
    }

    /// Parse and check a Hugging Face `config.json`.
    pub fn from_json(json: &str) -> Result<Self, BertError> {
        let cfg: Self = serde_json::from_str(json).map_err(|e| BertError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), BertError> {
        let bad = |m: String| Err(BertError::Config(m));
        if self.model_type != "bert" {
            return bad(format!(
                "model_type `{}` is not supported (only `bert`)",
                self.model_type
            ));
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.vocab_size == 0
            || self.hidden_size == 0
            || self.intermediate_size == 0
            || self.max_position_embeddings < 3
            || self.type_vocab_size == 0
        {
            return bad("vocab_size, hidden_size, intermediate_size, type_vocab_size must be positive and max_position_embeddings at least 3".into());
        }
        if self.position_embedding_type != "absolute" {
            return bad(format!(
                "position_embedding_type `{}` is not supported (only `absolute`)",
                self.position_embedding_type
            ));
        }
        self.activation()?;
        for (name, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// Whether the GELU is the tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    fn activation(&self) -> Result<bool, BertError> {
        match self.hidden_act.as_str() {
            "gelu" => Ok(false),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(true),
            other => Err(BertError::Config(format!(
                "hidden_act `{other}` is not supported (gelu, gelu_new, gelu_pytorch_tanh)"
            ))),
        }
    }

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
            gelu_tanh: self.activation().unwrap_or(false),
        }
    }

    /// A BERT with the weights of a Hugging Face `model.safetensors` (f32, f16 or bf16).
    pub fn load(&self, safetensors: &[u8], device: &Device) -> Result<Bert, BertError> {
        self.validate()?;
        let st = SafeTensors::parse(safetensors)?;
        // `BertFor*` checkpoints (Chinese BERTs among them) prefix the encoder with `bert.`.
        let prefix = if st.contains("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let mut bert = self.init(device);
        let h = self.hidden_size;
        let loader = Loader {
            st: &st,
            prefix,
            device,
        };
        bert.word = loader.embedding("embeddings.word_embeddings", [self.vocab_size, h])?;
        bert.position = loader.embedding(
            "embeddings.position_embeddings",
            [self.max_position_embeddings, h],
        )?;
        bert.token_type = loader.embedding(
            "embeddings.token_type_embeddings",
            [self.type_vocab_size, h],
        )?;
        loader.layer_norm("embeddings.LayerNorm", &mut bert.embed_norm, h)?;
        for (i, layer) in bert.layers.iter_mut().enumerate() {
            let p = format!("encoder.layer.{i}");
            layer.query = loader.linear(&format!("{p}.attention.self.query"), h, h)?;
            layer.key = loader.linear(&format!("{p}.attention.self.key"), h, h)?;
            layer.value = loader.linear(&format!("{p}.attention.self.value"), h, h)?;
            layer.attn_out = loader.linear(&format!("{p}.attention.output.dense"), h, h)?;
            loader.layer_norm(
                &format!("{p}.attention.output.LayerNorm"),
                &mut layer.attn_norm,
                h,
            )?;
            layer.intermediate = loader.linear(
                &format!("{p}.intermediate.dense"),
                h,
                self.intermediate_size,
            )?;
            layer.output =
                loader.linear(&format!("{p}.output.dense"), self.intermediate_size, h)?;
            loader.layer_norm(&format!("{p}.output.LayerNorm"), &mut layer.out_norm, h)?;
        }
        Ok(bert)
    }
}

/// Reads named Hugging Face tensors into Burn layers, checking each shape.
pub(crate) struct Loader<'a> {
    pub st: &'a SafeTensors<'a>,
    pub prefix: &'a str,
    pub device: &'a Device,
}

impl Loader<'_> {
    pub(crate) fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Tensor<D>, BertError> {
        let v = self.st.f32(&format!("{}{name}", self.prefix), &shape)?;
        Ok(Tensor::from_data(TensorData::new(v, shape), self.device))
    }

    pub(crate) fn embedding(&self, name: &str, shape: [usize; 2]) -> Result<Embedding, BertError> {
        Ok(Embedding {
            weight: Param::from_tensor(self.tensor(&format!("{name}.weight"), shape)?),
        })
    }

    /// Hugging Face stores `[out, in]`; Burn's `Linear` multiplies by `[in, out]`.
    pub(crate) fn linear(
        &self,
        name: &str,
        d_in: usize,
        d_out: usize,
    ) -> Result<Linear, BertError> {
        let w: Tensor<2> = self.tensor(&format!("{name}.weight"), [d_out, d_in])?;
        Ok(Linear {
            weight: Param::from_tensor(w.transpose()),
            bias: Some(Param::from_tensor(
                self.tensor(&format!("{name}.bias"), [d_out])?,
            )),
        })
    }

    /// `weight`/`bias`, or `gamma`/`beta` in checkpoints converted from TensorFlow.
    pub(crate) fn layer_norm(
        &self,
        name: &str,
        norm: &mut LayerNorm,
        d: usize,
    ) -> Result<(), BertError> {
        let legacy = !self.st.contains(&format!("{}{name}.weight", self.prefix))
            && self.st.contains(&format!("{}{name}.gamma", self.prefix));
        let (w, b) = if legacy {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        norm.gamma = Param::from_tensor(self.tensor(&format!("{name}.{w}"), [d])?);
        norm.beta = Some(Param::from_tensor(
            self.tensor(&format!("{name}.{b}"), [d])?,
        ));
        Ok(())
    }
}

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

    /// The weights as a Hugging Face safetensors file, names prefixed with `prefix` (`""` for a
    /// `BertModel`, `"bert."` for `BertFor*`), plus `extra` tensors (e.g. an MLM head) given as
    /// `(name, shape, values)`.
    pub fn to_safetensors(&self, prefix: &str, extra: Vec<NamedTensor>) -> Vec<u8> {
        let mut out: Vec<NamedTensor> = Vec::new();
        for (name, emb) in [
            ("word_embeddings", &self.word),
            ("position_embeddings", &self.position),
            ("token_type_embeddings", &self.token_type),
        ] {
            let w = emb.weight.val();
            out.push((
                format!("embeddings.{name}.weight"),
                w.dims().to_vec(),
                tensor_values(w),
            ));
        }
        push_norm(&mut out, "embeddings.LayerNorm", &self.embed_norm);
        for (i, layer) in self.layers.iter().enumerate() {
            let p = format!("encoder.layer.{i}");
            for (name, lin) in [
                ("attention.self.query", &layer.query),
                ("attention.self.key", &layer.key),
                ("attention.self.value", &layer.value),
                ("attention.output.dense", &layer.attn_out),
                ("intermediate.dense", &layer.intermediate),
                ("output.dense", &layer.output),
            ] {
                push_linear(&mut out, &format!("{p}.{name}"), lin);
            }
            push_norm(
                &mut out,
                &format!("{p}.attention.output.LayerNorm"),
                &layer.attn_norm,
            );
            push_norm(&mut out, &format!("{p}.output.LayerNorm"), &layer.out_norm);
        }
        let mut all: Vec<NamedTensor> = out
            .into_iter()
            .map(|(n, s, v)| (format!("{prefix}{n}"), s, v))
            .collect();
        all.extend(extra);
        serialize_f32(&all)
    }
}

/// `name.weight` (as `[out, in]`) and `name.bias` of a linear layer.
pub fn push_linear(out: &mut Vec<NamedTensor>, name: &str, lin: &Linear) {
    let w = lin.weight.val().transpose();
    let dims = w.dims().to_vec();
    out.push((format!("{name}.weight"), dims, tensor_values(w)));
    if let Some(b) = &lin.bias {
        let bv = b.val();
        let dims = bv.dims().to_vec();
        out.push((format!("{name}.bias"), dims, tensor_values(bv)));
    }
}

pub fn push_norm(out: &mut Vec<NamedTensor>, name: &str, norm: &LayerNorm) {
    let g = norm.gamma.val();
    out.push((
        format!("{name}.weight"),
        g.dims().to_vec(),
        tensor_values(g),
    ));
    if let Some(b) = &norm.beta {
        let b = b.val();
        out.push((format!("{name}.bias"), b.dims().to_vec(), tensor_values(b)));
    }
}

#[cfg(feature = "native")]
pub mod files {
    //! Loading a Hugging Face model directory (`config.json`, `model.safetensors`, `vocab.txt`).
    use super::*;
    use crate::vocab::BertVocab;
    use std::path::Path;

    fn read(path: &Path) -> Result<Vec<u8>, BertError> {
        std::fs::read(path).map_err(|error| BertError::Io {
            path: path.display().to_string(),
            error,
        })
    }

    fn text(path: &Path) -> Result<String, BertError> {
        String::from_utf8(read(path)?).map_err(|_| BertError::Io {
            path: path.display().to_string(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
        })
    }

    /// The config and vocabulary of the model in `dir`, checked against each other.
    pub fn read_config(dir: &Path) -> Result<(BertConfig, BertVocab), BertError> {
        let cpath = dir.join("config.json");
        let cfg = BertConfig::from_json(&text(&cpath)?).map_err(|e| BertError::In {
            path: cpath.display().to_string(),
            error: Box::new(e),
        })?;
        let vpath = dir.join("vocab.txt");
        let vocab = BertVocab::from_vocab_txt(&text(&vpath)?)
            .map_err(|m| BertError::Vocab(format!("{}: {m}", vpath.display())))?;
        if vocab.len() != cfg.vocab_size {
            return Err(BertError::Vocab(format!(
                "{} has {} tokens but {} says vocab_size {}",
                vpath.display(),
                vocab.len(),
                cpath.display(),
                cfg.vocab_size
            )));
        }
        Ok((cfg, vocab))
    }

    /// The weights in `dir/model.safetensors` for `cfg`.
    pub fn load_weights(dir: &Path, cfg: &BertConfig, device: &Device) -> Result<Bert, BertError> {
        let wpath = dir.join("model.safetensors");
        let bytes = read(&wpath)?;
        cfg.load(&bytes, device).map_err(|e| BertError::In {
            path: wpath.display().to_string(),
            error: Box::new(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::BertVocab;

    const CONFIG: &str = include_str!("../../../tests/fixtures/bert-tiny/config.json");
    const WEIGHTS: &[u8] = include_bytes!("../../../tests/fixtures/bert-tiny/model.safetensors");
    const VOCAB: &str = include_str!("../../../tests/fixtures/bert-tiny/vocab.txt");
    const REFERENCE: &str = include_str!("../../../tests/fixtures/bert-tiny/reference.json");

    #[derive(Deserialize)]
    struct Reference {
        texts: Vec<String>,
        input_ids: Vec<Vec<i64>>,
        attention_mask: Vec<Vec<u8>>,
        last_hidden_state: Vec<Vec<Vec<f32>>>,
    }

    fn inputs(r: &Reference, device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
        let (b, l) = (r.input_ids.len(), r.input_ids[0].len());
        let ids: Vec<i64> = r.input_ids.concat();
        let pad: Vec<bool> = r.attention_mask.concat().iter().map(|&m| m == 0).collect();
        (
            Tensor::from_data(TensorData::new(ids, [b, l]), device),
            Tensor::from_data(TensorData::new(pad, [b, l]), device),
        )
    }

    /// Max |ours − reference| over the real (unpadded) positions, and over all positions.
    fn max_diff(out: Tensor<3>, r: &Reference) -> (f32, f32) {
        let [_, l, h] = out.dims();
        let v = tensor_values(out);
        let (mut real, mut all) = (0f32, 0f32);
        for (s, rows) in r.last_hidden_state.iter().enumerate() {
            for (t, row) in rows.iter().enumerate() {
                for (k, x) in row.iter().enumerate() {
                    let d = (v[(s * l + t) * h + k] - x).abs();
                    all = all.max(d);
                    if r.attention_mask[s][t] == 1 {
                        real = real.max(d);
                    }
                }
            }
        }
        (real, all)
    }

    #[test]
    fn hidden_states_match_transformers() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        let bert = cfg.load(WEIGHTS, &device).unwrap();
        let r: Reference = serde_json::from_str(REFERENCE).unwrap();
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
        let r: Reference = serde_json::from_str(REFERENCE).unwrap();
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

    #[test]
    fn written_weights_load_back_identically_without_the_prefix() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        let bert = cfg.load(WEIGHTS, &device).unwrap();
        let bytes = bert.to_safetensors("", Vec::new());
        assert!(
            !SafeTensors::parse(&bytes)
                .unwrap()
                .contains("bert.embeddings.word_embeddings.weight")
        );
        let again = cfg.load(&bytes, &device).unwrap();
        let r: Reference = serde_json::from_str(REFERENCE).unwrap();
        let (ids, pad) = inputs(&r, &device);
        let a = tensor_values(bert.forward(ids.clone(), pad.clone()));
        let b = tensor_values(again.forward(ids, pad));
        assert_eq!(a, b);
    }

    #[test]
    fn bad_configs_and_weights_are_reported_by_name() {
        let device = Device::flex();
        assert!(BertConfig::from_json("{").is_err());
        let missing = BertConfig::from_json(r#"{"vocab_size": 5}"#).unwrap_err();
        assert!(missing.to_string().contains("hidden_size"), "{missing}");
        let act = CONFIG.replace("\"gelu\"", "\"relu\"");
        assert!(
            BertConfig::from_json(&act)
                .unwrap_err()
                .to_string()
                .contains("relu")
        );
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        // Wrong shape: a config with a wider intermediate layer than the weights.
        let mut wide = cfg.clone();
        wide.intermediate_size = 65;
        let e = wide.load(WEIGHTS, &device).unwrap_err().to_string();
        assert!(
            e.contains("bert.encoder.layer.0.intermediate.dense.weight") && e.contains("[64, 32]"),
            "{e}"
        );
        // Missing tensor: one layer more than stored.
        let mut deep = cfg.clone();
        deep.num_hidden_layers = 3;
        let e = deep.load(WEIGHTS, &device).unwrap_err().to_string();
        assert!(
            e.contains("bert.encoder.layer.2.attention.self.query.weight"),
            "{e}"
        );
        assert!(cfg.load(&WEIGHTS[..100], &device).is_err());
    }
}
