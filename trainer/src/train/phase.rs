//! The loop around model-core's training step: a phase's epochs, each a pass over seeded batches,
//! then the dev score, early stopping and an atomic checkpoint.

use super::state::{EpochLog, TrainState};
use super::{load_model, save_model};
use crate::checkpoint::{restore_optimizer, save_optimizer};
use crate::config::RunConfig;
use crate::data_prep::Splits;
use crate::progress;
use crate::run_dir::{RunDir, write_json};
use anyhow::Result;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use model_core::batch::Example;
use model_core::infer::forward::encode_buckets;
use model_core::loss::{Queries, info_nce};
use model_core::model::{CrfConstraints, Tagger};
use model_core::pipeline::{ModelMeta, Pipeline};
use model_core::train::{
    Frozen, LossSetup, Phase, StageConfig, apply_step, epoch_batches, epoch_rng, epoch_seed,
    learning_rate, make_optimizer, phase_loss, token_classes, train_batch,
};
use std::path::PathBuf;
use std::time::Instant;

pub(super) struct Trainer<'a> {
    pub cfg: &'a RunConfig,
    pub meta: &'a ModelMeta,
    pub splits: &'a Splits,
    pub run: RunDir,
    pub state: TrainState,
    pub device: Device,
    pub ad: Device,
    pub constraints: CrfConstraints,
    pub started: Instant,
    pub seconds_before: f64,
}

/// What one epoch's batches added up to.
struct EpochStats {
    loss_sum: f64,
    loss_n: usize,
    tokens: usize,
    lr: f64,
    seconds: f64,
}

/// Mean dev InfoNCE (stage 1's selection criterion), on the model without dropout.
fn dev_contrastive_loss(
    model: &Tagger,
    examples: &[Example],
    s: &StageConfig,
    queries: Queries,
    device: &Device,
) -> f64 {
    let model = model.valid();
    let (mut total, mut n) = (0.0, 0usize);
    for bucket in encode_buckets(&model, examples, s.batch_size, device) {
        if let Some(l) = info_nce(bucket.reps, &token_classes(&bucket.batch), s.tau, queries) {
            total += l.into_scalar::<f32>() as f64;
            n += 1;
        }
    }
    if n == 0 {
        f64::INFINITY
    } else {
        total / n as f64
    }
}

impl Trainer<'_> {
    fn stage(&self, phase: Phase) -> &StageConfig {
        if phase == Phase::Contrast {
            &self.cfg.stage1
        } else {
            &self.cfg.stage2
        }
    }

    /// Save the model and optimiser after an epoch, then the state that names them.
    pub fn checkpoint(&mut self, model: &Tagger, optim: &ModuleOptimizer) -> Result<()> {
        let tag = format!("{}-{:03}", self.state.phase.name(), self.state.epoch);
        let model_file = format!("{tag}.model.bpk");
        let optim_file = format!("{tag}.optim.bpk");
        let dir = self.run.path("checkpoint");
        save_model(model, &dir.join(&model_file))?;
        save_optimizer(optim, &dir.join(&optim_file))?;
        let old = (
            self.state.model_file.replace(model_file),
            self.state.optim_file.replace(optim_file),
        );
        self.state.seconds = self.seconds_before + self.started.elapsed().as_secs_f64();
        write_json(&dir.join("state.json"), &self.state)?;
        // Only after the new state points at the new files may the old ones go.
        for f in [old.0, old.1].into_iter().flatten() {
            let _ = std::fs::remove_file(dir.join(f));
        }
        Ok(())
    }

    /// Train `phase` from `model` until its epochs run out or dev stops improving; returns the
    /// phase's best model (by dev).
    pub fn run_phase(
        &mut self,
        mut model: Tagger,
        phase: Phase,
        resume_optim: Option<PathBuf>,
    ) -> Result<Tagger> {
        let s = self.stage(phase).clone();
        let mut optim = make_optimizer(&s);
        if let Some(p) = resume_optim {
            optim = restore_optimizer(optim, &p)?;
        }
        let best_path = self.run.path(&format!("{}.bpk", phase.name()));
        while self.state.epoch < s.epochs {
            let head_only = phase == Phase::Tagging && self.state.epoch < s.head_only_epochs;
            let stats;
            (model, stats) = self.run_epoch(model, &mut optim, phase, &s, head_only)?;
            let dev_score = self.dev_score(&model, phase, &s)?;
            let improved = self.record_epoch(phase, &stats, dev_score, head_only);
            if improved {
                save_model(&model, &best_path)?;
            }
            self.checkpoint(&model, &optim)?;
            if self.state.should_stop(s.patience) {
                self.run.log(&format!(
                    "{}: no dev improvement for {} epochs; stopping",
                    phase.name(),
                    s.patience
                ));
                break;
            }
        }
        Ok(load_model(self.meta, &best_path, &self.ad)?)
    }

    /// One pass over the epoch's batches.
    fn run_epoch(
        &mut self,
        mut model: Tagger,
        optim: &mut ModuleOptimizer,
        phase: Phase,
        s: &StageConfig,
        head_only: bool,
    ) -> Result<(Tagger, EpochStats)> {
        let epoch = self.state.epoch;
        let examples = &self.splits.train_examples;
        let steps_per_epoch = examples.len().div_ceil(s.batch_size);
        let mut rng = epoch_rng(self.state.seed, phase, epoch);
        self.ad.seed(epoch_seed(self.state.seed, phase, epoch));
        let batches = epoch_batches(examples, s.batch_size, &mut rng);
        // The pretrained character encoder is frozen in stage 1 (as in the paper) and when its
        // rate scale is 0.
        let scale = self.cfg.model.char_encoder_lr_scale;
        let bert_trains = phase != Phase::Contrast && scale > 0.0;
        let frozen = Frozen::new(&model, head_only, bert_trains);
        let setup = LossSetup {
            phase,
            tau: s.tau,
            queries: self.state.recipe.queries(),
            joint_weight: self.cfg.joint.weight,
            constraints: &self.constraints,
        };
        let bar = progress::bar(
            batches.len() as u64,
            format!("{} {}/{}", phase.name(), epoch + 1, s.epochs),
        );
        let t0 = Instant::now();
        let mut st = EpochStats {
            loss_sum: 0.0,
            loss_n: 0,
            tokens: 0,
            lr: s.lr,
            seconds: 0.0,
        };
        for idx in &batches {
            st.lr = learning_rate(s, self.state.step, epoch, steps_per_epoch);
            let batch = train_batch(
                examples,
                idx,
                self.cfg.data.token_dropout,
                &mut rng,
                &self.ad,
            );
            st.tokens += batch.tokens();
            let loss = phase_loss(&model, &batch, &frozen, &setup);
            self.state.step += 1;
            bar.inc(1);
            let Some(loss) = loss else { continue };
            let value = loss.value();
            if !value.is_finite() {
                bar.abandon();
                return Err(self.diverged(phase, value));
            }
            st.loss_sum += value;
            st.loss_n += 1;
            model = apply_step(
                model,
                optim,
                loss.tensor,
                st.lr,
                bert_trains.then(|| st.lr * scale),
            );
            let el = t0.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "loss {:.3} | {:.0} tok/s",
                st.loss_sum / st.loss_n as f64,
                st.tokens as f64 / el
            ));
        }
        bar.finish_and_clear();
        st.seconds = t0.elapsed().as_secs_f64();
        Ok((model, st))
    }

    /// The error of a loss that stopped being finite, pointing at the last good checkpoint.
    fn diverged(&self, phase: Phase, value: f64) -> anyhow::Error {
        anyhow::anyhow!(
            "{} epoch {}: the loss became {value}; stopped. The last good checkpoint is in {} (lower the learning rate, then --resume)",
            phase.name(),
            self.state.epoch + 1,
            self.run.path("checkpoint").display()
        )
    }

    /// Stage 1: mean dev InfoNCE; otherwise dev F1.
    fn dev_score(&self, model: &Tagger, phase: Phase, s: &StageConfig) -> Result<f64> {
        if phase.lower_is_better() {
            let q = self.state.recipe.queries();
            Ok(dev_contrastive_loss(
                model,
                &self.splits.dev_examples,
                s,
                q,
                &self.device,
            ))
        } else {
            let pipeline = Pipeline::new(self.meta.clone(), model, &self.device);
            // Dev F1: conlleval's on the CRF's tags, exact-span F1 on Binder's spans.
            Ok(self.splits.dev.score(&pipeline)?.overall.f1)
        }
    }

    /// Log the epoch, add it to the history and to early stopping; true if dev improved.
    fn record_epoch(
        &mut self,
        phase: Phase,
        st: &EpochStats,
        dev_score: f64,
        head_only: bool,
    ) -> bool {
        let log = EpochLog {
            phase,
            epoch: self.state.epoch + 1,
            train_loss: if st.loss_n > 0 {
                st.loss_sum / st.loss_n as f64
            } else {
                0.0
            },
            dev_score,
            lr: st.lr,
            head_only,
            seconds: st.seconds,
            tokens_per_second: st.tokens as f64 / st.seconds.max(1e-9),
        };
        let improved = self.state.record_dev(dev_score, head_only);
        self.run.log(&format!(
            "{} epoch {:>3}: loss {:.4} | dev {} {:.4}{} | {:.1}s, {:.0} tok/s, lr {:.2e}{}",
            phase.name(),
            log.epoch,
            log.train_loss,
            if phase.lower_is_better() {
                "InfoNCE"
            } else {
                "F1"
            },
            dev_score,
            if improved { " *" } else { "" },
            st.seconds,
            log.tokens_per_second,
            st.lr,
            if head_only { " (head only)" } else { "" }
        ));
        self.state.history.push(log);
        improved
    }
}
