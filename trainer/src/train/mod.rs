//! `nerco train`: a recipe's phases over a run directory, with per-epoch atomic checkpoints so an
//! interrupted run resumes where it stopped. The step itself is model-core's
//! ([`model_core::train`]); this module owns the run directory, checkpoints, resume and early
//! stopping.

mod phase;
mod state;
mod stopping;

pub use model_core::train::{Phase, Recipe};
pub use state::{Metrics, TrainState};

use crate::backend::Backend;
use crate::config::RunConfig;
use crate::data::{self, Splits};
use crate::run_dir::{RunDir, read_json, write_atomic, write_json};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;
use model_core::batch::Example;
use model_core::config::HeadKind;
pub use model_core::infer::load::load_tagger as load_model;
use model_core::model::{CrfConstraints, Tagger};
use model_core::pipeline::{ModelMeta, Pipeline};
use model_core::train::make_optimizer;
use phase::Trainer;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct TrainArgs {
    pub config: Option<PathBuf>,
    pub recipe: Recipe,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: bool,
    pub device: Device,
    /// The device's backend: its name goes into the log and metrics; on a GPU the step keeps
    /// the CRF on the device and the loss is read back every few steps.
    pub backend: Backend,
}

fn save_model(model: &Tagger, path: &Path) -> Result<()> {
    write_atomic(path, &model_core::weights::to_bytes(model, false)?)
}

/// What a run starts from: its config, metadata (when resuming) and progress.
struct Start {
    cfg: RunConfig,
    meta: Option<ModelMeta>,
    state: TrainState,
    resuming: bool,
}

/// Read a run to resume, or check that `out` is free and read the config of a new one.
fn start(args: &TrainArgs) -> Result<Start> {
    let state_path = args.out.join("checkpoint").join("state.json");
    if args.resume && state_path.exists() {
        let cfg = RunConfig::load(&args.out.join("config.toml"))?;
        let meta = model_core::infer::load::read_meta(&args.out)?;
        let state: TrainState = read_json(&state_path)?;
        state.check(&state_path)?;
        return Ok(Start {
            cfg,
            meta: Some(meta),
            state,
            resuming: true,
        });
    }
    if state_path.exists() {
        bail!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            args.out.display()
        );
    }
    let mut cfg = match &args.config {
        Some(path) => RunConfig::load(path)?,
        // The embedded default: NerCo on Resume, the README's main job.
        None => RunConfig::from_toml(
            include_str!("../../../configs/resume.toml"),
            "configs/resume.toml (embedded)",
        )?,
    };
    cfg.model.head = recipe_head(&cfg, args.recipe)?;
    let mut state = TrainState::new(args.recipe, args.seed);
    state.select = cfg.stage1.select;
    Ok(Start {
        cfg,
        meta: None,
        state,
        resuming: false,
    })
}

/// The head a new run trains: the recipe's (the resolved `config.toml` records it). A config
/// that asks for Binder cannot run a CRF recipe; any config runs a Binder recipe.
fn recipe_head(cfg: &RunConfig, recipe: Recipe) -> Result<HeadKind> {
    if cfg.model.head == HeadKind::Binder && recipe.head() != HeadKind::Binder {
        bail!(
            "model.head is \"binder\" but the {} recipe trains a CRF head: use --recipe binder or nerco+binder",
            recipe.name()
        );
    }
    Ok(recipe.head())
}

/// The run's opening log lines: data, vocabularies, parameters, and the lattice's coverage.
fn log_setup(
    run: &mut RunDir,
    cfg: &RunConfig,
    meta: &ModelMeta,
    splits: &Splits,
    state: &TrainState,
    params: usize,
    backend: &str,
) {
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
        params,
        backend,
    ));
    if let Some(note) = &splits.note {
        run.log(note);
    }
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
}

/// The model a run starts from: the freshly initialised one (with the pretrained character
/// encoder loaded), or the checkpoint of a resumed run with its optimiser state's path.
fn initial_model(
    mut model: Tagger,
    run: &mut RunDir,
    args: &TrainArgs,
    s: &Start,
    meta: &ModelMeta,
    ad: &Device,
) -> Result<(Tagger, Option<PathBuf>)> {
    if let (true, Some(f)) = (s.resuming, &s.state.model_file) {
        let dir = args.out.join("checkpoint");
        model = load_model(meta, &dir.join(f), ad)?;
        run.log(&format!(
            "resumed {} after epoch {}",
            s.state.phase.name(),
            s.state.epoch
        ));
        return Ok((model, s.state.optim_file.as_ref().map(|f| dir.join(f))));
    }
    if let Some(dir) = &s.cfg.model.char_encoder {
        let bert_cfg = meta.model.char_encoder.as_ref().with_context(|| {
            format!(
                "{} has no character encoder config; start a new run",
                args.out.join("meta.json").display()
            )
        })?;
        model.bert = Some(
            model_core::model::bert::files::load_weights(dir, bert_cfg, ad)
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
    Ok((model, None))
}

pub fn train(args: TrainArgs) -> Result<Metrics> {
    let s = start(&args)?;
    let mut run = RunDir::open(&args.out)?;
    let (splits, meta) = data::load(&s.cfg, s.meta.as_ref(), s.state.seed)?;
    if !s.resuming {
        write_atomic(&run.path("config.toml"), s.cfg.to_toml()?.as_bytes())?;
        write_json(&run.path("meta.json"), &meta)?;
    }
    if s.resuming && (s.state.recipe != args.recipe || s.state.seed != args.seed) {
        run.log(&format!(
            "resuming with the run's own recipe {:?} and seed {}",
            s.state.recipe, s.state.seed
        ));
    }
    let device = args.device.clone();
    device.seed(s.state.seed);
    let ad = device.clone().autodiff();
    let fresh = meta.model.init(&ad);
    log_setup(
        &mut run,
        &s.cfg,
        &meta,
        &splits,
        &s.state,
        fresh.num_params(),
        args.backend.name(),
    );
    let (mut model, mut resume_optim) = initial_model(fresh, &mut run, &args, &s, &meta, &ad)?;
    let mut t = Trainer {
        cfg: &s.cfg,
        meta: &meta,
        splits: &splits,
        run,
        seconds_before: s.state.seconds,
        state: s.state.clone(),
        device: device.clone(),
        constraints: CrfConstraints::new(&meta.tags, &ad),
        gpu: args.backend.is_gpu(),
        ad,
        started: Instant::now(),
    };
    while t.state.phase != Phase::Done {
        model = t.run_phase(model, t.state.phase, resume_optim.take())?;
        t.state.next_phase();
        // The phase switch is a checkpoint too: resuming starts the next phase from the best model.
        t.checkpoint(&model, &make_optimizer(&s.cfg.stage2))?;
    }
    finish(t, args.backend.name())
}

/// The final phase's best model becomes `model.bpk`, scored on dev and test into `metrics.json`.
fn finish(mut t: Trainer, backend: &str) -> Result<Metrics> {
    let phases = t.state.recipe.phases();
    let final_phase = *phases.last().expect("recipe has phases");
    let best = load_model(
        t.meta,
        &t.run.path(&format!("{}.bpk", final_phase.name())),
        &t.device,
    )?;
    save_model(&best, &t.run.path("model.bpk"))?;
    let pipeline = Pipeline::new(t.meta.clone(), &best, &t.device);
    let dev = t.splits.dev.score(&pipeline)?;
    let test = t.splits.test.score(&pipeline)?;
    let seconds = t.seconds_before + t.started.elapsed().as_secs_f64();
    let metrics = Metrics {
        dataset: t.cfg.name.clone(),
        recipe: t.state.recipe,
        seed: t.state.seed,
        backend: backend.to_string(),
        parameters: best.num_params(),
        train_sentences: t.splits.train_sentences,
        phases: phases.iter().filter_map(|&p| t.state.summary(p)).collect(),
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
