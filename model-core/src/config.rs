//! The model's hyperparameters: the `[model]` table of a run config, checked by one
//! [`ModelConfig::validate`], and nested as they are in the tagger's config (and so in
//! `meta.json`) by [`ModelConfig::tagger`].

pub use crate::model::binder::Decoding;
use crate::model::{BinderConfig, TaggerConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The encoder the characters go through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// The relative-position Transformer over the characters.
    #[default]
    Plain,
    /// FLAT's lattice: the characters followed by the lexicon words that match the sentence.
    Flat,
}

/// The output head on top of the encoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// A linear layer to tag scores, then a CRF (NerCo's stage 2).
    #[default]
    Crf,
    /// Binder's span/type bi-encoder with a learned per-sentence threshold ([`BinderHyper`]);
    /// flat or nested entities.
    Binder,
}

/// The `[model.binder]` table: Binder's hyperparameters (used when `head = "binder"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinderHyper {
    /// d: the shared type/token/span space.
    pub dim: usize,
    /// The span width embedding's size.
    pub width_dim: usize,
    /// Dropout before every L2 normalisation.
    pub dropout: f64,
    /// K, the longest span scored (chars); 0 = the longest entity of the training data.
    pub max_span_len: usize,
    /// Overlapping predictions: `flat` keeps the best-scoring of overlapping spans, `nested` all.
    pub decoding: Decoding,
}

impl Default for BinderHyper {
    fn default() -> Self {
        Self {
            dim: 128,
            width_dim: 128,
            dropout: 0.1,
            max_span_len: 0,
            decoding: Decoding::Flat,
        }
    }
}

impl BinderHyper {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Every hyperparameter of the model and of how its inputs are built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub char_dim: usize,
    pub bigram_dim: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    /// Feed-forward width as a multiple of `d_model`.
    pub ff_mult: usize,
    pub dropout_embed: f64,
    pub dropout_ff: f64,
    pub dropout_residual: f64,
    pub dropout_attn: f64,
    pub dropout_out: f64,
    /// Scale attention scores by 1/√d (FLAT/TENER leave them unscaled).
    pub scaled_attention: bool,
    pub encoder: EncoderKind,
    pub head: HeadKind,
    /// A Hugging Face BERT directory (`config.json`, `model.safetensors`, `vocab.txt`) whose
    /// hidden states join the character and bigram embeddings. Its weights are copied into the
    /// run's checkpoints, so the run does not need the directory afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub char_encoder: Option<PathBuf>,
    /// The pretrained encoder's learning rate when it trains (stage 2, `joint`, `no-contrast`),
    /// as a multiple of the stage's rate; it is frozen in stage 1, and 0 keeps it frozen always.
    pub char_encoder_lr_scale: f64,
    /// FLAT: the word list (one word per line, `.gz` read too); the words of it that occur in the
    /// training split become the model's word vocabulary. Default `data/lexicon/jieba.txt.gz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<PathBuf>,
    /// FLAT: keep the lexicon words that occur at least this often in the training split.
    pub lexicon_min_freq: usize,
    /// FLAT: at most this many words per sentence piece (the longest kept; 0 = no cap).
    pub max_words: usize,
    /// FLAT: word embedding width.
    pub word_dim: usize,
    /// FLAT: dropout on the word embeddings ("lexicon words 0.5" in the reference).
    pub dropout_word: f64,
    /// Binder's table (`head = "binder"`); left out of a CRF model's files while at its defaults.
    #[serde(skip_serializing_if = "BinderHyper::is_default")]
    pub binder: BinderHyper,
}

/// The lexicon a FLAT config uses when it names none.
pub const DEFAULT_LEXICON: &str = "data/lexicon/jieba.txt.gz";

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            char_dim: 100,
            bigram_dim: 100,
            d_model: 160,
            n_heads: 8,
            n_layers: 1,
            ff_mult: 3,
            dropout_embed: 0.5,
            dropout_ff: 0.15,
            dropout_residual: 0.15,
            dropout_attn: 0.0,
            dropout_out: 0.3,
            scaled_attention: false,
            encoder: EncoderKind::Plain,
            head: HeadKind::Crf,
            char_encoder: None,
            char_encoder_lr_scale: 0.1,
            lexicon: None,
            lexicon_min_freq: 1,
            max_words: 200,
            word_dim: 100,
            dropout_word: 0.5,
            binder: BinderHyper::default(),
        }
    }
}

/// A hyperparameter out of range, named as in the `[model]` table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("model.{field} {message}")]
pub struct ConfigError {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError {
        field,
        message: message.into(),
    })
}

impl BinderHyper {
    /// Errors name the `[model.binder]` key.
    fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("binder.dim", self.dim),
            ("binder.width_dim", self.width_dim),
        ] {
            if v == 0 {
                err(field, "must be positive")?;
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            err(
                "binder.dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            )?;
        }
        Ok(())
    }
}

impl ModelConfig {
    /// The defaults at another size: `d_model` wide with `n_heads` heads, character and bigram
    /// embeddings `embed_dim` wide (small models for tests, demos and the page's live trainer).
    pub fn sized(d_model: usize, n_heads: usize, embed_dim: usize) -> Self {
        Self {
            d_model,
            n_heads,
            char_dim: embed_dim,
            bigram_dim: embed_dim,
            ..Self::default()
        }
    }

    /// The FLAT word list: `lexicon`, or [`DEFAULT_LEXICON`].
    pub fn lexicon_path(&self) -> PathBuf {
        self.lexicon
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEXICON))
    }

    /// The tagger's config for a model of these hyperparameters over vocabularies and a tag set
    /// of the given sizes (the caller adds a pretrained encoder and a lattice). The paths the
    /// run read its inputs from (`char_encoder`, `lexicon`) are not part of the model: a
    /// `meta.json` carries what they gave (the encoder's shape, the word vocabulary), not where
    /// they were on the training machine.
    pub fn tagger(&self, n_chars: usize, n_bigrams: usize, n_tags: usize) -> TaggerConfig {
        TaggerConfig::new(n_chars, n_bigrams, n_tags).with_hyper(Self {
            char_encoder: None,
            lexicon: None,
            ..self.clone()
        })
    }

    /// The Binder head's config when `head = "binder"`: `n_types` entity types and spans of at
    /// most `max_span_len` chars (already resolved from the data when the table says 0).
    pub fn binder_head(&self, n_types: usize, max_span_len: usize) -> Option<BinderConfig> {
        (self.head == HeadKind::Binder).then(|| {
            BinderConfig::new(self.d_model, n_types, max_span_len)
                .with_dim(self.binder.dim)
                .with_width_dim(self.binder.width_dim)
                .with_dropout(self.binder.dropout)
        })
    }

    /// Every value in range; errors name the `[model]` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("char_dim", self.char_dim),
            ("bigram_dim", self.bigram_dim),
            ("n_layers", self.n_layers),
            ("ff_mult", self.ff_mult),
        ] {
            if v == 0 {
                err(field, "must be positive")?;
            }
        }
        if self.n_heads == 0 || self.d_model == 0 || self.d_model % self.n_heads != 0 {
            err(
                "d_model",
                format!(
                    "({}) must be a positive multiple of model.n_heads ({})",
                    self.d_model, self.n_heads
                ),
            )?;
        }
        for (field, p) in [
            ("dropout_embed", self.dropout_embed),
            ("dropout_ff", self.dropout_ff),
            ("dropout_residual", self.dropout_residual),
            ("dropout_attn", self.dropout_attn),
            ("dropout_out", self.dropout_out),
            ("dropout_word", self.dropout_word),
        ] {
            if !(0.0..1.0).contains(&p) {
                err(field, format!("must be in [0, 1), got {p}"))?;
            }
        }
        if !(self.char_encoder_lr_scale >= 0.0 && self.char_encoder_lr_scale.is_finite()) {
            err(
                "char_encoder_lr_scale",
                format!(
                    "must be a finite number ≥ 0, got {}",
                    self.char_encoder_lr_scale
                ),
            )?;
        }
        self.binder.validate()?;
        match (self.encoder, &self.lexicon) {
            (EncoderKind::Flat, _) if self.word_dim == 0 || self.lexicon_min_freq == 0 => {
                err("word_dim", "and model.lexicon_min_freq must be positive")
            }
            (EncoderKind::Plain, Some(p)) => err(
                "lexicon",
                format!(
                    "({}) is used only by encoder = \"flat\", but the encoder is plain",
                    p.display()
                ),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_each_bad_value_is_named() {
        assert_eq!(ModelConfig::default().validate(), Ok(()));
        let bad = |f: fn(&mut ModelConfig)| {
            let mut c = ModelConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(
            bad(|c| c.n_heads = 7)
                .contains("model.d_model (160) must be a positive multiple of model.n_heads (7)")
        );
        assert!(bad(|c| c.dropout_ff = 1.0).contains("model.dropout_ff"));
        assert!(bad(|c| c.char_encoder_lr_scale = f64::NAN).contains("char_encoder_lr_scale"));
        assert!(bad(|c| c.lexicon = Some("x.txt".into())).contains("only by encoder = \"flat\""));
        assert!(bad(|c| c.char_dim = 0).contains("model.char_dim"));
        assert!(bad(|c| c.binder.dim = 0).contains("model.binder.dim must be positive"));
        assert!(bad(|c| c.binder.dropout = 1.0).contains("model.binder.dropout"));
        let flat = |f: fn(&mut ModelConfig)| {
            let mut c = ModelConfig {
                encoder: EncoderKind::Flat,
                ..Default::default()
            };
            f(&mut c);
            c.validate()
        };
        assert!(flat(|_| {}).is_ok());
        assert!(flat(|c| c.word_dim = 0).is_err());
    }

    #[test]
    fn a_tagger_config_nests_the_hyperparameters_without_the_input_paths() {
        let c = ModelConfig {
            d_model: 64,
            n_heads: 4,
            dropout_ff: 0.2,
            char_encoder: Some("/home/me/bert".into()),
            ..Default::default()
        };
        let t = c.tagger(10, 20, 5);
        assert_eq!((t.n_chars, t.n_bigrams, t.n_tags), (10, 20, 5));
        assert_eq!(
            t.hyper,
            ModelConfig {
                char_encoder: None,
                ..c
            }
        );
    }

    #[test]
    fn a_toml_table_fills_defaults_and_rejects_unknown_keys() {
        let c: ModelConfig =
            serde_json::from_str(r#"{"d_model": 64, "n_heads": 4, "encoder": "flat"}"#).unwrap();
        assert_eq!(
            (c.d_model, c.n_heads, c.encoder, c.char_dim),
            (64, 4, EncoderKind::Flat, 100)
        );
        let e = serde_json::from_str::<ModelConfig>(r#"{"d_modle": 64}"#).unwrap_err();
        assert!(e.to_string().contains("d_modle"));
        let b: ModelConfig = serde_json::from_str(
            r#"{"head": "binder", "binder": {"dim": 32, "decoding": "nested"}}"#,
        )
        .unwrap();
        assert_eq!(b.head, HeadKind::Binder);
        assert_eq!((b.binder.dim, b.binder.width_dim), (32, 128));
        assert_eq!(b.binder.decoding, Decoding::Nested);
        let e = serde_json::from_str::<ModelConfig>(r#"{"binder": {"k": 3}}"#).unwrap_err();
        assert!(e.to_string().contains("`k`"), "{e}");
        // A CRF model's files do not mention Binder's defaults.
        let json = serde_json::to_string(&ModelConfig::default()).unwrap();
        assert!(!json.contains("binder"), "{json}");
    }
}
