//! One epoch of a phase, advanced a step at a time: the batches and the token dropout from the
//! run's seed, the learning rate of each step, the phase's loss and the optimiser step. `nerco
//! train` and the page's live trainer both drive their epochs through [`Epoch`], so they train
//! alike; the caller owns everything around it (clock, progress, logs, checkpoints) and reads the
//! loss value the way its device allows (synchronously, or awaited on WebGPU).

use super::optim::{StepRates, apply_step};
use super::recipe::Phase;
use super::schedule::{epoch_batches, epoch_rng, epoch_seed, learning_rate};
use super::stage::StageConfig;
use super::step::{Frozen, LossSetup, StepLoss, phase_loss, train_batch};
use crate::batch::Example;
use crate::model::Tagger;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use rand::rngs::StdRng;

/// Where an epoch sits in its run.
#[derive(Clone, Copy, Debug)]
pub struct EpochAt {
    pub phase: Phase,
    /// 0-based epoch of the phase.
    pub epoch: usize,
    pub run_seed: u64,
    /// The phase's step count before this epoch (the warm-up counts steps across epochs).
    pub first_step: usize,
}

/// One step's batch and loss, before the optimiser step.
pub struct Step {
    /// The step's learning rate.
    pub lr: f64,
    /// Real tokens in the batch.
    pub tokens: usize,
    /// `None` when the batch has nothing to learn from (no InfoNCE query): the step counts, but
    /// nothing is applied.
    pub loss: Option<StepLoss>,
}

/// The steps of one epoch. [`Epoch::new`] seeds the device (dropout masks) and draws the batch
/// order; each [`Epoch::next_loss`] builds the next batch and its loss, and [`Epoch::apply`]
/// steps the model. [`Epoch::next_step`] does both with a synchronous read of the loss.
pub struct Epoch {
    batches: Vec<Vec<usize>>,
    next: usize,
    rng: StdRng,
    stage: StageConfig,
    at: EpochAt,
    steps_per_epoch: usize,
    token_dropout: f64,
    device: Device,
}

impl Epoch {
    /// The epoch `at` over `examples` with `stage`'s batch size and rates; `token_dropout` is the
    /// probability of replacing a character or bigram id by UNK; `device` is the autodiff device
    /// the batches go to.
    pub fn new(
        examples: &[Example],
        stage: &StageConfig,
        at: EpochAt,
        token_dropout: f64,
        device: &Device,
    ) -> Self {
        let mut rng = epoch_rng(at.run_seed, at.phase, at.epoch);
        device.seed(epoch_seed(at.run_seed, at.phase, at.epoch));
        let batches = epoch_batches(examples, stage.batch(), &mut rng);
        Self {
            batches,
            next: 0,
            rng,
            stage: stage.clone(),
            at,
            // The schedule's nominal epoch length, as the warm-up has always counted it.
            steps_per_epoch: examples.len().div_ceil(stage.batch_size),
            token_dropout,
            device: device.clone(),
        }
    }

    /// Number of steps in the epoch.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Steps taken so far.
    pub fn done(&self) -> usize {
        self.next
    }

    /// The next batch of `examples` (the slice [`Epoch::new`] was given) and its loss under
    /// `frozen` and `setup`; `None` once the epoch is over.
    pub fn next_loss(
        &mut self,
        model: &Tagger,
        examples: &[Example],
        frozen: &Frozen,
        setup: &LossSetup,
    ) -> Option<Step> {
        let idx = self.batches.get(self.next)?;
        let step = self.at.first_step + self.next;
        let lr = learning_rate(&self.stage, step, self.at.epoch, self.steps_per_epoch);
        let batch = train_batch(
            examples,
            idx,
            self.token_dropout,
            &mut self.rng,
            &self.device,
        );
        self.next += 1;
        Some(Step {
            lr,
            tokens: batch.tokens(),
            loss: phase_loss(model, &batch, frozen, setup),
        })
    }

    /// Back-propagate `loss` and step `model` at `rates` (usually the step's `lr` for every part:
    /// [`StepRates::uniform`]).
    pub fn apply(
        &self,
        model: Tagger,
        optim: &mut ModuleOptimizer,
        loss: StepLoss,
        rates: StepRates,
    ) -> Tagger {
        apply_step(model, optim, loss.tensor, rates)
    }

    /// One whole step at `rates(lr)`, reading the loss synchronously: `None` once the epoch is
    /// over, else the model after the step and the loss value (`None` for a step with nothing to
    /// learn from). A non-finite value is returned without stepping, so the caller can stop on
    /// the last good model.
    pub fn next_step(
        &mut self,
        model: Tagger,
        optim: &mut ModuleOptimizer,
        frozen: &Frozen,
        setup: &LossSetup,
        examples: &[Example],
        rates: impl Fn(f64) -> StepRates,
    ) -> Option<(Tagger, Option<f64>)> {
        let step = self.next_loss(&model, examples, frozen, setup)?;
        let Some(loss) = step.loss else {
            return Some((model, None));
        };
        let value = loss.value();
        if !value.is_finite() {
            return Some((model, Some(value)));
        }
        Some((self.apply(model, optim, loss, rates(step.lr)), Some(value)))
    }
}
