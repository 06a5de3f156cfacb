//! The page's live trainer (web crate, `train` feature) trains exactly as `nerco train`: the same
//! sample, config and seed give the same loss in every epoch, for stage 1 (`nerco`) and for the
//! tag-only phase (`no-contrast`); and stage 1 pulls the Semantic Classes together.

use burn::prelude::*;
use model_core::data::read_conll;
use model_core::train::Recipe;
use nerco_web::live::{LiveConfig, LiveSample, LiveTrainer, SampleSentence};
use std::path::PathBuf;
use std::sync::Mutex;
use trainer::train::{TrainArgs, train};

const STAGE: &str =
    "epochs = 3\nbatch_size = 5\nlr = 3e-3\ntau = 0.1\npatience = 10\nwarmup = 0.1\n";
const MODEL: &str = "char_dim = 16\nbigram_dim = 16\nd_model = 32\nn_heads = 4\nn_layers = 1\n\
     ff_mult = 2\ndropout_embed = 0.1\ndropout_ff = 0.0\ndropout_residual = 0.0\ndropout_out = 0.0\n";

/// Burn's CPU backend seeds one random stream per process: runs in parallel test threads would
/// draw each other's dropout masks, so every training run here holds this lock.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/resume-tiny.char.bmes")
}

/// The fixture's sentences as a live sample (the first five also held out).
fn sample() -> LiveSample {
    let s: Vec<SampleSentence> = read_conll(&fixture())
        .unwrap()
        .into_iter()
        .map(|s| SampleSentence {
            text: s.chars.iter().collect(),
            tags: s.tags.join(" "),
        })
        .collect();
    LiveSample {
        scheme: "bmes".into(),
        held_out: s[..5].to_vec(),
        train: s,
    }
}

fn live_config() -> LiveConfig {
    let text = format!("token_dropout = 0.1\n[model]\n{MODEL}[stage]\n{STAGE}");
    toml::from_str(&text).unwrap()
}

/// `nerco train` on the fixture with the live config as both stages; the epochs' train losses of
/// its first phase.
fn trainer_losses(recipe: Recipe, seed: u64) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture().display().to_string();
    let cfg = format!(
        "name = \"live\"\n[data]\ntrain = \"{f}\"\ndev = \"{f}\"\ntest = \"{f}\"\nscheme = \"bmes\"\n\
         max_len = 500\ntoken_dropout = 0.1\n[model]\n{MODEL}[stage1]\n{STAGE}[stage2]\n{STAGE}"
    );
    let path = dir.path().join("live.toml");
    std::fs::write(&path, cfg).unwrap();
    let m = train(TrainArgs {
        config: Some(path),
        recipe,
        seed,
        out: dir.path().join("run"),
        resume: false,
        device: Device::flex(),
        backend: trainer::backend::Backend::Cpu,
    })
    .unwrap();
    let first = recipe.phases()[0];
    m.history
        .iter()
        .filter(|e| e.phase == first)
        .map(|e| e.train_loss)
        .collect()
}

/// The live trainer's mean loss per epoch over a whole run, stepped in uneven chunks.
fn live_losses(recipe: Recipe, seed: u64) -> Vec<f64> {
    let mut t = LiveTrainer::new(&sample(), live_config(), recipe, seed, &Device::flex()).unwrap();
    let mut reports = Vec::new();
    for n in [1, 4, 2, 7].iter().cycle() {
        let r = t.step(*n).unwrap();
        if r.is_empty() {
            break;
        }
        reports.extend(r);
    }
    assert!(t.finished());
    assert_eq!(reports.len(), t.total_steps());
    (0..3)
        .map(|e| {
            let v: Vec<f64> = reports
                .iter()
                .filter(|r| r.epoch == e)
                .filter_map(|r| r.loss)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect()
}

fn assert_same(live: &[f64], trainer: &[f64]) {
    assert_eq!(live.len(), trainer.len(), "{live:?} vs {trainer:?}");
    for (a, b) in live.iter().zip(trainer) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{live:?} vs {trainer:?}");
    }
}

#[test]
fn the_live_trainer_reproduces_nerco_trains_stage1_losses() {
    let _one = lock();
    assert_same(
        &live_losses(Recipe::Nerco, 7),
        &trainer_losses(Recipe::Nerco, 7),
    );
}

#[test]
fn the_live_trainer_reproduces_nerco_trains_no_contrast_losses() {
    let _one = lock();
    assert_same(
        &live_losses(Recipe::NoContrast, 7),
        &trainer_losses(Recipe::NoContrast, 7),
    );
}

#[test]
fn stage1_raises_the_held_out_quality_and_points_cover_every_token() {
    let _one = lock();
    let s = sample();
    let mut cfg = live_config();
    cfg.stage.epochs = 8;
    let mut t = LiveTrainer::new(&s, cfg, Recipe::Nerco, 3, &Device::flex()).unwrap();
    let before = t.points(false).held_out_quality().unwrap();
    t.step(usize::MAX).unwrap();
    let p = t.points(true);
    let after = p.held_out_quality().unwrap();
    assert!(
        after.knn_purity > before.knn_purity + 0.2 && after.silhouette > before.silhouette,
        "{before:?} → {after:?}"
    );
    let chars = |l: &[SampleSentence]| l.iter().map(|x| x.text.chars().count()).sum::<usize>();
    let n = chars(&s.held_out) + chars(&s.train);
    assert_eq!((p.values.len(), p.classes.len()), (n * p.dim, n));
    assert_eq!(p.train.iter().filter(|&&x| !x).count(), chars(&s.held_out));
    // Training on, after the run: nothing left.
    assert!(t.step(5).unwrap().is_empty());
}

#[test]
fn bad_samples_and_configs_are_errors_not_panics() {
    let mut s = sample();
    s.train[0].tags = "O".into();
    let dev = Device::flex();
    let err = |s: &LiveSample, c: LiveConfig, r| LiveTrainer::new(s, c, r, 1, &dev).err();
    assert!(err(&s, live_config(), Recipe::Nerco).is_some_and(|e| e.to_string().contains("tags")));
    let mut c = live_config();
    c.stage.batch_size = 0;
    assert!(err(&sample(), c, Recipe::Nerco).is_some());
    assert!(err(&sample(), live_config(), Recipe::Joint).is_some());
    let mut o = sample();
    for x in &mut o.train {
        x.tags = x.tags.split(' ').map(|_| "O").collect::<Vec<_>>().join(" ");
    }
    assert!(err(&o, live_config(), Recipe::Nerco).is_some());
}
