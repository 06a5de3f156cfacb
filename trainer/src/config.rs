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
    /// Train on a random subset of N training sentences (0 = all), drawn from the run's seed
    /// alone, so every recipe of a seed sees the same sentences, and a smaller N's subset lies
    /// inside a larger one's (the data-size curve).
    #[serde(default)]
    pub train_limit: usize,
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

    /// Read a config file. One may start with `extends = "other.toml"` (relative to its own
    /// directory): the other file's tables, with this file's keys laid over them key by key, so
    /// a search point is a few lines.
    pub fn load(path: &Path) -> Result<Self> {
        let value = load_value(path, 0)?;
        let cfg: Self = toml::Value::Table(value)
            .try_into()
            .with_context(|| format!("invalid config {}", path.display()))?;
        cfg.validate()
            .with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        for (name, s) in [("stage1", &self.stage1), ("stage2", &self.stage2)] {
            s.validate(name).map_err(anyhow::Error::msg)?;
        }
        if self.data.train_limit > 0 && self.data.max_train_sentences > 0 {
            bail!("data.train_limit and data.max_train_sentences: set one of them");
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

/// A config file as a TOML table, with its `extends` chain resolved (at most 8 deep).
fn load_value(path: &Path, depth: usize) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
    let Some(base) = table.remove("extends") else {
        return Ok(table);
    };
    let Some(base) = base.as_str() else {
        bail!("{}: extends must be a file name", path.display());
    };
    if depth >= 8 {
        bail!("{}: more than 8 configs extend each other", path.display());
    }
    let base_path = path.parent().unwrap_or(Path::new("")).join(base);
    let mut merged = load_value(&base_path, depth + 1)
        .with_context(|| format!("{} extends {}", path.display(), base_path.display()))?;
    overlay(&mut merged, table);
    Ok(merged)
}

/// Lay `top` over `base`: tables merge key by key, any other value replaces.
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => overlay(b, t),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_config_loads_and_validates() {
        // A user starts from these files: a typo in one would be an error at their first run.
        fn walk(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, found);
                } else if p.extension().is_some_and(|x| x == "toml") {
                    found.push(p);
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs"),
            &mut found,
        );
        assert!(found.len() > 10, "{found:?}");
        for p in found {
            RunConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
        }
    }

    #[test]
    fn a_config_extends_another_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("search");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "name = \"base\"\n[data]\ntrain = \"a\"\ndev = \"b\"\ntest = \"c\"\n[stage2]\nepochs = 3\nbatch_size = 2\nlr = 0.1\npatience = 2\n",
        )
        .unwrap();
        let point = sub.join("point.toml");
        std::fs::write(
            &point,
            "extends = \"../base.toml\"\nname = \"point\"\n[stage2]\nencoder_lr_scale = 0.3\n[data]\ntrain_limit = 100\n",
        )
        .unwrap();
        let cfg = RunConfig::load(&point).unwrap();
        assert_eq!(cfg.name, "point");
        assert_eq!((cfg.stage2.epochs, cfg.stage2.encoder_lr_scale), (3, 0.3));
        assert_eq!(
            (cfg.data.train.clone(), cfg.data.train_limit),
            (PathBuf::from("a"), 100)
        );
        // The resolved config (what a run directory keeps) has no `extends` and reads back alike.
        let again = RunConfig::from_toml(&cfg.to_toml().unwrap(), "resolved").unwrap();
        assert_eq!(again.stage2.encoder_lr_scale, 0.3);
    }

    #[test]
    fn bad_stage_options_and_extends_chains_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        let base = "name = \"x\"\n[data]\ntrain = \"a\"\ndev = \"b\"\ntest = \"c\"\n";
        std::fs::write(&p, format!("{base}[stage2]\nepochs = 1\nbatch_size = 1\nlr = 0.1\npatience = 1\nunfreeze_epochs = 2\nencoder_lr_scale = -1.0\n")).unwrap();
        let err = format!("{:#}", RunConfig::load(&p).unwrap_err());
        assert!(
            err.contains("stage2.encoder_lr_scale") && err.contains("bad.toml"),
            "{err}"
        );
        std::fs::write(
            &p,
            format!("{base}train_limit = 5\nmax_train_sentences = 5\n"),
        )
        .unwrap();
        let err = format!("{:#}", RunConfig::load(&p).unwrap_err());
        assert!(err.contains("data.train_limit"), "{err}");
        std::fs::write(&p, "extends = \"bad.toml\"\n").unwrap();
        let err = format!("{:#}", RunConfig::load(&p).unwrap_err());
        assert!(err.contains("more than 8"), "{err}");
    }
}
