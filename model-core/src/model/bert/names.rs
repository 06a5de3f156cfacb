//! The Hugging Face tensor names of a BERT, written once: each walk below hands every Burn
//! parameter to a [`Visitor`] under its Hugging Face name, and loading (a reader) and saving (a
//! writer) are both visitors, so the two directions cannot drift apart.

use super::{Bert, TensorError};
use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::prelude::*;

/// The encoder's prefix in `BertFor*` checkpoints (`BertModel` has none).
pub(crate) const FOR_HEADS_PREFIX: &str = "bert.";
const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings";
const MLM_HEAD: &str = "cls.predictions";

/// One tensor as Hugging Face stores it.
pub(crate) struct HfName {
    pub(crate) name: String,
    /// The name checkpoints converted from TensorFlow use instead (LayerNorm `gamma`/`beta`).
    pub(crate) legacy: Option<String>,
    /// Stored as the transpose of the Burn parameter: Hugging Face keeps linear weights as
    /// `[out, in]`, Burn's `Linear` multiplies by `[in, out]`.
    pub(crate) transposed: bool,
}

impl HfName {
    fn plain(name: String) -> Self {
        Self {
            name,
            legacy: None,
            transposed: false,
        }
    }
}

/// Something done to each parameter under its Hugging Face name.
pub(crate) trait Visitor {
    fn visit<const D: usize>(
        &mut self,
        name: &HfName,
        param: &mut Param<Tensor<D>>,
    ) -> Result<(), TensorError>;
}

/// The encoder prefix of a checkpoint that holds the names `has` answers yes to.
pub(crate) fn encoder_prefix(has: impl Fn(&str) -> bool) -> &'static str {
    if has(&format!("{FOR_HEADS_PREFIX}{WORD_EMBEDDINGS}.weight")) {
        FOR_HEADS_PREFIX
    } else {
        ""
    }
}

/// Every parameter of the encoder, names prefixed with `prefix`.
pub(crate) fn encoder(
    v: &mut impl Visitor,
    prefix: &str,
    bert: &mut Bert,
) -> Result<(), TensorError> {
    let p = |name: &str| format!("{prefix}{name}");
    embedding(v, &p(WORD_EMBEDDINGS), &mut bert.word)?;
    embedding(v, &p("embeddings.position_embeddings"), &mut bert.position)?;
    embedding(
        v,
        &p("embeddings.token_type_embeddings"),
        &mut bert.token_type,
    )?;
    layer_norm(v, &p("embeddings.LayerNorm"), &mut bert.embed_norm)?;
    for (i, layer) in bert.layers.iter_mut().enumerate() {
        let l = |name: &str| p(&format!("encoder.layer.{i}.{name}"));
        linear(v, &l("attention.self.query"), &mut layer.query)?;
        linear(v, &l("attention.self.key"), &mut layer.key)?;
        linear(v, &l("attention.self.value"), &mut layer.value)?;
        linear(v, &l("attention.output.dense"), &mut layer.attn_out)?;
        layer_norm(v, &l("attention.output.LayerNorm"), &mut layer.attn_norm)?;
        linear(v, &l("intermediate.dense"), &mut layer.intermediate)?;
        linear(v, &l("output.dense"), &mut layer.output)?;
        layer_norm(v, &l("output.LayerNorm"), &mut layer.out_norm)?;
    }
    Ok(())
}

/// The masked-LM head of `BertForMaskedLM` (its decoder is tied to the word embeddings, so it
/// has no weight of its own).
pub(crate) fn mlm_head(
    v: &mut impl Visitor,
    transform: &mut Linear,
    norm: &mut LayerNorm,
    bias: &mut Param<Tensor<1>>,
) -> Result<(), TensorError> {
    linear(v, &format!("{MLM_HEAD}.transform.dense"), transform)?;
    layer_norm(v, &format!("{MLM_HEAD}.transform.LayerNorm"), norm)?;
    v.visit(&HfName::plain(format!("{MLM_HEAD}.bias")), bias)
}

fn embedding(v: &mut impl Visitor, name: &str, e: &mut Embedding) -> Result<(), TensorError> {
    v.visit(&HfName::plain(format!("{name}.weight")), &mut e.weight)
}

fn linear(v: &mut impl Visitor, name: &str, lin: &mut Linear) -> Result<(), TensorError> {
    let weight = HfName {
        transposed: true,
        ..HfName::plain(format!("{name}.weight"))
    };
    v.visit(&weight, &mut lin.weight)?;
    match &mut lin.bias {
        Some(b) => v.visit(&HfName::plain(format!("{name}.bias")), b),
        None => Ok(()),
    }
}

fn layer_norm(v: &mut impl Visitor, name: &str, norm: &mut LayerNorm) -> Result<(), TensorError> {
    let named = |new: &str, old: &str| HfName {
        legacy: Some(format!("{name}.{old}")),
        ..HfName::plain(format!("{name}.{new}"))
    };
    v.visit(&named("weight", "gamma"), &mut norm.gamma)?;
    match &mut norm.beta {
        Some(b) => v.visit(&named("bias", "beta"), b),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert::BertConfig;

    /// Collects the names a walk visits.
    struct Names(Vec<String>);

    impl Visitor for Names {
        fn visit<const D: usize>(
            &mut self,
            name: &HfName,
            _: &mut Param<Tensor<D>>,
        ) -> Result<(), TensorError> {
            self.0.push(name.name.clone());
            Ok(())
        }
    }

    #[test]
    fn the_encoder_walk_names_every_parameter_once_in_the_hugging_face_layout() {
        let device = Device::flex();
        let mut bert = BertConfig::new(30, 16, 2, 2, 32, 16).init(&device);
        let mut names = Names(Vec::new());
        encoder(&mut names, "bert.", &mut bert).unwrap();
        // 3 embeddings + LayerNorm (2) + per layer 6 linears (2 each) and 2 LayerNorms (2 each).
        assert_eq!(names.0.len(), 3 + 2 + 2 * (6 * 2 + 2 * 2));
        let mut unique = names.0.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.0.len());
        assert!(
            names
                .0
                .contains(&"bert.encoder.layer.1.output.LayerNorm.bias".to_string())
        );
        assert_eq!(
            encoder_prefix(|n| names.0.iter().any(|m| m == n)),
            FOR_HEADS_PREFIX
        );
        assert_eq!(encoder_prefix(|_| false), "");
    }
}
