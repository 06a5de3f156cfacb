//! The run configuration (`configs/*.toml`): data, model, and the two stages.

use anyhow::{Context, Result, bail};
pub use model_core::config::{EncoderKind, ModelConfig};
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
    /// How the split files are read: "conll", "spans" (span JSON Lines), or "auto" (spans when
    /// a file's name ends in `.jsonl` or `.jsonl.gz`, CoNLL otherwise).
    #[serde(default = "default_format", skip_serializing_if = "is_auto")]
    pub format: String,
}

fn default_format() -> String {
    "auto".into()
}
fn is_auto(s: &str) -> bool {
    s == "auto"
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
        self.model.validate()?;
        for (name, s) in [("stage1", &self.stage1), ("stage2", &self.stage2)] {
            s.validate(name).map_err(anyhow::Error::msg)?;
        }
        if !(0.0..1.0).contains(&self.data.token_dropout) {
            bail!("data.token_dropout must be in [0, 1)");
        }
        if !["auto", "conll", "spans"].contains(&self.data.format.as_str()) {
            bail!(
                "data.format must be \"auto\", \"conll\" or \"spans\", got {:?}",
                self.data.format
            );
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

    /// The resolved config as TOML (fails on a path that is not UTF-8).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).context("cannot write the config as TOML")
    }
}
