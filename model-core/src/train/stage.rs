//! The hyperparameters of a training phase (`[stage1]`, `[stage2]`, `[joint]` of a run config).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adamw,
}

/// What selects the stage-1 checkpoint on dev (`[stage1] select`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// Mean dev Semantic-Class InfoNCE (lower is better).
    #[default]
    Infonce,
    /// kNN purity (k = 10) of the dev entity tokens' representations ([`crate::quality`]).
    KnnPurity,
    /// Cosine silhouette of the dev entity tokens over Semantic Classes.
    Silhouette,
}

impl Select {
    pub fn lower_is_better(self) -> bool {
        self == Select::Infonce
    }

    pub fn name(self) -> &'static str {
        match self {
            Select::Infonce => "InfoNCE",
            Select::KnnPurity => "kNN purity",
            Select::Silhouette => "silhouette",
        }
    }
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
    /// Stage 2: the encoder's (everything but the linear layer and CRF) learning rate as a
    /// multiple of the stage's rate (a pretrained character encoder's scale multiplies on top).
    #[serde(default = "one")]
    pub encoder_lr_scale: f64,
    /// Stage 2: after the head-only epochs, ramp the encoder's scale linearly up to
    /// `encoder_lr_scale` over this many epochs ([`super::schedule::encoder_scale`]).
    #[serde(default)]
    pub unfreeze_epochs: usize,
    /// Stage 2: weight of a Semantic-Class InfoNCE term added to the CRF loss, times
    /// `aux_infonce_decay^epoch` ([`super::schedule::aux_weight`]; 0 = none).
    #[serde(default)]
    pub aux_infonce_weight: f64,
    #[serde(default = "one")]
    pub aux_infonce_decay: f64,
    /// Stage 1: what selects the checkpoint on dev.
    #[serde(default)]
    pub select: Select,
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

fn one() -> f64 {
    1.0
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
            encoder_lr_scale: 1.0,
            unfreeze_epochs: 0,
            aux_infonce_weight: 0.0,
            aux_infonce_decay: 1.0,
            select: Select::Infonce,
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
        if !(self.encoder_lr_scale >= 0.0 && self.encoder_lr_scale.is_finite()) {
            return Err(format!("{name}.encoder_lr_scale must be a number ≥ 0"));
        }
        if !(self.aux_infonce_weight >= 0.0 && self.aux_infonce_weight.is_finite()) {
            return Err(format!("{name}.aux_infonce_weight must be a number ≥ 0"));
        }
        if !(self.aux_infonce_decay > 0.0 && self.aux_infonce_decay <= 1.0) {
            return Err(format!("{name}.aux_infonce_decay must be in (0, 1]"));
        }
        self.validate_stage_only(name)
    }

    /// Options of one stage set in the other stage's table are refused, not silently ignored.
    fn validate_stage_only(&self, name: &str) -> Result<(), String> {
        let stage2_only = [
            ("encoder_lr_scale", self.encoder_lr_scale != 1.0),
            ("unfreeze_epochs", self.unfreeze_epochs != 0),
            ("aux_infonce_weight", self.aux_infonce_weight != 0.0),
            ("aux_infonce_decay", self.aux_infonce_decay != 1.0),
        ];
        if name == "stage1" {
            if let Some((key, _)) = stage2_only.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "stage1.{key} applies to stage 2 only; set stage2.{key}"
                ));
            }
        } else if self.select != Select::Infonce {
            return Err(format!(
                "{name}.select applies to stage 1 only (stage 2 selects on dev F1)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage table with the required keys and `extra` (JSON members, `""` for none).
    fn parse(extra: &str) -> Result<StageConfig, String> {
        let sep = if extra.is_empty() { "" } else { ", " };
        let text =
            format!(r#"{{"epochs": 2, "batch_size": 4, "lr": 0.1, "patience": 1{sep}{extra}}}"#);
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_new_keys_default_to_todays_behaviour() {
        let s = parse("").unwrap();
        assert_eq!(
            (
                s.encoder_lr_scale,
                s.unfreeze_epochs,
                s.aux_infonce_weight,
                s.aux_infonce_decay
            ),
            (1.0, 0, 0.0, 1.0)
        );
        assert_eq!(s.select, Select::Infonce);
        assert!(s.validate("stage2").is_ok() && s.validate("stage1").is_ok());
        let d = StageConfig::stage2();
        assert_eq!((d.encoder_lr_scale, d.aux_infonce_decay), (1.0, 1.0));
    }

    #[test]
    fn bad_values_and_keys_of_the_other_stage_are_errors_naming_the_key() {
        let err = |extra: &str, name: &str| parse(extra).unwrap().validate(name);
        assert!(
            err(r#""encoder_lr_scale": -0.5"#, "stage2")
                .unwrap_err()
                .contains("stage2.encoder_lr_scale")
        );
        assert!(
            err(r#""aux_infonce_weight": -1.0"#, "stage2")
                .unwrap_err()
                .contains("stage2.aux_infonce_weight")
        );
        assert!(
            err(r#""aux_infonce_decay": 0.0"#, "stage2")
                .unwrap_err()
                .contains("stage2.aux_infonce_decay")
        );
        assert!(err(r#""aux_infonce_decay": 1.5"#, "stage2").is_err());
        assert!(
            err(r#""unfreeze_epochs": 2"#, "stage1")
                .unwrap_err()
                .contains("stage1.unfreeze_epochs")
        );
        assert!(
            err(r#""select": "silhouette""#, "stage2")
                .unwrap_err()
                .contains("stage2.select")
        );
        assert!(err(r#""select": "knn-purity""#, "stage1").is_ok());
        assert!(
            parse(r#""select": "purity""#)
                .unwrap_err()
                .contains("knn-purity")
        );
    }

    #[test]
    fn only_infonce_selection_wants_a_lower_score() {
        assert!(Select::Infonce.lower_is_better());
        assert!(!Select::KnnPurity.lower_is_better());
        assert!(!Select::Silhouette.lower_is_better());
    }
}
