//! The loop around model-core's training step: a phase's epochs, each a pass over seeded batches,
//! then the dev score, early stopping and an atomic checkpoint.

use super::state::{EpochLog, TrainState};
use super::{load_model, save_model};
use crate::checkpoint::{restore_optimizer, save_optimizer};
use crate::config::RunConfig;
use crate::data::Splits;
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
use model_core::quality::{ClusterQuality, cluster_quality};
use model_core::tags::NON_ENTITY;
use model_core::train::{
    Epoch, EpochAt, Frozen, LossMeter, LossSetup, Phase, Select, StageConfig, StepRates,
    aux_weight, encoder_scale, make_optimizer, token_classes,
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
    /// A GPU backend: the CRF NLL stays on the device, the loss is read every few steps.
    pub gpu: bool,
    pub started: Instant,
    pub seconds_before: f64,
}

/// Steps per read-back of the loss on a GPU.
const READ_EVERY: usize = 50;

/// What one epoch's batches added up to.
struct EpochStats {
    /// Mean loss of the steps that had one (0 when none had).
    loss: f64,
    /// Tensors read back to the host during the steps, and the steps (the GPU path reads only
    /// the summed loss every READ_EVERY steps).
    reads: usize,
    steps: usize,
    tokens: usize,
    lr: f64,
    seconds: f64,
}

/// What trains in one epoch, and at which rates relative to the step's.
struct EpochSetup {
    /// A head-only epoch of the config (`head_only_epochs`): not held against patience.
    head_only: bool,
    /// The encoder's rate scale (0: it is frozen this epoch).
    encoder_scale: f64,
    /// The pretrained character encoder's scale on top of the encoder's, when it trains.
    bert_scale: Option<f64>,
    /// Weight of the InfoNCE term added to the head's loss.
    contrast_weight: f64,
}

impl EpochSetup {
    /// The log's note on what stage 2 keeps of stage 1 this epoch (empty at the defaults).
    fn describe(&self, phase: Phase) -> String {
        let mut out = String::new();
        if phase == Phase::Tagging && !self.head_only && self.encoder_scale != 1.0 {
            out += &format!(", encoder ×{:.3}", self.encoder_scale);
        }
        if phase == Phase::Tagging && self.contrast_weight > 0.0 {
            out += &format!(", aux InfoNCE ×{:.3}", self.contrast_weight);
        }
        out
    }

    /// The step's rates at the scheduled `lr`. The encoder's gradients are split off only at a
    /// scale strictly between 0 and 1 or above (at 0 it is frozen and has none), so the defaults
    /// step exactly as before.
    fn rates(&self, lr: f64) -> StepRates {
        let split = self.encoder_scale != 1.0 && self.encoder_scale != 0.0;
        StepRates {
            lr,
            encoder: split.then(|| lr * self.encoder_scale),
            bert: self.bert_scale.map(|b| lr * self.encoder_scale * b),
        }
    }
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

/// At most this many dev tokens enter the cluster quality (its cost grows with their square:
/// all 13,890 of Resume's took ≈ 40 s per stage-1 epoch).
const QUALITY_MAX_TOKENS: usize = 6000;

/// Every k-th example, k = ⌈tokens / `max_tokens`⌉ (about `max_tokens` tokens): whole
/// sentences, evenly spread, the same every epoch.
fn even_sample(examples: &[Example], max_tokens: usize) -> Vec<Example> {
    let total: usize = examples.iter().map(Example::len).sum();
    let k = total.div_ceil(max_tokens.max(1)).max(1);
    examples.iter().step_by(k).cloned().collect()
}

/// The dev tokens' cluster quality, `pick`ed from kNN purity and silhouette (higher is better;
/// −∞ when the sample has no entity token), on the model without dropout, over an even sample
/// of dev sentences ([`QUALITY_MAX_TOKENS`]).
fn dev_cluster_quality(
    model: &Tagger,
    examples: &[Example],
    batch_size: usize,
    pick: fn(&ClusterQuality) -> f64,
    device: &Device,
) -> Result<f64> {
    let model = model.valid();
    let sample = even_sample(examples, QUALITY_MAX_TOKENS);
    let (mut data, mut classes, mut d) = (Vec::new(), Vec::new(), 0);
    for bucket in encode_buckets(&model, &sample, batch_size, device) {
        d = bucket.reps.dims()[1];
        data.extend(model_core::host::tensor_values(bucket.reps));
        classes.extend(token_classes(&bucket.batch));
    }
    if classes.is_empty() {
        return Ok(f64::NEG_INFINITY);
    }
    let score = pick(&cluster_quality(&data, d, &classes, Some(NON_ENTITY), 10)?);
    Ok(if score.is_nan() {
        f64::NEG_INFINITY
    } else {
        score
    })
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
            let setup = self.epoch_setup(phase, &s);
            let stats;
            (model, stats) = self.run_epoch(model, &mut optim, phase, &s, &setup)?;
            let dev_score = self.dev_score(&model, phase, &s)?;
            let improved = self.record_epoch(phase, &stats, dev_score, &setup);
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

    /// What trains in this epoch of `phase`. Stage 2's options for keeping stage 1 (encoder
    /// scale, gradual unfreeze, auxiliary InfoNCE) apply only after a stage 1.
    fn epoch_setup(&self, phase: Phase, s: &StageConfig) -> EpochSetup {
        let epoch = self.state.epoch;
        let head_only = phase == Phase::Tagging && epoch < s.head_only_epochs;
        let keeps = phase.keeps_stage1(self.state.recipe);
        let encoder_scale = match (head_only, keeps) {
            (true, _) => 0.0,
            (false, true) => encoder_scale(s, epoch),
            (false, false) => 1.0,
        };
        // The pretrained character encoder is frozen in stage 1 (as in the paper), when its
        // rate scale is 0, and whenever the encoder around it is.
        let bert_lr_scale = self.cfg.model.char_encoder_lr_scale;
        let bert_trains = phase != Phase::Contrast && bert_lr_scale > 0.0 && encoder_scale > 0.0;
        let contrast_weight = match phase {
            Phase::Joint => self.cfg.joint.weight,
            // Through a frozen encoder the term would be a constant: left out.
            _ if keeps && encoder_scale > 0.0 => aux_weight(s, epoch),
            _ => 0.0,
        };
        EpochSetup {
            head_only,
            encoder_scale,
            bert_scale: bert_trains.then_some(bert_lr_scale),
            contrast_weight,
        }
    }

    /// One pass over the epoch's batches.
    fn run_epoch(
        &mut self,
        mut model: Tagger,
        optim: &mut ModuleOptimizer,
        phase: Phase,
        s: &StageConfig,
        es: &EpochSetup,
    ) -> Result<(Tagger, EpochStats)> {
        let epoch = self.state.epoch;
        let examples = &self.splits.train_examples;
        let at = EpochAt {
            phase,
            epoch,
            run_seed: self.state.seed,
            first_step: self.state.step,
        };
        let mut steps = Epoch::new(examples, s, at, self.cfg.data.token_dropout, &self.ad);
        let frozen = Frozen::new(&model, es.encoder_scale == 0.0, es.bert_scale.is_some());
        let setup = LossSetup {
            phase,
            tau: s.tau,
            queries: self.state.recipe.queries(),
            contrast_weight: es.contrast_weight,
            constraints: &self.constraints,
            crf_on_host: !self.gpu,
        };
        let bar = progress::bar(
            steps.len() as u64,
            format!("{} {}/{}", phase.name(), epoch + 1, s.epochs),
        );
        let t0 = Instant::now();
        let reads_before = model_core::host::reads();
        // On a GPU the loss is summed on the device and read every READ_EVERY steps (a read is a
        // sync that drains the queue); the CPU reads each step, as the progress bar shows it.
        let mut meter = LossMeter::new(if self.gpu { READ_EVERY } else { 1 });
        let mut shown = 0.0;
        let mut st = EpochStats {
            loss: 0.0,
            reads: 0,
            steps: 0,
            tokens: 0,
            lr: s.lr,
            seconds: 0.0,
        };
        while let Some(step) = steps.next_loss(&model, examples, &frozen, &setup) {
            st.lr = step.lr;
            st.tokens += step.tokens;
            self.state.step += 1;
            bar.inc(1);
            let Some(loss) = step.loss else { continue };
            if let Some(value) = meter.add(&loss) {
                if !value.is_finite() {
                    bar.abandon();
                    return Err(self.diverged(phase, value));
                }
                shown = meter.mean();
            }
            model = steps.apply(model, optim, loss, es.rates(st.lr));
            let el = t0.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "loss {shown:.3} | {:.0} tok/s",
                st.tokens as f64 / el
            ));
        }
        st.loss = meter.mean();
        (st.reads, st.steps) = (model_core::host::reads() - reads_before, meter.steps());
        if !st.loss.is_finite() {
            bar.abandon();
            return Err(self.diverged(phase, st.loss));
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

    /// Stage 1: mean dev InfoNCE or the dev tokens' cluster quality (the run's `stage1.select`);
    /// otherwise dev F1.
    fn dev_score(&self, model: &Tagger, phase: Phase, s: &StageConfig) -> Result<f64> {
        let (dev, b, device) = (&self.splits.dev_examples, s.batch_size, &self.device);
        match (phase, self.state.select) {
            (Phase::Contrast, Select::Infonce) => {
                let q = self.state.recipe.queries();
                Ok(dev_contrastive_loss(model, dev, s, q, device))
            }
            (Phase::Contrast, Select::KnnPurity) => {
                dev_cluster_quality(model, dev, b, |q| q.knn_purity, device)
            }
            (Phase::Contrast, Select::Silhouette) => {
                dev_cluster_quality(model, dev, b, |q| q.silhouette, device)
            }
            _ => {
                let pipeline = Pipeline::new(self.meta.clone(), model, &self.device);
                // Dev F1: conlleval's on the CRF's tags, exact-span F1 on Binder's spans.
                Ok(self.splits.dev.score(&pipeline)?.overall.f1)
            }
        }
    }

    /// Log the epoch, add it to the history and to early stopping; true if dev improved.
    fn record_epoch(
        &mut self,
        phase: Phase,
        st: &EpochStats,
        dev_score: f64,
        es: &EpochSetup,
    ) -> bool {
        let head_only = es.head_only;
        let log = EpochLog {
            phase,
            epoch: self.state.epoch + 1,
            train_loss: st.loss,
            dev_score,
            lr: st.lr,
            head_only,
            seconds: st.seconds,
            tokens_per_second: st.tokens as f64 / st.seconds.max(1e-9),
        };
        let improved = self.state.record_dev(dev_score, head_only);
        self.run.log(&format!(
            "{} epoch {:>3}: loss {:.4} | dev {} {:.4}{} | {:.1}s, {:.0} tok/s, lr {:.2e}, {} host reads in {} steps{}{}",
            phase.name(),
            log.epoch,
            log.train_loss,
            if phase == Phase::Contrast {
                self.state.select.name()
            } else {
                "F1"
            },
            dev_score,
            if improved { " *" } else { "" },
            st.seconds,
            log.tokens_per_second,
            st.lr,
            st.reads,
            st.steps,
            if head_only { " (head only)" } else { "" },
            es.describe(phase)
        ));
        self.state.history.push(log);
        improved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quality_sample_takes_every_kth_sentence_for_about_the_token_budget() {
        let ex = |n: usize| Example {
            chars: vec![5; n],
            ..Default::default()
        };
        let examples: Vec<Example> = (0..10).map(|i| ex(10 + i)).collect(); // 145 tokens
        let lens = |s: &[Example]| s.iter().map(Example::len).collect::<Vec<_>>();
        assert_eq!(lens(&even_sample(&examples, 1000)), lens(&examples));
        // 145 tokens for 50: every ⌈145 / 50⌉ = 3rd sentence.
        assert_eq!(lens(&even_sample(&examples, 50)), [10, 13, 16, 19]);
    }
}
