//! The run configuration (`configs/*.toml`): data, model, and the two stages.

use anyhow::{Context, Result, bail};
use model_core::model::TaggerConfig;
pub use model_core::train::{JointConfig, StageConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Data set name, for reports.
    pub name: String,
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default = "StageConfig::stage1")]
    pub stage1: StageConfig,
    #[serde(default = "StageConfig::stage2")]
    pub stage2: StageConfig,
    #[serde(default)]
    pub joint: JointConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub train: PathBuf,
    pub dev: PathBuf,
    pub test: PathBuf,
    /// Tagging scheme the model predicts in ("bio", "bioes", "bmes"); the data are converted.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Use only the first N training sentences (0 = all).
    #[serde(default)]
    pub max_train_sentences: usize,
    #[serde(default = "one")]
    pub char_min_freq: usize,
    #[serde(default = "one")]
    pub bigram_min_freq: usize,
    /// Longest piece the model sees; longer sentences are split for training and prediction.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// During training, replace each character and bigram id by UNK with this probability, so the
    /// UNK embeddings learn what unseen test tokens look like.
    #[serde(default)]
    pub token_dropout: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub char_dim: usize,
    pub bigram_dim: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    pub ff_mult: usize,
    pub dropout_embed: f64,
    pub dropout_ff: f64,
    pub dropout_residual: f64,
    pub dropout_attn: f64,
    pub dropout_out: f64,
    pub scaled_attention: bool,
    /// A Hugging Face BERT directory (`config.json`, `model.safetensors`, `vocab.txt`) whose
    /// hidden states join the character and bigram embeddings. Its weights are copied into the
    /// run's checkpoints, so the run does not need the directory afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub char_encoder: Option<PathBuf>,
    /// The pretrained encoder's learning rate when it trains (stage 2, `joint`, `no-contrast`),
    /// as a multiple of the stage's rate; it is frozen in stage 1, and 0 keeps it frozen always.
    pub char_encoder_lr_scale: f64,
    /// `plain`: the relative-position Transformer over the characters; `flat`: FLAT's lattice,
    /// the characters followed by the lexicon words that match the sentence.
    pub encoder: EncoderKind,
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
    /// FLAT: dropout on the word embeddings.
    pub dropout_word: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    #[default]
    Plain,
    Flat,
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
            char_encoder: None,
            char_encoder_lr_scale: 0.1,
            encoder: EncoderKind::Plain,
            lexicon: None,
            lexicon_min_freq: 1,
            max_words: 200,
            word_dim: 100,
            dropout_word: 0.5,
        }
    }
}

impl ModelConfig {
    /// The FLAT word list: `lexicon`, or [`DEFAULT_LEXICON`].
    pub fn lexicon_path(&self) -> PathBuf {
        self.lexicon
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEXICON))
    }

    pub fn tagger(&self, n_chars: usize, n_bigrams: usize, n_tags: usize) -> TaggerConfig {
        TaggerConfig::new(n_chars, n_bigrams, n_tags)
            .with_char_dim(self.char_dim)
            .with_bigram_dim(self.bigram_dim)
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_ff_mult(self.ff_mult)
            .with_dropout_embed(self.dropout_embed)
            .with_dropout_ff(self.dropout_ff)
            .with_dropout_residual(self.dropout_residual)
            .with_dropout_attn(self.dropout_attn)
            .with_dropout_out(self.dropout_out)
            .with_scaled_attention(self.scaled_attention)
    }
}

fn default_scheme() -> String {
    "bioes".into()
}
fn one() -> usize {
    1
}
fn default_max_len() -> usize {
    200
}

impl RunConfig {
    /// Parse a TOML config; relative data paths resolve against the current directory.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).with_context(|| format!("invalid config {origin}"))?;
        cfg.validate()
            .with_context(|| format!("invalid config {origin}"))?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        if m.n_heads == 0 || m.d_model % m.n_heads != 0 {
            bail!(
                "model.d_model ({}) must be a positive multiple of model.n_heads ({})",
                m.d_model,
                m.n_heads
            );
        }
        for (name, p) in [
            ("dropout_embed", m.dropout_embed),
            ("dropout_ff", m.dropout_ff),
            ("dropout_residual", m.dropout_residual),
            ("dropout_attn", m.dropout_attn),
            ("dropout_out", m.dropout_out),
            ("dropout_word", m.dropout_word),
        ] {
            if !(0.0..1.0).contains(&p) {
                bail!("model.{name} must be in [0, 1), got {p}");
            }
        }
        if !(m.char_encoder_lr_scale >= 0.0 && m.char_encoder_lr_scale.is_finite()) {
            bail!(
                "model.char_encoder_lr_scale must be a finite number ≥ 0, got {}",
                m.char_encoder_lr_scale
            );
        }
        if m.encoder == EncoderKind::Flat {
            if m.word_dim == 0 || m.lexicon_min_freq == 0 {
                bail!("model.word_dim and model.lexicon_min_freq must be positive");
            }
        } else if let Some(p) = &m.lexicon {
            bail!(
                "model.lexicon ({}) is used only by encoder = \"flat\", but the encoder is plain",
                p.display()
            );
        }
        for (name, s) in [("stage1", &self.stage1), ("stage2", &self.stage2)] {
            s.validate(name).map_err(anyhow::Error::msg)?;
        }
        if !(0.0..1.0).contains(&self.data.token_dropout) {
            bail!("data.token_dropout must be in [0, 1)");
        }
        if self.data.max_len < 2 {
            bail!("data.max_len must be at least 2");
        }
        self.data
            .scheme
            .parse::<model_core::data::Scheme>()
            .map_err(|e| anyhow::anyhow!("data.scheme: {e}"))?;
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
}
