//! Training live in the page: a small tagger of the same architecture, with its own vocabulary
//! and tag set built from a bundle's training sample, trained a few steps at a time by
//! model-core's shared epoch driver ([`model_core::train::Epoch`], the loop `nerco train` runs),
//! so the page watches the real step, not a re-implementation. Free of JavaScript types: it runs
//! and is tested natively; `bindings.rs` wraps it for the Web Worker.
//!
//! One `LiveTrainer` trains one recipe: `nerco` runs stage 1 (Semantic-Class InfoNCE),
//! `no-contrast` runs the tag-only phase (CRF loss) from the same seed. The page runs the two in
//! two workers: dropout draws from the device's random stream, which two interleaved runs would
//! share.

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use model_core::batch::Example;
use model_core::config::{EncoderKind, ModelConfig};
use model_core::data::{Scheme, Sentence, convert_tags};
use model_core::infer::forward::encode_buckets;
use model_core::model::{CrfConstraints, Tagger};
use model_core::quality::{ClusterQuality, QualityError, cluster_quality};
use model_core::tags::{NON_ENTITY, TagSet};
use model_core::train::{
    Epoch, EpochAt, Frozen, LossSetup, Phase, Recipe, StageConfig, StepRates, make_optimizer,
};
use model_core::vocab::Vocabs;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the training sample: {0}")]
    Sample(String),
    #[error("the live config: {0}")]
    Config(String),
    #[error("the live trainer runs `nerco` (stage 1) or `no-contrast`, not `{0}`")]
    Recipe(String),
    #[error("step {step}: the loss became {value}; lower the learning rate")]
    Diverged { step: usize, value: f64 },
    #[error(transparent)]
    Quality(#[from] QualityError),
}

/// One sentence of the sample: its text and one tag per character, space-separated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleSentence {
    pub text: String,
    pub tags: String,
}

/// What `nerco export` writes as a bundle's `live-sample.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveSample {
    /// The tag scheme of `tags` (the model's: "bmes", "bioes", "bio").
    pub scheme: String,
    pub train: Vec<SampleSentence>,
    /// Sentences the model never trains on; their tokens are what the page plots.
    pub held_out: Vec<SampleSentence>,
}

/// The live model and its training: `model` is a `[model]` table, `stage` a `[stage1]` table
/// of a run config (the no-contrast run uses the same stage settings).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveConfig {
    pub model: ModelConfig,
    pub stage: StageConfig,
    #[serde(default)]
    pub token_dropout: f64,
    #[serde(default = "one")]
    pub char_min_freq: usize,
    #[serde(default = "one")]
    pub bigram_min_freq: usize,
}

fn one() -> usize {
    1
}

impl LiveConfig {
    /// The page's live model: d_model 64, 4 heads, 50-wide character and bigram embeddings,
    /// feed-forward ×2, AdamW at 2e-3, 5 epochs of 20 sentences (measured in docs/WEB.md: on
    /// 300 Resume sentences stage 1 separates the classes in seconds, and a step takes tens of
    /// milliseconds in wasm).
    pub fn demo() -> Self {
        // Some of the stage's fields are model-core's own: set the public ones on its defaults.
        let mut stage = StageConfig::stage1();
        (stage.epochs, stage.batch_size, stage.lr) = (5, 20, 2e-3);
        Self {
            model: ModelConfig {
                char_dim: 50,
                bigram_dim: 50,
                d_model: 64,
                n_heads: 4,
                n_layers: 1,
                ff_mult: 2,
                dropout_embed: 0.1,
                dropout_ff: 0.0,
                dropout_residual: 0.0,
                dropout_out: 0.0,
                ..ModelConfig::default()
            },
            stage,
            token_dropout: 0.0,
            char_min_freq: 1,
            bigram_min_freq: 1,
        }
    }
}

/// One step's report: the global step (1-based), its epoch (0-based) and its loss (`None` for a
/// batch with nothing to learn from).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub epoch: usize,
    pub loss: Option<f64>,
}

/// Representations of the sample's tokens: `tokens × dim`, row-major, held-out sentences first,
/// each token's Semantic Class id and tag id (names in [`LiveTrainer::class_names`] and
/// [`LiveTrainer::tag_names`]), and whether it is a training token.
pub struct Points {
    pub dim: usize,
    pub values: Vec<f32>,
    pub classes: Vec<usize>,
    pub tags: Vec<usize>,
    pub train: Vec<bool>,
}

impl Points {
    /// kNN purity (k = 10) and cosine silhouette of the held-out tokens over Semantic Classes
    /// ([`model_core::quality`], what `stage1.select` and the page's viewer use).
    pub fn held_out_quality(&self) -> Result<ClusterQuality, QualityError> {
        let n = self.train.iter().filter(|&&t| !t).count();
        cluster_quality(
            &self.values[..n * self.dim],
            self.dim,
            &self.classes[..n],
            Some(NON_ENTITY),
            10,
        )
    }
}

/// A small tagger trained step by step on a sample (see the module's note).
pub struct LiveTrainer {
    cfg: LiveConfig,
    phase: Phase,
    recipe: Recipe,
    seed: u64,
    tags: TagSet,
    vocabs: Vocabs,
    train: Vec<Example>,
    held_out: Vec<Example>,
    device: Device,
    constraints: CrfConstraints,
    /// `None` only while a step owns it.
    model: Option<Tagger>,
    optim: ModuleOptimizer,
    epoch: Option<(Epoch, Frozen)>,
    epochs_done: usize,
    steps: usize,
}

fn sentences(list: &[SampleSentence], scheme: Scheme) -> Result<Vec<Sentence>, LiveError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let chars: Vec<char> = s.text.chars().collect();
            let tags: Vec<&str> = s.tags.split_whitespace().collect();
            if chars.is_empty() || chars.len() != tags.len() {
                return Err(LiveError::Sample(format!(
                    "sentence {i} has {} characters and {} tags",
                    chars.len(),
                    tags.len()
                )));
            }
            Ok(Sentence {
                chars,
                tags: convert_tags(&tags, scheme),
                line: i + 1,
            })
        })
        .collect()
}

/// `sentences` as examples of `tags`; tags the set lacks (types unseen in training) become `O`,
/// as `nerco train` treats dev.
fn encode(sentences: &[Sentence], vocabs: &Vocabs, tags: &TagSet) -> Vec<Example> {
    sentences
        .iter()
        .map(|s| Example::labelled_known(s, vocabs, tags))
        .collect()
}

impl LiveTrainer {
    /// A fresh model for `recipe` (`nerco`: stage 1; `no-contrast`: the tag-only phase) on
    /// `device` (the plain device; training runs on its autodiff form), initialised from `seed`
    /// as `nerco train --seed` does.
    pub fn new(
        sample: &LiveSample,
        cfg: LiveConfig,
        recipe: Recipe,
        seed: u64,
        device: &Device,
    ) -> Result<Self, LiveError> {
        let phase = match recipe {
            Recipe::Nerco => Phase::Contrast,
            Recipe::NoContrast => Phase::Tagging,
            other => return Err(LiveError::Recipe(other.name().into())),
        };
        cfg.model
            .validate()
            .map_err(|e| LiveError::Config(e.to_string()))?;
        // A stage-1 table: stage 2's options for keeping stage 1 have no place here.
        cfg.stage.validate("stage1").map_err(LiveError::Config)?;
        if cfg.stage.epochs == 0 || cfg.stage.head_only_epochs > 0 {
            return Err(LiveError::Config(
                "stage.epochs must be positive and stage.head_only_epochs 0".into(),
            ));
        }
        // The sample carries no lexicon or pretrained encoder: a plain encoder only.
        if cfg.model.encoder != EncoderKind::Plain || cfg.model.char_encoder.is_some() {
            return Err(LiveError::Config(
                "the live model has a plain encoder".into(),
            ));
        }
        let scheme: Scheme = sample
            .scheme
            .parse()
            .map_err(|e: model_core::data::UnknownScheme| LiveError::Sample(e.to_string()))?;
        let train = sentences(&sample.train, scheme)?;
        let held_out = sentences(&sample.held_out, scheme)?;
        let vocabs = Vocabs::build(
            train.iter().map(|s| s.chars.as_slice()),
            cfg.char_min_freq,
            cfg.bigram_min_freq,
        );
        let tags = TagSet::from_tag_sequences(scheme, train.iter().map(|s| s.tags.as_slice()));
        if tags.types.is_empty() {
            return Err(LiveError::Sample(
                "the training sentences have no entity".into(),
            ));
        }
        let tagger = cfg
            .model
            .tagger(vocabs.chars.len(), vocabs.bigrams.len(), tags.len());
        // The order `nerco train` seeds and initialises in, so both start from the same model.
        device.seed(seed);
        let ad = device.clone().autodiff();
        let model = tagger.init(&ad);
        Ok(Self {
            constraints: CrfConstraints::new(&tags, &ad),
            optim: make_optimizer(&cfg.stage),
            train: encode(&train, &vocabs, &tags),
            held_out: encode(&held_out, &vocabs, &tags),
            cfg,
            phase,
            recipe,
            seed,
            tags,
            vocabs,
            device: ad,
            model: Some(model),
            epoch: None,
            epochs_done: 0,
            steps: 0,
        })
    }
}

impl LiveTrainer {
    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Steps in the whole run (every epoch of the stage).
    pub fn total_steps(&self) -> usize {
        self.cfg.stage.epochs * self.train.len().div_ceil(self.cfg.stage.batch_size.max(1))
    }

    /// The epoch the next step belongs to (0-based; `epochs` once the run is over).
    pub fn epoch(&self) -> usize {
        self.epochs_done
    }

    pub fn finished(&self) -> bool {
        self.epochs_done >= self.cfg.stage.epochs
    }

    pub fn recipe(&self) -> Recipe {
        self.recipe
    }

    /// Semantic Class names by id (`Non-Entity` first).
    pub fn class_names(&self) -> Vec<String> {
        (0..self.tags.n_classes())
            .map(|c| self.tags.class_name(c).to_string())
            .collect()
    }

    pub fn tag_names(&self) -> &[String] {
        &self.tags.tags
    }

    /// Characters and bigrams of the model's own vocabulary (built from the training sample).
    pub fn vocab_sizes(&self) -> (usize, usize) {
        (self.vocabs.chars.len(), self.vocabs.bigrams.len())
    }

    pub fn num_params(&self) -> usize {
        self.model.as_ref().map_or(0, Module::num_params)
    }

    /// Advance up to `n` steps (fewer when the run ends), through the epochs `nerco train` would
    /// run with the same seed, config and sample; the reports of the steps taken.
    pub fn step(&mut self, n: usize) -> Result<Vec<StepReport>, LiveError> {
        let mut out = Vec::with_capacity(n.min(self.total_steps()));
        while out.len() < n && !self.finished() {
            match self.one_step()? {
                Some(r) => out.push(r),
                None => {
                    // The epoch ran out: the next call starts the next one.
                    self.epoch = None;
                    self.epochs_done += 1;
                }
            }
        }
        Ok(out)
    }

    /// The next step of the current epoch (starting it if needed); `None` at its end.
    fn one_step(&mut self) -> Result<Option<StepReport>, LiveError> {
        let model = self
            .model
            .take()
            .expect("the model is back after every step");
        if self.epoch.is_none() {
            let at = EpochAt {
                phase: self.phase,
                epoch: self.epochs_done,
                run_seed: self.seed,
                first_step: self.steps,
            };
            let e = Epoch::new(
                &self.train,
                &self.cfg.stage,
                at,
                self.cfg.token_dropout,
                &self.device,
            );
            self.epoch = Some((e, Frozen::new(&model, false, false)));
        }
        let (epoch, frozen) = self.epoch.as_mut().expect("started above");
        let setup = LossSetup {
            phase: self.phase,
            tau: self.cfg.stage.tau,
            queries: self.recipe.queries(),
            contrast_weight: 0.0,
            constraints: &self.constraints,
            // The page trains on the wasm CPU backend (Flex), where the host NLL is the fast one.
            crf_on_host: true,
        };
        if epoch.done() == epoch.len() {
            self.model = Some(model);
            return Ok(None);
        }
        let (model, loss) = epoch
            .next_step(
                model,
                &mut self.optim,
                frozen,
                &setup,
                &self.train,
                StepRates::uniform,
            )
            .expect("a step is left in the epoch");
        self.model = Some(model);
        self.steps += 1;
        if let Some(value) = loss.filter(|v| !v.is_finite()) {
            return Err(LiveError::Diverged {
                step: self.steps,
                value,
            });
        }
        Ok(Some(StepReport {
            step: self.steps,
            epoch: self.epochs_done,
            loss,
        }))
    }

    /// The encoder's outputs (without dropout) for the held-out tokens, then, with
    /// `with_train`, the training tokens.
    pub fn points(&self, with_train: bool) -> Points {
        let model = self
            .model
            .as_ref()
            .expect("the model is back after every step")
            .valid();
        let device = self.device.clone().inner();
        let mut p = Points {
            dim: self.cfg.model.d_model,
            values: Vec::new(),
            classes: Vec::new(),
            tags: Vec::new(),
            train: Vec::new(),
        };
        let sets: &[(&[Example], bool)] = if with_train {
            &[(&self.held_out, false), (&self.train, true)]
        } else {
            &[(&self.held_out, false)]
        };
        for &(examples, is_train) in sets {
            let mut rows: Vec<Option<Vec<f32>>> = vec![None; examples.len()];
            for bucket in encode_buckets(&model, examples, self.cfg.stage.batch_size, &device) {
                let values = model_core::host::tensor_values(bucket.reps.clone());
                for (i, r) in bucket.rows(&values, p.dim) {
                    rows[i] = Some(r.to_vec());
                }
            }
            for (ex, r) in examples.iter().zip(rows) {
                p.values.extend(r.expect("every example is in a bucket"));
                p.classes.extend(&ex.classes);
                p.tags.extend(&ex.tags);
                p.train.extend(std::iter::repeat_n(is_train, ex.len()));
            }
        }
        p
    }
}
