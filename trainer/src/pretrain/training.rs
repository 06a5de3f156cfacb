//! The masked-character training loop: BERT's learning-rate schedule, seeded length-pooled
//! batches, a log line every few steps and a checkpoint every `save_every` steps.

use super::PretrainSettings;
use super::files::{self, LogPoint, PretrainState};
use crate::progress::{self, Log};
use anyhow::{Result, bail};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use indicatif::ProgressBar;
use model_core::model::BertConfig;
use model_core::model::mlm::{BertMlm, MaskedBatch, MaskingSpec};
use model_core::train::{backward_step, length_pooled};
use model_core::vocab::BertVocab;
use rand::{SeedableRng, rngs::StdRng};
use std::path::Path;
use std::time::Instant;

/// How far a run has come: steps, time and characters (including earlier sessions of a resumed
/// run) and the log so far.
pub(super) struct Progress {
    pub step: usize,
    pub seconds_before: f64,
    pub chars_seen: usize,
    pub points: Vec<LogPoint>,
    started: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            step: 0,
            seconds_before: 0.0,
            chars_seen: 0,
            points: Vec::new(),
            started: Instant::now(),
        }
    }
}

impl From<PretrainState> for Progress {
    fn from(r: PretrainState) -> Self {
        Progress {
            step: r.step,
            seconds_before: r.seconds,
            chars_seen: r.chars_seen,
            points: r.log,
            started: Instant::now(),
        }
    }
}

impl Progress {
    /// Training seconds over all sessions.
    pub fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }
}

/// Masked-character loss and accuracy summed since the last log line.
#[derive(Default)]
struct Window {
    loss_sum: f64,
    correct: usize,
    masked: usize,
}

/// Linear warm-up over the settings' warm-up fraction, then linear decay to 0 (BERT's schedule).
fn learning_rate(st: &PretrainSettings, step: usize) -> f64 {
    let warm = ((st.warmup * st.steps as f64).ceil() as usize).max(1);
    if step < warm {
        st.lr * (step + 1) as f64 / warm as f64
    } else {
        st.lr * (st.steps - step) as f64 / (st.steps - warm).max(1) as f64
    }
}

/// The generator of batch order and masks. A resumed run draws a fresh order from its step, not
/// the uninterrupted run's order.
fn batch_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9))
}

/// Mean loss and accuracy over the held-out pieces, masked with a fixed seed so that every
/// evaluation sees the same masks.
fn held_out_scores(
    model: &BertMlm,
    seqs: &[Vec<usize>],
    spec: &MaskingSpec,
    batch_size: usize,
    device: &Device,
) -> Option<(f64, f64)> {
    if seqs.is_empty() {
        return None;
    }
    let model = model.valid();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut loss, mut correct, mut n) = (0.0, 0usize, 0usize);
    for chunk in seqs.chunks(batch_size) {
        let refs: Vec<&[usize]> = chunk.iter().map(Vec::as_slice).collect();
        let batch = MaskedBatch::new(&refs, spec, &mut rng, device);
        if batch.n_masked == 0 {
            continue;
        }
        let (l, c) = model.loss(&batch);
        loss += l.into_scalar::<f32>() as f64 * batch.n_masked as f64;
        correct += c;
        n += batch.n_masked;
    }
    (n > 0).then(|| (loss / n as f64, correct as f64 / n as f64))
}

/// A pretraining run over its prepared data.
pub(super) struct Run<'a> {
    pub settings: &'a PretrainSettings,
    pub out: &'a Path,
    pub cfg: &'a BertConfig,
    pub vocab: &'a BertVocab,
    pub spec: MaskingSpec,
    pub train: &'a [Vec<usize>],
    pub held_out: &'a [Vec<usize>],
    /// Without autodiff, for the held-out evaluation.
    pub device: &'a Device,
    pub ad: &'a Device,
    pub log: &'a mut Log,
    pub progress: Progress,
}

impl Run<'_> {
    /// Trains `model` from the current step to the settings' last; returns the trained model.
    pub fn train(&mut self, mut model: BertMlm, mut optim: ModuleOptimizer) -> Result<BertMlm> {
        let st = self.settings;
        let mut rng = batch_rng(st.seed, self.progress.step);
        let lens: Vec<usize> = self.train.iter().map(Vec::len).collect();
        let bar = progress::bar(st.steps as u64, "pretrain");
        bar.set_position(self.progress.step as u64);
        self.progress.started = Instant::now();
        let log_every = (st.steps / 50).clamp(1, 200);
        let mut window = Window::default();
        'outer: while self.progress.step < st.steps {
            for idx in length_pooled(&lens, st.batch_size, &mut rng) {
                if self.progress.step >= st.steps {
                    break 'outer;
                }
                let lr = learning_rate(st, self.progress.step);
                let refs: Vec<&[usize]> = idx.iter().map(|&i| self.train[i].as_slice()).collect();
                self.progress.chars_seen += refs.iter().map(|s| s.len() - 2).sum::<usize>();
                let batch = MaskedBatch::new(&refs, &self.spec, &mut rng, self.ad);
                self.progress.step += 1;
                bar.inc(1);
                if batch.n_masked == 0 {
                    continue;
                }
                model = self.step(model, &mut optim, &batch, lr, &mut window, &bar)?;
                let step = self.progress.step;
                let saving = step == st.steps || (st.save_every > 0 && step % st.save_every == 0);
                if step % log_every == 0 || saving {
                    self.log_point(&model, lr, saving, &mut window, &bar);
                }
                if saving {
                    self.save(&model, &optim)?;
                }
            }
        }
        bar.finish_and_clear();
        Ok(model)
    }

    /// One optimiser step on `batch`, its loss added to `window`; a non-finite loss ends the run.
    fn step(
        &self,
        model: BertMlm,
        optim: &mut ModuleOptimizer,
        batch: &MaskedBatch,
        lr: f64,
        window: &mut Window,
        bar: &ProgressBar,
    ) -> Result<BertMlm> {
        let (loss, c) = model.loss(batch);
        let value = loss.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            bar.abandon();
            bail!(
                "step {}: the loss became {value}; lower --lr (the last save in {} resumes with --resume)",
                self.progress.step,
                self.out.display()
            );
        }
        window.loss_sum += value * batch.n_masked as f64;
        window.correct += c;
        window.masked += batch.n_masked;
        Ok(backward_step(model, optim, loss, lr))
    }

    /// Logs the window's mean loss and accuracy (and the held-out scores when `with_held_out`)
    /// to the bar, stderr and the log file, and starts a new window.
    fn log_point(
        &mut self,
        model: &BertMlm,
        lr: f64,
        with_held_out: bool,
        window: &mut Window,
        bar: &ProgressBar,
    ) {
        let st = self.settings;
        let ho = if with_held_out {
            held_out_scores(model, self.held_out, &self.spec, st.batch_size, self.device)
        } else {
            None
        };
        let seconds = self.progress.seconds();
        let p = LogPoint {
            step: self.progress.step,
            train_loss: window.loss_sum / window.masked.max(1) as f64,
            train_accuracy: window.correct as f64 / window.masked.max(1) as f64,
            held_out_loss: ho.map(|h| h.0),
            held_out_accuracy: ho.map(|h| h.1),
            lr,
            seconds,
        };
        bar.set_message(format!(
            "loss {:.3} acc {:.3} | {:.0} chars/s",
            p.train_loss,
            p.train_accuracy,
            self.progress.chars_seen as f64 / seconds.max(1e-9)
        ));
        let line = format!(
            "step {:>6}: masked-char loss {:.4}, accuracy {:.4}{} | lr {:.2e}, {:.0}s",
            p.step,
            p.train_loss,
            p.train_accuracy,
            match ho {
                Some((l, acc)) => format!(" | held out {l:.4}, {acc:.4}"),
                None => String::new(),
            },
            lr,
            p.seconds
        );
        bar.suspend(|| self.log.line(&line));
        self.progress.points.push(p);
        *window = Window::default();
    }

    fn save(&self, model: &BertMlm, optim: &ModuleOptimizer) -> Result<()> {
        let state = PretrainState {
            settings: self.settings.clone(),
            step: self.progress.step,
            seconds: self.progress.seconds(),
            chars_seen: self.progress.chars_seen,
            log: self.progress.points.clone(),
        };
        files::save_checkpoint(self.out, (self.cfg, self.vocab), model, optim, &state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rand::Rng;

    fn settings(args: &[&str]) -> PretrainSettings {
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            s: PretrainSettings,
        }
        Cmd::parse_from(std::iter::once("t").chain(args.iter().copied())).s
    }

    #[test]
    fn rate_warms_up_linearly_then_decays_to_zero() {
        let st = settings(&["--steps", "100", "--lr", "1e-3", "--warmup", "0.1"]);
        let lr = |s| learning_rate(&st, s);
        assert!((lr(0) - 1e-4).abs() < 1e-12);
        assert!(
            (lr(9) - 1e-3).abs() < 1e-12,
            "peak at the last warm-up step"
        );
        assert!((lr(10) - 1e-3).abs() < 1e-12);
        assert!((lr(55) - 0.5e-3).abs() < 1e-12);
        assert!((lr(99) - 1e-3 / 90.0).abs() < 1e-12);
        // No warm-up still ramps over one step.
        let flat = settings(&["--steps", "4", "--lr", "2.0", "--warmup", "0"]);
        let v: Vec<f64> = (0..4).map(|s| learning_rate(&flat, s)).collect();
        assert_eq!(v, [2.0, 2.0, 4.0 / 3.0, 2.0 / 3.0]);
    }

    #[test]
    fn batch_order_depends_on_seed_and_resume_step() {
        let draw = |seed, step| batch_rng(seed, step).random::<u64>();
        assert_eq!(draw(42, 0), StdRng::seed_from_u64(42).random::<u64>());
        assert_eq!(draw(42, 1000), draw(42, 1000));
        assert_ne!(draw(42, 1000), draw(42, 0));
        assert_ne!(draw(42, 1000), draw(43, 1000));
    }

    #[test]
    fn a_resumed_run_continues_its_step_time_and_log() {
        let st = settings(&[]);
        let p = Progress::from(PretrainState {
            settings: st,
            step: 300,
            seconds: 12.5,
            chars_seen: 9000,
            log: Vec::new(),
        });
        assert_eq!((p.step, p.chars_seen), (300, 9000));
        assert!(p.seconds() >= 12.5 && p.seconds() < 60.0);
        assert_eq!(Progress::default().step, 0);
    }
}
