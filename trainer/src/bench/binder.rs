//! Suite `binder`: what Binder's span head costs against the CRF head when tagging, on the same
//! encoder (`configs/resume.toml`, random weights: speed does not depend on them) and Resume's
//! test sentences: `Pipeline::entities` with each head (device forward, one read-back per batch,
//! host decoding: Viterbi for the CRF; threshold, then greedy flat decoding for Binder).

use super::timing::{REPS, median};
use crate::config::RunConfig;
use crate::data;
use crate::machine::load_avg;
use anyhow::Result;
use burn::prelude::*;
use model_core::config::HeadKind;
use model_core::pipeline::Pipeline;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Sentences per forward pass (the pipeline's batch).
const BATCH: usize = 32;

pub fn run(device: &Device) -> Result<String> {
    let cfg = RunConfig::load(Path::new("configs/resume.toml"))?;
    let (_, crf_meta) = data::load(&cfg, None, 0)?;
    // The Binder model of the same data: K from the longest training entity, as a run picks it.
    let mut binder_cfg = cfg.clone();
    binder_cfg.model.head = HeadKind::Binder;
    let (_, binder_meta) = data::load(&binder_cfg, None, 0)?;
    let k = binder_meta
        .model
        .binder
        .as_ref()
        .map_or(0, |b| b.max_span_len);
    let sentences: Vec<Vec<char>> = model_core::data::read_conll(&cfg.data.test)?
        .into_iter()
        .map(|s| s.chars)
        .collect();
    let chars: usize = sentences.iter().map(Vec::len).sum();
    device.seed(1);
    let crf = Pipeline::new(crf_meta.clone(), &crf_meta.model.init(device), device);
    let binder = Pipeline::new(binder_meta.clone(), &binder_meta.model.init(device), device);
    let pass = |p: &Pipeline| {
        let t = Instant::now();
        let out = p.entities(&sentences, BATCH);
        assert_eq!(out.len(), sentences.len());
        t.elapsed().as_secs_f64()
    };
    // Warm-up, then the two heads alternate.
    pass(&crf);
    pass(&binder);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        a.push(pass(&crf));
        b.push(pass(&binder));
    }
    let n = sentences.len() as f64;
    let mut out = String::new();
    writeln!(
        out,
        "`Pipeline::entities` over the Resume test set ({} sentences, {chars} characters), batches \
         of {BATCH}, the encoder of `configs/resume.toml` (d_model {}) with random weights, once \
         with the linear + CRF head (Viterbi on the host) and once with Binder's head ({} types, \
         spans up to K = {k} characters, the longest training entity; span dim {}; greedy flat \
         decoding on the host). Warm-up pass each, then alternating; median of {REPS}. Load after: \
         {}.\n",
        sentences.len(),
        crf_meta.model.hyper.d_model,
        binder_meta.tags.types.len(),
        binder_meta.model.hyper.binder.dim,
        load_avg()
    )?;
    writeln!(
        out,
        "| head | seconds per pass | sentences/s | µs per sentence | time / CRF's | runs (s) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    let (ma, mb) = (median(&a), median(&b));
    for (name, v, m) in [("linear + CRF", &a, ma), ("Binder", &b, mb)] {
        let runs: Vec<String> = v.iter().map(|s| format!("{s:.2}")).collect();
        writeln!(
            out,
            "| {name} | {m:.2} | **{:.0}** | {:.0} | {:.2}× | {} |",
            n / m,
            m / n * 1e6,
            m / ma,
            runs.join(", ")
        )?;
    }
    Ok(out)
}
