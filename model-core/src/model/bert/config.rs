//! Hugging Face `BertConfig` (`config.json`), typed and checked: the fields this model uses, with
//! `transformers`' defaults; the others are ignored.

use super::error::BertError;
use serde::{Deserialize, Serialize};

/// Hugging Face `BertConfig`; fields this model does not use are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub(crate) vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub(crate) intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub(crate) type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub(crate) layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub(crate) hidden_act: String,
    #[serde(default = "default_dropout")]
    pub(crate) hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub(crate) attention_probs_dropout_prob: f64,
    #[serde(default = "default_position")]
    pub(crate) position_embedding_type: String,
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
        self.gelu_tanh()?;
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
    pub(super) fn gelu_tanh(&self) -> Result<bool, BertError> {
        match self.hidden_act.as_str() {
            "gelu" => Ok(false),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(true),
            other => Err(BertError::Config(format!(
                "hidden_act `{other}` is not supported (gelu, gelu_new, gelu_pytorch_tanh)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::CONFIG;
    use super::*;

    #[test]
    fn bad_configs_are_reported_by_name() {
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
    }
}
