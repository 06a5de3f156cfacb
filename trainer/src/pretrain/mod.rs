//! `nerco pretrain`: masked-character pretraining of a BERT character encoder on unlabelled text,
//! written as a Hugging Face directory (`config.json`, `model.safetensors`, `vocab.txt`) that
//! `[model] char_encoder` loads, as `transformers` does.
//!
//! Only training text belongs in the corpus (the default is the train splits in `data/`): dev or
//! test text would leak into model selection and the reported scores.

mod corpus;
mod files;
mod training;

pub use corpus::{DEFAULT_CORPUS, plain_line, read_corpus};

use crate::checkpoint::restore_optimizer;
use crate::progress::Log;
use crate::run_dir::read_json;
use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use corpus::SPECIALS;
use files::{PretrainReport, PretrainState};
use model_core::model::BertConfig;
use model_core::model::mlm::{BertMlm, MaskingSpec};
use model_core::vocab::BertVocab;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use training::Progress;

/// What a pretraining run was asked for; stored with its checkpoint so `--resume` continues the
/// same run.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct PretrainSettings {
    /// Training text (repeatable): CoNLL files (first column; `.gz` too) or `.txt` files of
    /// one paragraph per line (UTF-8 or GB18030; People's Daily `word/POS` annotations are
    /// stripped). Default: the train splits in data/. Never pass dev or test text.
    #[arg(long)]
    pub corpus: Vec<PathBuf>,
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Feed-forward width (default: 4 × hidden).
    #[arg(long)]
    pub intermediate: Option<usize>,
    /// Longest piece in characters; the model gets max_len + 2 positions ([CLS], [SEP]), so
    /// taggers using it need data.max_len ≤ this.
    #[arg(long, default_value_t = 200)]
    pub max_len: usize,
    /// Characters seen fewer times map to [UNK].
    #[arg(long, default_value_t = 2)]
    pub min_freq: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 20000)]
    pub steps: usize,
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Linear warm-up over this fraction of the steps, then linear decay to 0.
    #[arg(long, default_value_t = 0.05)]
    pub warmup: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the directory (and a checkpoint to resume from) every N steps (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    pub save_every: usize,
}

pub struct PretrainArgs {
    pub out: PathBuf,
    pub resume: bool,
    pub settings: PretrainSettings,
    pub device: Device,
}

impl PretrainSettings {
    fn validate(&self) -> Result<()> {
        if self.max_len < 1 || self.batch_size == 0 || self.steps == 0 || !(self.lr > 0.0) {
            bail!("--max-len, --batch-size, --steps and --lr must be positive");
        }
        if !(0.0..=1.0).contains(&self.warmup) {
            bail!("--warmup must be a fraction in [0, 1]");
        }
        Ok(())
    }

    /// The corpus files: those given, or [`DEFAULT_CORPUS`].
    fn corpus_files(&self) -> Vec<PathBuf> {
        if self.corpus.is_empty() {
            DEFAULT_CORPUS.iter().map(PathBuf::from).collect()
        } else {
            self.corpus.clone()
        }
    }
}

/// The model, its configuration and vocabulary, and the optimiser of a run.
struct Setup {
    cfg: BertConfig,
    vocab: BertVocab,
    model: BertMlm,
    optim: ModuleOptimizer,
}

/// Runs a pretraining run into `a.out`, or continues the one there (`a.resume`).
pub fn pretrain(a: PretrainArgs) -> Result<()> {
    let resumed = previous_state(&a)?;
    // A resumed run keeps its own settings, whatever the command line says.
    let st = resumed
        .as_ref()
        .map_or_else(|| a.settings.clone(), |r| r.settings.clone());
    st.validate()?;
    let corpus = st.corpus_files();
    let pieces = corpus::read_pieces(&corpus, st.max_len)?;
    let characters: usize = pieces.iter().map(Vec::len).sum();
    let device = a.device.clone();
    device.seed(st.seed);
    let ad = device.clone().autodiff();
    let optim = AdamWConfig::new()
        .with_weight_decay(st.weight_decay as f32)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let setup = match &resumed {
        Some(_) => load_saved(&a.out, optim, &ad)?,
        None => new_model(&st, &pieces, optim, &ad)?,
    };
    let spec = masking(&setup.vocab)?;
    let (train, held_out) = corpus::hold_out(&pieces, &setup.vocab);
    if train.is_empty() {
        bail!("the corpus is too small to train on");
    }
    std::fs::create_dir_all(a.out.join("checkpoint"))
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut log = Log::open(&a.out.join("pretrain.log"))?;
    let progress = resumed.map_or_else(Progress::default, Progress::from);
    log.line(&setup.describe(
        &corpus,
        characters,
        (train.len(), held_out.len()),
        progress.step,
    ));
    let mut run = training::Run {
        settings: &st,
        out: &a.out,
        cfg: &setup.cfg,
        vocab: &setup.vocab,
        spec,
        train: &train,
        held_out: &held_out,
        device: &device,
        ad: &ad,
        log: &mut log,
        progress,
    };
    let model = run.train(setup.model, setup.optim)?;
    let progress = run.progress;
    let seconds = progress.seconds();
    let report = PretrainReport {
        settings: st.clone(),
        characters,
        pieces: train.len(),
        held_out_pieces: held_out.len(),
        vocab_size: setup.vocab.len(),
        parameters: model.num_params(),
        steps: progress.step,
        seconds,
        characters_per_second: progress.chars_seen as f64 / seconds.max(1e-9),
        log: progress.points,
    };
    crate::run_dir::write_json(&a.out.join("pretrain.json"), &report)?;
    log.line(&format!(
        "done in {seconds:.0}s: {} written (config.json, model.safetensors, vocab.txt)",
        a.out.display()
    ));
    Ok(())
}

impl Setup {
    /// The run's opening log line: data, model size, and where a resumed run continues.
    fn describe(
        &self,
        corpus: &[PathBuf],
        characters: usize,
        (train, held_out): (usize, usize),
        step: usize,
    ) -> String {
        format!(
            "pretrain: {} pieces ({} characters) from {} files, {} held out, vocabulary {}, {} layers × hidden {} × {} heads, {} parameters{}",
            train,
            characters,
            corpus.len(),
            held_out,
            self.vocab.len(),
            self.cfg.num_hidden_layers,
            self.cfg.hidden_size,
            self.cfg.num_attention_heads,
            self.model.num_params(),
            if step > 0 {
                format!("; resumed after step {step}")
            } else {
                String::new()
            }
        )
    }
}

/// The saved state to continue from with `--resume`; otherwise none, and `--out` must not hold a
/// model already.
fn previous_state(a: &PretrainArgs) -> Result<Option<PretrainState>> {
    let state_path = files::state_path(&a.out);
    if a.resume && state_path.exists() {
        return Ok(Some(read_json(&state_path)?));
    }
    if a.out.join("config.json").exists() {
        bail!(
            "{} already holds a model; pass --resume to continue it or choose another --out",
            a.out.display()
        );
    }
    Ok(None)
}

/// The model, vocabulary and optimiser state of the last save in `out`.
fn load_saved(out: &Path, optim: ModuleOptimizer, ad: &Device) -> Result<Setup> {
    let (cfg, vocab) = model_core::model::bert::files::read_config(out)?;
    let path = out.join("model.safetensors");
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = cfg
        .load_mlm(&bytes, ad)
        .with_context(|| path.display().to_string())?;
    let optim = restore_optimizer(optim, &files::optimizer_path(out))?;
    Ok(Setup {
        cfg,
        vocab,
        model,
        optim,
    })
}

/// A fresh model of the settings' shape over the vocabulary of `pieces`.
fn new_model(
    st: &PretrainSettings,
    pieces: &[Vec<char>],
    optim: ModuleOptimizer,
    ad: &Device,
) -> Result<Setup> {
    let vocab = corpus::build_vocab(pieces, st.min_freq)?;
    let cfg = BertConfig::new(
        vocab.len(),
        st.hidden,
        st.layers,
        st.heads,
        st.intermediate.unwrap_or(4 * st.hidden),
        st.max_len + 2,
    );
    cfg.validate()?;
    let model = cfg.init_mlm(ad);
    Ok(Setup {
        cfg,
        vocab,
        model,
        optim,
    })
}

/// BERT's masking: 15 % of the characters, replacements drawn from the non-special ids.
fn masking(vocab: &BertVocab) -> Result<MaskingSpec> {
    let mask_id = vocab.mask.context("the vocabulary has no [MASK]")?;
    Ok(MaskingSpec {
        mask_id,
        random_from: SPECIALS.len(),
        vocab_size: vocab.len(),
        prob: 0.15,
    })
}
