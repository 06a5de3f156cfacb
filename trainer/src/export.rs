//! `nerco export` (the web bundle) and `nerco embed` (token embeddings for the viewer).
//!
//! A bundle directory holds:
//! - `meta.json`: [`ModelMeta`] (config, vocabularies, tag set, max length);
//! - `weights.bpk`: the tagger's weights (burnpack);
//! - `metrics.json`: the run's metrics;
//! - `bundle.json`: the bundle's precision, bigram count, size and its own test F1;
//! - `embeddings.json` + `emb-<view>.f16`: encoder outputs for a sample of test tokens from up to
//!   three models (`baseline` = no-contrast, `stage1` = NerCo after stage 1, `stage2` = NerCo
//!   final), little-endian f16, `tokens × dim` row-major, with each token's char, gold tag and
//!   Semantic Class;
//! - `live-sample.json`: the page's live-training sample (`--live-train` short training sentences
//!   and `--live-held-out` test sentences, with tags), read only when the "Train live" panel opens.

use crate::config::RunConfig;
use crate::data::{Gold, read_gold};
use crate::run_dir::{write_atomic, write_json};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;
use model_core::batch::{Example, flat_spans};
use model_core::data::{Scheme, Sentence, read_conll, semantic_class, spans_to_tags};
use model_core::host::tensor_values;
use model_core::infer::forward::encode_buckets;
use model_core::infer::load::{load_tagger as load_model, read_meta};
use model_core::model::Tagger;
use model_core::pipeline::{ModelMeta, Pipeline, split_long};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
pub struct TokenInfo {
    /// Sentence index within the sample.
    pub sentence: usize,
    pub position: usize,
    pub char: String,
    pub tag: String,
    /// Semantic Class ("Non-Entity" for O).
    pub class: String,
}

#[derive(Serialize)]
pub struct ViewInfo {
    pub name: String,
    pub file: String,
    pub source: String,
}

#[derive(Serialize)]
pub struct EmbeddingIndex {
    pub dim: usize,
    pub sentences: Vec<String>,
    pub tokens: Vec<TokenInfo>,
    pub views: Vec<ViewInfo>,
}

/// A deterministic sample: the first sentences of `data` (pieces ≤ max_len) until `max_tokens`.
pub fn sample(data: &[Sentence], max_len: usize, max_tokens: usize) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut total = 0;
    for s in data {
        let mut start = 0;
        for p in split_long(&s.chars, max_len) {
            if total + p.len() > max_tokens {
                return out;
            }
            out.push(Sentence {
                chars: p.to_vec(),
                tags: s.tags[start..start + p.len()].to_vec(),
                line: s.line,
            });
            total += p.len();
            start += p.len();
        }
    }
    out
}

/// Encoder outputs of every token of `sentences`, `tokens × dim`, row-major, in sentence order.
pub fn embed(
    model: &Tagger,
    meta: &ModelMeta,
    sentences: &[Sentence],
    device: &Device,
) -> Vec<f32> {
    let model = model.valid();
    let examples: Vec<Example> = sentences
        .iter()
        .map(|s| Example::unlabelled(&s.chars, &meta.vocabs))
        .collect();
    let d = meta.model.hyper.d_model;
    let mut rows: Vec<Vec<f32>> = vec![Vec::new(); examples.len()];
    for bucket in encode_buckets(&model, &examples, 32, device) {
        let values = tensor_values(bucket.reps.clone());
        for (i, r) in bucket.rows(&values, d) {
            rows[i] = r.to_vec();
        }
    }
    rows.concat()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| burn::tensor::f16::from_f32(x).to_le_bytes())
        .collect()
}

pub struct ExportArgs<'a> {
    pub run: &'a Path,
    pub out: &'a Path,
    pub baseline: Option<&'a Path>,
    pub sample_tokens: usize,
    /// Store the weights as f16.
    pub half: bool,
    /// Keep only the most frequent bigrams (the rest read as unknown).
    pub max_bigrams: Option<usize>,
    /// FLAT: keep only the most frequent lexicon words (the rest are no longer matched).
    pub max_words: Option<usize>,
    /// Training and held-out sentences of the live-training sample (0 training: none).
    pub live: (usize, usize),
}

/// What the bundle's own weights score on the test set, next to the run's model: the cost of
/// f16 and of bigram pruning, measured at every export.
#[derive(Serialize)]
struct BundleInfo {
    weights: &'static str,
    bigrams: usize,
    bigrams_in_run: usize,
    /// FLAT: lexicon words in the bundle and in the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    words: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    words_in_run: Option<usize>,
    weights_bytes: usize,
    test_f1_run: f64,
    test_f1_bundle: f64,
}

pub fn export(a: ExportArgs, device: &Device) -> Result<()> {
    let meta = read_meta(a.run)?;
    let weights = a.run.join("model.bpk");
    if !weights.exists() {
        bail!("{} has no model.bpk: finish the run first", a.run.display());
    }
    std::fs::create_dir_all(a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let run_model = load_model(&meta, &weights, device)?;
    let (bundle_meta, model) = pruned(&a, &meta, run_model.clone())?;
    // Half precision halves the page weight; `weights::load` casts back to f32.
    let bytes = model_core::weights::to_bytes(&model, a.half)?;
    let cfg = RunConfig::load(&a.run.join("config.toml"))?;
    let binder = meta.model.binder.is_some();
    let gold = read_gold(&cfg.data.test, &cfg.data, meta.tags.scheme, binder)?;
    let run_report = gold.score(&Pipeline::new(meta.clone(), &run_model, device))?;
    let bundle = Pipeline::from_bytes(bundle_meta.clone(), bytes.clone(), device)
        .context("reloading the bundle's weights")?;
    let bundle_report = gold.score(&bundle)?;
    let test = view_sentences(&gold, meta.tags.scheme);
    let info = BundleInfo {
        weights: if a.half { "f16" } else { "f32" },
        bigrams: bundle_meta.model.n_bigrams,
        bigrams_in_run: meta.model.n_bigrams,
        words: bundle_meta.model.lattice.as_ref().map(|l| l.n_words - 2),
        words_in_run: meta.model.lattice.as_ref().map(|l| l.n_words - 2),
        weights_bytes: bytes.len(),
        test_f1_run: run_report.overall.f1,
        test_f1_bundle: bundle_report.overall.f1,
    };
    eprintln!(
        "bundle weights {} ({} bytes, {} of {} bigrams): test F1 {:.2} (run's model {:.2})",
        info.weights,
        info.weights_bytes,
        info.bigrams,
        info.bigrams_in_run,
        info.test_f1_bundle,
        info.test_f1_run
    );
    write_json(&a.out.join("meta.json"), &bundle_meta)?;
    write_atomic(&a.out.join("weights.bpk"), &bytes)?;
    write_json(&a.out.join("bundle.json"), &info)?;
    if let Ok(m) = std::fs::read(a.run.join("metrics.json")) {
        write_atomic(&a.out.join("metrics.json"), &m)?;
    }
    if a.live.0 > 0 {
        // Tagged sentences (a span file's outermost entities): the live trainer trains a CRF.
        let train = read_gold(&cfg.data.train, &cfg.data, meta.tags.scheme, binder)?;
        write_live_sample(&a, &meta, &view_sentences(&train, meta.tags.scheme), &test)?;
    }
    write_views(&a, &meta, &test, device)
}

/// The viewer's sample sentences with tags: a split's tagged sentences, or span sentences with
/// the tags of their flat projection (outermost entities, [`flat_spans`]).
fn view_sentences(gold: &Gold, scheme: Scheme) -> Vec<Sentence> {
    match gold {
        Gold::Tags(s) => s.clone(),
        Gold::Spans(s) => s
            .iter()
            .map(|x| Sentence {
                chars: x.chars.clone(),
                tags: spans_to_tags(&flat_spans(&x.spans), x.chars.len(), scheme),
                line: x.line,
            })
            .collect(),
    }
}

/// Longest sentence of the live sample: short sentences keep the page's steps fast.
const LIVE_MAX_CHARS: usize = 60;

/// One sentence of `live-sample.json` (the web crate's `live::SampleSentence`).
#[derive(Serialize)]
struct LiveSentence {
    text: String,
    /// One tag per character in the model's scheme, space-separated.
    tags: String,
}

/// The first `n` sentences of `data` of at most [`LIVE_MAX_CHARS`] characters that have an
/// entity, tags in `scheme`.
fn live_sentences(
    data: &[Sentence],
    n: usize,
    scheme: model_core::data::Scheme,
) -> Vec<LiveSentence> {
    data.iter()
        .filter(|s| s.chars.len() <= LIVE_MAX_CHARS && s.tags.iter().any(|t| t != "O"))
        .take(n)
        .map(|s| LiveSentence {
            text: s.chars.iter().collect(),
            tags: model_core::data::convert_tags(&s.tags, scheme).join(" "),
        })
        .collect()
}

/// The live sample as JSON: the first `n.0` short training sentences with an entity and the
/// first `n.1` of `test` ([`LIVE_MAX_CHARS`]), tags in `scheme`.
pub fn live_sample(
    train: &[Sentence],
    test: &[Sentence],
    n: (usize, usize),
    scheme: model_core::data::Scheme,
) -> serde_json::Value {
    serde_json::json!({
        "scheme": scheme,
        "train": live_sentences(train, n.0, scheme),
        "held_out": live_sentences(test, n.1, scheme),
    })
}

/// `live-sample.json`: what the page's "Train live" panel trains on and plots, loaded only when
/// the panel opens (the web crate's `live::LiveSample`).
fn write_live_sample(
    a: &ExportArgs,
    meta: &ModelMeta,
    train: &[Sentence],
    test: &[Sentence],
) -> Result<()> {
    let sample = live_sample(train, test, a.live, meta.tags.scheme);
    let text = serde_json::to_string(&sample)?;
    write_atomic(&a.out.join("live-sample.json"), text.as_bytes())?;
    eprintln!("live-training sample: {} bytes", text.len());
    Ok(())
}

/// The bundle's metadata and model: the run's, with `--max-bigrams` / `--max-words` applied.
fn pruned(a: &ExportArgs, meta: &ModelMeta, mut model: Tagger) -> Result<(ModelMeta, Tagger)> {
    let mut bundle_meta = meta.clone();
    if let Some(n) = a.max_bigrams {
        bundle_meta.vocabs.bigrams = meta.vocabs.bigrams.truncated(n);
        bundle_meta.model.n_bigrams = bundle_meta.vocabs.bigrams.len();
        model.embed = model.embed.keep_bigrams(bundle_meta.model.n_bigrams);
    }
    if let Some(n) = a.max_words {
        let (Some(words), Some(lattice), Some(emb)) = (
            &meta.vocabs.words,
            bundle_meta.model.lattice.as_mut(),
            model.words.take(),
        ) else {
            bail!("--max-words: {} is not a FLAT run", a.run.display());
        };
        let kept = words.truncated(n);
        lattice.n_words = kept.len();
        model.words = Some(emb.keep_words(kept.len()));
        bundle_meta.vocabs.words = Some(kept);
    }
    Ok((bundle_meta, model))
}

/// The viewer's data: a sample of test tokens with their tags and Semantic Classes
/// (`embeddings.json`), and their encoder outputs under each view's weights (`emb-*.f16`: the
/// baseline run's, stage 1's, and the final model's).
fn write_views(a: &ExportArgs, meta: &ModelMeta, test: &[Sentence], device: &Device) -> Result<()> {
    let sentences = sample(test, meta.max_len, a.sample_tokens);
    let mut views: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    if let Some(b) = a.baseline {
        views.push(("baseline".into(), b.to_path_buf(), b.join("model.bpk")));
    }
    if a.run.join("stage1.bpk").exists() {
        views.push((
            "stage1".into(),
            a.run.to_path_buf(),
            a.run.join("stage1.bpk"),
        ));
    }
    views.push((
        "stage2".into(),
        a.run.to_path_buf(),
        a.run.join("model.bpk"),
    ));
    let mut index = EmbeddingIndex {
        dim: meta.model.hyper.d_model,
        sentences: sentences.iter().map(|s| s.chars.iter().collect()).collect(),
        tokens: token_infos(&sentences),
        views: Vec::new(),
    };
    for (name, run, file) in views {
        let vmeta = read_meta(&run)?;
        let model = load_model(&vmeta, &file, device)?;
        let v = embed(&model, &vmeta, &sentences, device);
        let fname = format!("emb-{name}.f16");
        write_atomic(&a.out.join(&fname), &f16_bytes(&v))?;
        index.views.push(ViewInfo {
            name,
            file: fname,
            source: file.display().to_string(),
        });
    }
    // Compact: the page downloads it.
    write_atomic(
        &a.out.join("embeddings.json"),
        serde_json::to_string(&index)?.as_bytes(),
    )?;
    eprintln!(
        "exported {} to {}: {} sample tokens, views {:?}",
        a.run.display(),
        a.out.display(),
        index.tokens.len(),
        index
            .views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// Each sample token's sentence, position, character, tag and Semantic Class.
fn token_infos(sentences: &[Sentence]) -> Vec<TokenInfo> {
    sentences
        .iter()
        .enumerate()
        .flat_map(|(k, s)| {
            s.chars
                .iter()
                .zip(&s.tags)
                .enumerate()
                .map(move |(i, (c, t))| TokenInfo {
                    sentence: k,
                    position: i,
                    char: c.to_string(),
                    tag: t.clone(),
                    class: semantic_class(t).unwrap_or("Non-Entity").to_string(),
                })
        })
        .collect()
}

/// `nerco embed`: token embeddings of a CoNLL file as JSON Lines `{"char","tag","class","vector"}`.
pub fn embed_cmd(
    run: &Path,
    model_file: &str,
    data: &Path,
    max_tokens: usize,
    device: &Device,
) -> Result<()> {
    let meta = read_meta(run)?;
    let model = load_model(&meta, &run.join(model_file), device)?;
    let sentences = sample(&read_conll(data)?, meta.max_len, max_tokens);
    let v = embed(&model, &meta, &sentences, device);
    let d = meta.model.hyper.d_model;
    let mut k = 0;
    for s in &sentences {
        for (c, t) in s.chars.iter().zip(&s.tags) {
            let line = serde_json::json!({
                "char": c.to_string(), "tag": t, "class": semantic_class(t).unwrap_or("Non-Entity"),
                "vector": &v[k * d..(k + 1) * d],
            });
            println!("{line}");
            k += 1;
        }
    }
    Ok(())
}
