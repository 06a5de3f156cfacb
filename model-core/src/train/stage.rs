//! The hyperparameters of a training phase (`[stage1]`, `[stage2]`, `[joint]` of a run config).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adamw,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Batches by a budget of padded tokens (sentences × the longest) instead of `batch_size`
    /// sentences; 0 = off. A GPU wants large, even batches: e.g. 4096.
    #[serde(default)]
    pub batch_tokens: usize,
    pub lr: f64,
    #[serde(default = "default_optimizer")]
    pub(crate) optimizer: OptimizerKind,
    #[serde(default = "default_momentum")]
    pub(crate) momentum: f64,
    #[serde(default)]
    pub weight_decay: f64,
    /// Linear warm-up over this fraction of all steps (`epochs × batches`).
    #[serde(default)]
    pub(crate) warmup: f64,
    /// After warm-up the rate is `lr / (1 + decay · epoch)`.
    #[serde(default = "default_decay")]
    pub(crate) decay: f64,
    /// Gradient value clipping (0 = off).
    #[serde(default = "default_clip")]
    pub clip: f64,
    /// Stop after this many epochs without improvement on dev.
    pub patience: usize,
    /// InfoNCE temperature (stage 1 and joint).
    #[serde(default = "default_tau")]
    pub tau: f64,
    /// Stage 2: epochs that train only the linear layer and CRF before everything trains.
    #[serde(default)]
    pub head_only_epochs: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JointConfig {
    /// Weight of the InfoNCE term in the `joint` recipe's loss.
    pub weight: f64,
}

impl Default for JointConfig {
    fn default() -> Self {
        Self { weight: 1.0 }
    }
}

fn default_optimizer() -> OptimizerKind {
    OptimizerKind::Adamw
}
fn default_momentum() -> f64 {
    0.9
}
fn default_decay() -> f64 {
    0.05
}
fn default_clip() -> f64 {
    5.0
}
fn default_tau() -> f64 {
    0.07
}

impl StageConfig {
    /// Stage 1's defaults (a config without `[stage1]`).
    pub fn stage1() -> Self {
        Self {
            epochs: 30,
            batch_size: 20,
            batch_tokens: 0,
            lr: 1e-3,
            optimizer: OptimizerKind::Adamw,
            momentum: 0.9,
            weight_decay: 0.05,
            warmup: 0.05,
            decay: 0.05,
            clip: 5.0,
            patience: 10,
            tau: 0.07,
            head_only_epochs: 0,
        }
    }

    /// Stage 2's defaults (a config without `[stage2]`).
    pub fn stage2() -> Self {
        Self {
            batch_size: 10,
            patience: 15,
            epochs: 50,
            ..Self::stage1()
        }
    }

    /// How the phase's batches are cut.
    pub fn batch(&self) -> super::BatchSize {
        match self.batch_tokens {
            0 => super::BatchSize::Sentences(self.batch_size),
            n => super::BatchSize::Tokens(n),
        }
    }

    /// `name`: the config table, for the message (`stage1`, `stage2`).
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if self.batch_size == 0 || !(self.lr > 0.0) || !(self.tau > 0.0) {
            return Err(format!("{name}: batch_size, lr and tau must be positive"));
        }
        if !(0.0..=1.0).contains(&self.warmup) {
            return Err(format!("{name}.warmup must be a fraction in [0, 1]"));
        }
        Ok(())
    }
}
