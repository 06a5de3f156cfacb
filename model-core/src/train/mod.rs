//! The training step, shared by `nerco train` and the page's live trainer: the recipe's phases,
//! each epoch's batches and learning rates from the seed, the loss of each phase, and the
//! optimiser step. No file system, clock or progress display here (it runs in wasm32 too); the
//! caller owns the loop around it and reads the loss value the way its device allows.

pub mod epoch;
pub mod meter;
pub mod optim;
pub mod recipe;
pub mod schedule;
pub mod stage;
pub mod step;

#[cfg(test)]
mod binder_tests;

pub use epoch::{Epoch, EpochAt, Step};
pub use meter::LossMeter;
pub use optim::{StepRates, apply_step, backward_step, make_optimizer};
pub use recipe::{Phase, Recipe};
pub use schedule::{
    BatchSize, aux_weight, encoder_scale, epoch_batches, epoch_rng, epoch_seed, learning_rate,
    length_pooled,
};
pub use stage::{JointConfig, OptimizerKind, Select, StageConfig};
pub use step::{
    Frozen, LossSetup, StepLoss, phase_loss, token_classes, token_dropout, train_batch,
};
