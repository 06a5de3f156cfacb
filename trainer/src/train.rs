//! The two-stage NerCo recipe and its ablations, with per-epoch atomic checkpoints so an
//! interrupted run resumes where it stopped.

use crate::config::{OptimizerKind, RunConfig, StageConfig};
use crate::data_prep::{self, Splits};
use crate::run_dir::{RunDir, read_json, write_atomic, write_json};
use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use model_core::batch::{Batch, Example, length_buckets};
use model_core::loss::{Queries, info_nce};
use model_core::metrics::{Report, evaluate};
use model_core::model::tagger::char_features;
use model_core::model::{CrfConstraints, Tagger};
use model_core::pipeline::{ModelMeta, Pipeline};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Stage 1 (Semantic-Class InfoNCE) then stage 2 (CRF fine-tuning).
    Nerco,
    /// Stage 2 only: the baseline.
    NoContrast,
    /// One stage with loss = CRF NLL + InfoNCE.
    Joint,
    /// Like nerco, but Non-Entity tokens are queries too.
    NoFilter,
}

/// The phases a recipe runs, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Contrast,
    Tagging,
    Joint,
    Done,
}

impl Recipe {
    /// The name used on the command line, in configs and run directories.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::Nerco => "nerco",
            Recipe::NoContrast => "no-contrast",
            Recipe::Joint => "joint",
            Recipe::NoFilter => "no-filter",
        }
    }

    fn phases(self) -> &'static [Phase] {
        match self {
            Recipe::Nerco | Recipe::NoFilter => &[Phase::Contrast, Phase::Tagging],
            Recipe::NoContrast => &[Phase::Tagging],
            Recipe::Joint => &[Phase::Joint],
        }
    }

    fn queries(self) -> Queries {
        if self == Recipe::NoFilter {
            Queries::All
        } else {
            Queries::Entities
        }
    }
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Contrast => "stage1",
            Phase::Tagging => "stage2",
            Phase::Joint => "joint",
            Phase::Done => "done",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub phase: Phase,
    pub epoch: usize,
    pub train_loss: f64,
    /// Stage 1: dev contrastive loss; otherwise dev F1.
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

pub struct TrainArgs {
    pub config: Option<PathBuf>,
    pub recipe: Recipe,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: bool,
    pub device: Device,
    pub backend_name: String,
}

fn save_model(model: &Tagger, path: &Path) -> Result<()> {
    write_atomic(path, &model_core::weights::to_bytes(model, false)?)
}

pub fn load_model(meta: &ModelMeta, path: &Path, device: &Device) -> Result<Tagger> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    model_core::weights::load(&meta.model, bytes, device).map_err(|e| match e {
        model_core::weights::WeightsError::Format(m) => {
            anyhow::anyhow!("{} is not a valid weight file: {m}", path.display())
        }
        model_core::weights::WeightsError::Mismatch(m) => {
            anyhow::anyhow!("{} does not fit this model: {m}", path.display())
        }
    })
}

fn make_optimizer(s: &StageConfig) -> ModuleOptimizer {
    let clip = (s.clip > 0.0).then(|| GradientClippingConfig::Value(s.clip as f32));
    match s.optimizer {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(s.momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(
                (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32)),
            )
            .with_gradient_clipping(clip)
            .init(),
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_weight_decay(s.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

/// Linear warm-up over a fraction of all steps, then `lr / (1 + decay · epoch)`.
fn learning_rate(s: &StageConfig, step: usize, epoch: usize, steps_per_epoch: usize) -> f64 {
    let warm = (s.warmup * (s.epochs * steps_per_epoch) as f64).ceil() as usize;
    let ramp = if warm > 0 {
        ((step + 1) as f64 / warm as f64).min(1.0)
    } else {
        1.0
    };
    s.lr * ramp / (1.0 + s.decay * epoch as f64)
}

/// Batches of similar length in a seeded random order: shuffle, sort within pools of 50
/// batches to cut padding, then shuffle the batches.
pub(crate) fn epoch_batches(
    examples: &[Example],
    batch_size: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for pool in order.chunks(batch_size * 50) {
        let lens: Vec<usize> = pool.iter().map(|&i| examples[i].len()).collect();
        for b in length_buckets(&lens, batch_size) {
            batches.push(b.into_iter().map(|k| pool[k]).collect::<Vec<_>>());
        }
    }
    batches.shuffle(rng);
    batches
}

/// A copy of `ex` with each character and bigram id replaced by UNK with probability `p`.
fn token_dropout(ex: &Example, p: f64, rng: &mut StdRng) -> Example {
    use rand::Rng;
    let mut out = ex.clone();
    for id in out.chars.iter_mut().chain(out.bigrams.iter_mut()) {
        if rng.random_bool(p) {
            *id = model_core::vocab::UNK;
        }
    }
    out
}

fn flat_classes(batch: &Batch) -> Vec<usize> {
    batch.classes.iter().flatten().copied().collect()
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
    let lens: Vec<usize> = examples.iter().map(Example::len).collect();
    let (mut total, mut n) = (0.0, 0usize);
    for group in length_buckets(&lens, s.batch_size) {
        let refs: Vec<&Example> = group.iter().map(|&i| &examples[i]).collect();
        let batch = Batch::new(&refs, device);
        let reps = batch.gather_tokens(model.encode(&batch));
        if let Some(l) = info_nce(reps, &flat_classes(&batch), s.tau, queries) {
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

/// Score a split with the current model: the file's own gold tags against predictions.
pub fn score(
    pipeline: &Pipeline,
    sentences: &[model_core::data::Sentence],
) -> Result<(Report, Vec<Vec<String>>)> {
    let chars: Vec<Vec<char>> = sentences.iter().map(|s| s.chars.clone()).collect();
    let pred = pipeline.tags(&chars, 64);
    let gold: Vec<Vec<String>> = sentences.iter().map(|s| s.tags.clone()).collect();
    Ok((evaluate(&gold, &pred)?, pred))
}

struct Trainer<'a> {
    cfg: &'a RunConfig,
    meta: &'a ModelMeta,
    splits: &'a Splits,
    run: RunDir,
    state: TrainState,
    device: Device,
    ad: Device,
    constraints: CrfConstraints,
    started: Instant,
    seconds_before: f64,
}

impl Trainer<'_> {
    fn checkpoint(&mut self, model: &Tagger, optim: &ModuleOptimizer) -> Result<()> {
        let tag = format!("{}-{:03}", self.state.phase.name(), self.state.epoch);
        let model_file = format!("{tag}.model.bpk");
        let optim_file = format!("{tag}.optim.bpk");
        let dir = self.run.path("checkpoint");
        save_model(model, &dir.join(&model_file))?;
        let optim_bytes = optim.into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        write_atomic(&dir.join(&optim_file), &optim_bytes)?;
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

    fn run_phase(
        &mut self,
        mut model: Tagger,
        phase: Phase,
        resume_optim: Option<PathBuf>,
    ) -> Result<Tagger> {
        let s = if phase == Phase::Contrast {
            &self.cfg.stage1
        } else {
            &self.cfg.stage2
        };
        let recipe = self.state.recipe;
        let mut optim = make_optimizer(s);
        if let Some(p) = resume_optim {
            let bytes =
                std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            optim = optim
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| {
                    anyhow::anyhow!("{} is not a valid optimizer state: {e:?}", p.display())
                })?;
        }
        let best_path = self.run.path(&format!("{}.bpk", phase.name()));
        let examples = &self.splits.train_examples;
        let steps_per_epoch = examples.len().div_ceil(s.batch_size);
        let lower_is_better = phase == Phase::Contrast;
        while self.state.epoch < s.epochs {
            let epoch = self.state.epoch;
            let seed =
                self.state.seed.wrapping_mul(1_000_003) ^ ((phase as u64) << 40) ^ epoch as u64;
            let mut rng = StdRng::seed_from_u64(seed);
            self.ad.seed(seed);
            let batches = epoch_batches(examples, s.batch_size, &mut rng);
            let head_only = phase == Phase::Tagging && epoch < s.head_only_epochs;
            // The encoder does not change during a head-only epoch: one inference copy serves it.
            let frozen = head_only.then(|| model.valid());
            // The pretrained character encoder is frozen in stage 1 (as in the paper) and when
            // its rate scale is 0: its features come from an inference copy, outside the graph.
            let bert_trains =
                phase != Phase::Contrast && self.cfg.model.char_encoder_lr_scale > 0.0;
            let frozen_bert = if bert_trains {
                None
            } else {
                model.bert.as_ref().map(|b| b.valid())
            };
            let bar = ProgressBar::new(batches.len() as u64).with_prefix(format!(
                "{} {}/{}",
                phase.name(),
                epoch + 1,
                s.epochs
            ));
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            let t0 = Instant::now();
            let (mut loss_sum, mut loss_n, mut tokens) = (0.0, 0usize, 0usize);
            let mut lr = s.lr;
            for idx in &batches {
                lr = learning_rate(s, self.state.step, epoch, steps_per_epoch);
                let dropped: Vec<Example>;
                let refs: Vec<&Example> = if self.cfg.data.token_dropout > 0.0 {
                    dropped = idx
                        .iter()
                        .map(|&i| {
                            token_dropout(&examples[i], self.cfg.data.token_dropout, &mut rng)
                        })
                        .collect();
                    dropped.iter().collect()
                } else {
                    idx.iter().map(|&i| &examples[i]).collect()
                };
                let batch = Batch::new(&refs, &self.ad);
                tokens += batch.tokens();
                // Head-only steps run the encoder without autodiff: a detached graph would still be
                // recorded, and Burn's graph cleanup then dominates the epoch.
                let reps = match (&frozen, &frozen_bert) {
                    (Some(encoder), _) => {
                        Tensor::from_inner(encoder.encode(&batch.without_autodiff()))
                    }
                    (None, Some(bert)) => {
                        let features =
                            char_features(bert, &batch.without_autodiff()).map(Tensor::from_inner);
                        model.encode_with(&batch, features)
                    }
                    (None, None) => model.encode(&batch),
                };
                let contrast = |reps: Tensor<3>| {
                    info_nce(
                        batch.gather_tokens(reps),
                        &flat_classes(&batch),
                        s.tau,
                        recipe.queries(),
                    )
                };
                // The loss tensor to differentiate and the value to report (the CRF term is a
                // surrogate with the NLL's gradient, so its value comes from the host).
                let loss: Option<(Tensor<1>, f64)> = match phase {
                    Phase::Contrast => contrast(reps).map(|l| {
                        let v = l.clone().into_scalar::<f32>() as f64;
                        (l, v)
                    }),
                    Phase::Tagging => Some(model.nll_fast(reps, &batch, &self.constraints)),
                    Phase::Joint => {
                        let (nll, v) = model.nll_fast(reps.clone(), &batch, &self.constraints);
                        Some(match contrast(reps) {
                            Some(c) => {
                                let w = self.cfg.joint.weight;
                                let cv = c.clone().into_scalar::<f32>() as f64;
                                (nll + c.mul_scalar(w), v + w * cv)
                            }
                            None => (nll, v),
                        })
                    }
                    Phase::Done => unreachable!(),
                };
                self.state.step += 1;
                let Some((loss, value)) = loss else {
                    bar.inc(1);
                    continue;
                };
                if !value.is_finite() {
                    bar.abandon();
                    bail!(
                        "{} epoch {}: the loss became {value}; stopped. The last good checkpoint is in {} (lower the learning rate, then --resume)",
                        phase.name(),
                        epoch + 1,
                        self.run.path("checkpoint").display()
                    );
                }
                loss_sum += value;
                loss_n += 1;
                let mut grads = loss.backward();
                // The pretrained encoder steps at its own (lower) rate: its gradients are taken
                // out first, and the same optimizer (per-parameter state) steps each group.
                let bert_grads = match (&model.bert, bert_trains) {
                    (Some(b), true) => Some(GradientsParams::from_module(&mut grads, b)),
                    _ => None,
                };
                let grads = GradientsParams::from_grads(grads, &model);
                model = optim.step(lr, model, grads);
                if let Some(g) = bert_grads {
                    model = optim.step(lr * self.cfg.model.char_encoder_lr_scale, model, g);
                }
                bar.inc(1);
                let el = t0.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.3} | {:.0} tok/s",
                    loss_sum / loss_n as f64,
                    tokens as f64 / el
                ));
            }
            bar.finish_and_clear();
            let seconds = t0.elapsed().as_secs_f64();
            let dev_score = if lower_is_better {
                dev_contrastive_loss(
                    &model,
                    &self.splits.dev_examples,
                    s,
                    recipe.queries(),
                    &self.device,
                )
            } else {
                let pipeline = Pipeline::new(self.meta.clone(), &model, &self.device);
                score(&pipeline, &self.splits.dev)?.0.overall.f1
            };
            let improved = match self.state.best {
                None => true,
                Some(b) => {
                    if lower_is_better {
                        dev_score < b
                    } else {
                        dev_score > b
                    }
                }
            };
            let log = EpochLog {
                phase,
                epoch: epoch + 1,
                train_loss: if loss_n > 0 {
                    loss_sum / loss_n as f64
                } else {
                    0.0
                },
                dev_score,
                lr,
                head_only,
                seconds,
                tokens_per_second: tokens as f64 / seconds.max(1e-9),
            };
            self.run.log(&format!(
                "{} epoch {:>3}: loss {:.4} | dev {} {:.4}{} | {:.1}s, {:.0} tok/s, lr {:.2e}{}",
                phase.name(),
                log.epoch,
                log.train_loss,
                if lower_is_better { "InfoNCE" } else { "F1" },
                dev_score,
                if improved { " *" } else { "" },
                seconds,
                log.tokens_per_second,
                lr,
                if head_only { " (head only)" } else { "" }
            ));
            self.state.history.push(log);
            self.state.epoch += 1;
            if improved {
                self.state.best = Some(dev_score);
                self.state.best_epoch = epoch + 1;
                self.state.bad_epochs = 0;
                save_model(&model, &best_path)?;
            } else if !head_only {
                self.state.bad_epochs += 1;
            }
            self.checkpoint(&model, &optim)?;
            if self.state.bad_epochs >= s.patience {
                self.run.log(&format!(
                    "{}: no dev improvement for {} epochs; stopping",
                    phase.name(),
                    s.patience
                ));
                break;
            }
        }
        load_model(self.meta, &best_path, &self.ad)
    }

    fn summary(&self, phase: Phase) -> Option<PhaseSummary> {
        let logs: Vec<&EpochLog> = self
            .state
            .history
            .iter()
            .filter(|l| l.phase == phase)
            .collect();
        if logs.is_empty() {
            return None;
        }
        let lower = phase == Phase::Contrast;
        let best = logs
            .iter()
            .fold(None::<&&EpochLog>, |b, l| match b {
                Some(b)
                    if (lower && b.dev_score <= l.dev_score)
                        || (!lower && b.dev_score >= l.dev_score) =>
                {
                    Some(b)
                }
                _ => Some(l),
            })
            .expect("non-empty");
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

pub fn train(args: TrainArgs) -> Result<Metrics> {
    let state_path = args.out.join("checkpoint").join("state.json");
    let resuming = args.resume && state_path.exists();
    let (cfg, meta_opt, state) = if resuming {
        let cfg = RunConfig::load(&args.out.join("config.toml"))?;
        let meta = ModelMeta::from_json(
            &std::fs::read_to_string(args.out.join("meta.json"))
                .context("cannot read meta.json of the run")?,
        )
        .with_context(|| format!("{}", args.out.join("meta.json").display()))?;
        let state: TrainState = read_json(&state_path)?;
        // A hand-edited or foreign state.json can name a phase its recipe does not have.
        if state.phase != Phase::Done && !state.recipe.phases().contains(&state.phase) {
            bail!(
                "{}: phase `{}` is not part of the `{}` recipe",
                state_path.display(),
                state.phase.name(),
                state.recipe.name()
            );
        }
        (cfg, Some(meta), Some(state))
    } else {
        if state_path.exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                args.out.display()
            );
        }
        let cfg = match &args.config {
            Some(path) => RunConfig::load(path)?,
            // The embedded default: NerCo on Resume, the README's main job.
            None => RunConfig::from_toml(
                include_str!("../../configs/resume.toml"),
                "configs/resume.toml (embedded)",
            )?,
        };
        (cfg, None, None)
    };
    let mut run = RunDir::open(&args.out)?;
    let (splits, meta) = data_prep::load(&cfg, meta_opt.as_ref())?;
    if !resuming {
        write_atomic(&run.path("config.toml"), cfg.to_toml().as_bytes())?;
        write_json(&run.path("meta.json"), &meta)?;
    }
    let state = state.unwrap_or(TrainState {
        recipe: args.recipe,
        seed: args.seed,
        phase: args.recipe.phases()[0],
        epoch: 0,
        step: 0,
        best: None,
        best_epoch: 0,
        bad_epochs: 0,
        history: Vec::new(),
        model_file: None,
        optim_file: None,
        seconds: 0.0,
    });
    if resuming && (state.recipe != args.recipe || state.seed != args.seed) {
        run.log(&format!(
            "resuming with the run's own recipe {:?} and seed {}",
            state.recipe, state.seed
        ));
    }
    let device = args.device.clone();
    device.seed(state.seed);
    let ad = device.clone().autodiff();
    let mut model = meta.model.init(&ad);
    run.log(&format!(
        "{}: {} recipe, seed {}, {} training pieces from {} sentences, {} chars / {} bigrams / {} tags, {} parameters, backend {}",
        cfg.name,
        state.recipe.name(),
        state.seed,
        splits.train_examples.len(),
        splits.train_sentences,
        meta.vocabs.chars.len(),
        meta.vocabs.bigrams.len(),
        meta.tags.len(),
        model.num_params(),
        args.backend_name,
    ));
    if let Some(words) = &meta.vocabs.words {
        let count = |ex: &[Example]| ex.iter().map(|e| e.words.len()).sum::<usize>();
        let chars = |ex: &[Example]| ex.iter().map(Example::len).sum::<usize>().max(1);
        run.log(&format!(
            "FLAT lattice: {} lexicon words (seen in training); words per character: train {:.2}, dev {:.2}; at most {} per piece",
            words.len() - 2,
            count(&splits.train_examples) as f64 / chars(&splits.train_examples) as f64,
            count(&splits.dev_examples) as f64 / chars(&splits.dev_examples) as f64,
            words.max_per_sentence(),
        ));
    }
    let from_checkpoint = resuming && state.model_file.is_some();
    if let (false, Some(dir)) = (from_checkpoint, &cfg.model.char_encoder) {
        let bert_cfg = meta.model.char_encoder.as_ref().with_context(|| {
            format!(
                "{} has no character encoder config; start a new run",
                args.out.join("meta.json").display()
            )
        })?;
        model.bert = Some(
            model_core::model::bert::files::load_weights(dir, bert_cfg, &ad)
                .with_context(|| format!("model.char_encoder {}", dir.display()))?,
        );
        run.log(&format!(
            "pretrained character encoder from {}: {} layers, hidden {}, {} parameters",
            dir.display(),
            bert_cfg.num_hidden_layers,
            bert_cfg.hidden_size,
            model.bert.as_ref().map_or(0, |b| b.num_params())
        ));
    }
    let mut resume_optim = None;
    if let (true, Some(f)) = (resuming, &state.model_file) {
        model = load_model(&meta, &args.out.join("checkpoint").join(f), &ad)?;
        resume_optim = state
            .optim_file
            .as_ref()
            .map(|f| args.out.join("checkpoint").join(f));
        run.log(&format!(
            "resumed {} after epoch {}",
            state.phase.name(),
            state.epoch
        ));
    }
    let constraints = CrfConstraints::new(&meta.tags, &ad);
    let mut t = Trainer {
        cfg: &cfg,
        meta: &meta,
        splits: &splits,
        run,
        seconds_before: state.seconds,
        state,
        device: device.clone(),
        ad: ad.clone(),
        constraints,
        started: Instant::now(),
    };
    let phases = t.state.recipe.phases();
    while t.state.phase != Phase::Done {
        let phase = t.state.phase;
        model = t.run_phase(model, phase, resume_optim.take())?;
        let pos = phases
            .iter()
            .position(|&p| p == phase)
            .expect("phase of recipe checked when the state was read");
        t.state.phase = phases.get(pos + 1).copied().unwrap_or(Phase::Done);
        t.state.epoch = 0;
        t.state.best = None;
        t.state.best_epoch = 0;
        t.state.bad_epochs = 0;
        // The phase switch is a checkpoint too: resuming starts the next phase from the best model.
        t.checkpoint(&model, &make_optimizer(&cfg.stage2))?;
    }
    let final_phase = *phases.last().expect("recipe has phases");
    let best = load_model(
        &meta,
        &t.run.path(&format!("{}.bpk", final_phase.name())),
        &device,
    )?;
    save_model(&best, &t.run.path("model.bpk"))?;
    let pipeline = Pipeline::new(meta.clone(), &best, &device);
    let (dev, _) = score(&pipeline, &splits.dev)?;
    let (test, _) = score(&pipeline, &splits.test)?;
    let seconds = t.seconds_before + t.started.elapsed().as_secs_f64();
    let metrics = Metrics {
        dataset: cfg.name.clone(),
        recipe: t.state.recipe,
        seed: t.state.seed,
        backend: args.backend_name,
        parameters: best.num_params(),
        train_sentences: splits.train_sentences,
        phases: phases.iter().filter_map(|&p| t.summary(p)).collect(),
        history: t.state.history.clone(),
        dev,
        test,
        seconds,
    };
    write_json(&t.run.path("metrics.json"), &metrics)?;
    t.run.log(&format!(
        "done in {:.0}s. dev F1 {:.2} | test P {:.2} R {:.2} F1 {:.2}, span F {:.2}, type acc {:.2}",
        seconds, metrics.dev.overall.f1, metrics.test.overall.precision, metrics.test.overall.recall,
        metrics.test.overall.f1, metrics.test.span.f1, metrics.test.type_accuracy
    ));
    Ok(metrics)
}
