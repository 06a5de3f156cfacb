//! What a run records: each epoch's log line, the resumable progress in `checkpoint/state.json`,
//! and the final `metrics.json`.

use anyhow::{Result, bail};
use model_core::metrics::Report;
use model_core::train::{Phase, Recipe, Select};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub phase: Phase,
    pub epoch: usize,
    pub train_loss: f64,
    /// Stage 1: dev contrastive loss, or the dev cluster quality it selects by; otherwise dev F1.
    pub dev_score: f64,
    pub lr: f64,
    pub head_only: bool,
    pub seconds: f64,
    pub tokens_per_second: f64,
}

/// Progress of a run; `checkpoint/state.json` is written last, so it always names complete files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainState {
    pub recipe: Recipe,
    pub seed: u64,
    /// What selects the stage-1 checkpoint (the config's `stage1.select`; InfoNCE in a state
    /// written before the option existed).
    #[serde(default)]
    pub select: Select,
    pub phase: Phase,
    /// Epochs finished in the current phase.
    pub epoch: usize,
    pub step: usize,
    pub best: Option<f64>,
    pub best_epoch: usize,
    pub bad_epochs: usize,
    pub history: Vec<EpochLog>,
    /// File names (in `checkpoint/`) of the model and optimizer after `epoch`.
    pub model_file: Option<String>,
    pub optim_file: Option<String>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseSummary {
    pub phase: Phase,
    pub epochs: usize,
    pub best_epoch: usize,
    pub best_dev: f64,
    pub seconds: f64,
    pub seconds_per_epoch: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics {
    pub dataset: String,
    pub recipe: Recipe,
    pub seed: u64,
    pub backend: String,
    pub parameters: usize,
    pub train_sentences: usize,
    pub phases: Vec<PhaseSummary>,
    pub history: Vec<EpochLog>,
    pub dev: Report,
    pub test: Report,
    pub seconds: f64,
}

impl TrainState {
    /// A run that has not started: the recipe's first phase, epoch 0.
    pub fn new(recipe: Recipe, seed: u64) -> Self {
        Self {
            recipe,
            seed,
            select: Select::Infonce,
            phase: recipe.phases()[0],
            epoch: 0,
            step: 0,
            best: None,
            best_epoch: 0,
            bad_epochs: 0,
            history: Vec::new(),
            model_file: None,
            optim_file: None,
            seconds: 0.0,
        }
    }

    /// Refuse a state a hand-edited or foreign `state.json` (at `path`) could hold: a phase its
    /// recipe does not have.
    pub fn check(&self, path: &Path) -> Result<()> {
        if self.phase != Phase::Done && !self.recipe.phases().contains(&self.phase) {
            bail!(
                "{}: phase `{}` is not part of the `{}` recipe",
                path.display(),
                self.phase.name(),
                self.recipe.name()
            );
        }
        Ok(())
    }

    /// Move to the recipe's next phase, with its epoch count and early stopping reset.
    pub fn next_phase(&mut self) {
        self.phase = self
            .recipe
            .next_phase(self.phase)
            .expect("phase of recipe checked when the state was read");
        self.epoch = 0;
        self.best = None;
        self.best_epoch = 0;
        self.bad_epochs = 0;
    }

    /// The summary of one phase's epochs; `None` if it ran none.
    pub fn summary(&self, phase: Phase) -> Option<PhaseSummary> {
        let logs: Vec<&EpochLog> = self.history.iter().filter(|l| l.phase == phase).collect();
        let lower = phase.lower_is_better(self.select);
        // The first best epoch wins ties.
        let best = logs.iter().copied().reduce(|b, l| {
            let keep = if lower {
                b.dev_score <= l.dev_score
            } else {
                b.dev_score >= l.dev_score
            };
            if keep { b } else { l }
        })?;
        let seconds: f64 = logs.iter().map(|l| l.seconds).sum();
        Some(PhaseSummary {
            phase,
            epochs: logs.len(),
            best_epoch: best.epoch,
            best_dev: best.dev_score,
            seconds,
            seconds_per_epoch: seconds / logs.len() as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(phase: Phase, epoch: usize, dev_score: f64) -> EpochLog {
        EpochLog {
            phase,
            epoch,
            train_loss: 1.0,
            dev_score,
            lr: 0.1,
            head_only: false,
            seconds: 2.0,
            tokens_per_second: 1.0,
        }
    }

    #[test]
    fn phase_switching_walks_the_recipe_and_resets_early_stopping() {
        let mut s = TrainState::new(Recipe::Nerco, 1);
        assert_eq!(s.phase, Phase::Contrast);
        (s.epoch, s.best, s.best_epoch, s.bad_epochs) = (4, Some(0.5), 2, 2);
        s.next_phase();
        assert_eq!(
            (s.phase, s.epoch, s.best, s.best_epoch, s.bad_epochs),
            (Phase::Tagging, 0, None, 0, 0)
        );
        s.next_phase();
        assert_eq!(s.phase, Phase::Done);
        assert_eq!(TrainState::new(Recipe::Joint, 1).phase, Phase::Joint);
    }

    #[test]
    fn a_state_whose_phase_is_not_in_its_recipe_is_refused() {
        let mut s = TrainState::new(Recipe::NoContrast, 1);
        s.phase = Phase::Contrast;
        let err = s.check(Path::new("x/state.json")).unwrap_err().to_string();
        assert!(
            err.contains("x/state.json") && err.contains("stage1"),
            "{err}"
        );
        s.phase = Phase::Done;
        assert!(s.check(Path::new("x")).is_ok());
    }

    #[test]
    fn summaries_pick_the_first_best_epoch_in_the_phases_direction() {
        let mut s = TrainState::new(Recipe::Nerco, 1);
        s.history = vec![
            log(Phase::Contrast, 1, 3.0),
            log(Phase::Contrast, 2, 2.0),
            log(Phase::Contrast, 3, 2.0),
            log(Phase::Tagging, 1, 80.0),
            log(Phase::Tagging, 2, 90.0),
            log(Phase::Tagging, 3, 90.0),
        ];
        let one = s.summary(Phase::Contrast).unwrap();
        assert_eq!((one.epochs, one.best_epoch, one.best_dev), (3, 2, 2.0));
        assert_eq!(one.seconds_per_epoch, 2.0);
        let two = s.summary(Phase::Tagging).unwrap();
        assert_eq!((two.best_epoch, two.best_dev), (2, 90.0));
        assert!(s.summary(Phase::Joint).is_none());
        // Selected by a cluster quality, stage 1's best is the highest score.
        s.select = Select::KnnPurity;
        let one = s.summary(Phase::Contrast).unwrap();
        assert_eq!((one.best_epoch, one.best_dev), (1, 3.0));
    }
}
