//! Suite `inference`: `Pipeline::tags` sentences/s over the MSRA test set by batch size, the
//! peak memory of a pass, and the compute floor this machine's GEMM rate implies.

use super::timing::{REPS, median};
use crate::config::RunConfig;
use crate::data;
use crate::machine::load_avg;
use anyhow::Result;
use burn::prelude::*;
use burn::tensor::Distribution;
use model_core::data::read_conll;
use model_core::host::tensor_values;
use model_core::pipeline::{ModelMeta, Pipeline};
use std::fmt::Write as _;
use std::time::Instant;

const BATCH_SIZES: [usize; 3] = [32, 64, 128];

/// A `/proc/self/status` figure in MiB (`VmRSS:`, `VmHWM:`).
fn proc_status(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where not allowed.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Per batch size: seconds of each pass, peak RSS of any pass (MiB) and load after the last.
struct Passes {
    times: Vec<Vec<f64>>,
    peaks: Vec<f64>,
    loads: Vec<String>,
}

/// `REPS` passes over `sentences` at each batch size, the batch sizes alternating.
fn time_passes(pipeline: &Pipeline, sentences: &[Vec<char>]) -> Passes {
    let n = BATCH_SIZES.len();
    let mut p = Passes {
        times: vec![Vec::new(); n],
        peaks: vec![f64::NAN; n],
        loads: vec![String::new(); n],
    };
    for _ in 0..REPS {
        for (k, &bs) in BATCH_SIZES.iter().enumerate() {
            let can_reset = reset_peak();
            let t = Instant::now();
            let tags = pipeline.tags(sentences, bs);
            p.times[k].push(t.elapsed().as_secs_f64());
            assert_eq!(tags.len(), sentences.len());
            if can_reset {
                let peak = proc_status("VmHWM:").unwrap_or(f64::NAN);
                p.peaks[k] = if p.peaks[k].is_nan() {
                    peak
                } else {
                    p.peaks[k].max(peak)
                };
            }
            p.loads[k] = load_avg();
        }
    }
    p
}

/// The model's dense FLOPs per character, what one GEMM of its own shape reaches on `device`
/// (GFLOP/s) now, and the sentences/s bound that rate implies.
struct Floor {
    flops_token: f64,
    gflops: f64,
    bound: f64,
}

fn compute_floor(meta: &ModelMeta, mean_len: f64, device: &Device) -> Floor {
    let (mm, h) = (&meta.model, &meta.model.hyper);
    let (d, ff) = (h.d_model, h.d_model * h.ff_mult);
    let flops_token = 2.0
        * (((h.char_dim + h.bigram_dim) * d + 4 * d * d + 2 * d * ff + d * mm.n_tags) as f64
            + 4.0 * mean_len * d as f64);
    let gflops = {
        let a = Tensor::<2>::random([4096, d], Distribution::Normal(0.0, 1.0), device);
        let w = Tensor::<2>::random([d, ff], Distribution::Normal(0.0, 1.0), device);
        let _ = tensor_values(a.clone().matmul(w.clone()).sum());
        let t: Vec<f64> = (0..REPS)
            .map(|_| {
                let t = Instant::now();
                let _ = tensor_values(a.clone().matmul(w.clone()).sum());
                t.elapsed().as_secs_f64()
            })
            .collect();
        2.0 * (4096 * d * ff) as f64 / median(&t) / 1e9
    };
    let bound = gflops * 1e9 / (flops_token * mean_len);
    Floor {
        flops_token,
        gflops,
        bound,
    }
}

pub(super) fn run(device: &Device) -> Result<String> {
    let cfg = RunConfig::load(std::path::Path::new("configs/msra.toml"))?;
    let t = Instant::now();
    let (_splits, meta) = data::load(&cfg, None, 0)?;
    eprintln!(
        "msra vocabularies built in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let test = read_conll(&cfg.data.test)?;
    let sentences: Vec<Vec<char>> = test.iter().map(|s| s.chars.clone()).collect();
    let chars: usize = sentences.iter().map(Vec::len).sum();
    device.seed(1);
    let tagger = meta.model.init(device);
    let params = burn::module::Module::num_params(&tagger);
    let pipeline = Pipeline::new(meta.clone(), &tagger, device);
    let rss_before = proc_status("VmRSS:").unwrap_or(f64::NAN);
    // Warm-up on a slice.
    let _ = pipeline.tags(&sentences[..sentences.len().min(500)], 64);
    let passes = time_passes(&pipeline, &sentences);
    let hwm_process = proc_status("VmHWM:").unwrap_or(f64::NAN);
    let mean_len = chars as f64 / sentences.len() as f64;
    let floor = compute_floor(&meta, mean_len, device);
    let mut out = String::new();
    writeln!(
        out,
        "`Pipeline::tags` (embeddings → encoder → linear on the Flex CPU device, one read-back per \
         batch, host Viterbi) over the MSRA test set: {} sentences, {chars} characters (`{}`). \
         Model of the MSRA config (`configs/msra.toml`: d_model {}, {} heads, vocabularies built \
         from MSRA train, {} chars / {} bigrams, {} tags, {params} parameters) with **untrained \
         (random) weights** — speed does not depend on the weights. Sentences are length-bucketed \
         by the pipeline. Median of {REPS} passes per batch size, alternating batch sizes.\n",
        sentences.len(),
        cfg.data.test.display(),
        meta.model.hyper.d_model,
        meta.model.hyper.n_heads,
        meta.model.n_chars,
        meta.model.n_bigrams,
        meta.model.n_tags
    )?;
    write_table(&mut out, &passes, sentences.len(), chars)?;
    write_floor(&mut out, rss_before, hwm_process, &floor, mean_len, &meta)?;
    Ok(out)
}

/// Seconds per pass, sentences/s, characters/s, peak RSS and load per batch size.
fn write_table(out: &mut String, p: &Passes, sentences: usize, chars: usize) -> std::fmt::Result {
    writeln!(
        out,
        "| batch size | seconds per pass | sentences/s | characters/s | peak RSS during the pass (MiB) | load after its last pass |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for (k, &bs) in BATCH_SIZES.iter().enumerate() {
        let s = median(&p.times[k]);
        eprintln!(
            "inference bs={bs}: {s:.2}s, {:.0} sent/s",
            sentences as f64 / s
        );
        writeln!(
            out,
            "| {bs} | {s:.2} | **{:.0}** | {:.0} | {:.0} | {} |",
            sentences as f64 / s,
            chars as f64 / s,
            p.peaks[k],
            p.loads[k]
        )?;
    }
    Ok(())
}

/// The memory figures and the compute floor under the table.
fn write_floor(
    out: &mut String,
    rss_before: f64,
    hwm_process: f64,
    f: &Floor,
    mean_len: f64,
    meta: &ModelMeta,
) -> std::fmt::Result {
    let (d, ff) = (
        meta.model.hyper.d_model,
        meta.model.hyper.d_model * meta.model.hyper.ff_mult,
    );
    let (gflops, bound) = (f.gflops, f.bound);
    writeln!(
        out,
        "\nProcess RSS after loading data and model: {rss_before:.0} MiB; process peak (VmHWM, \
         includes building the vocabularies from MSRA train): {hwm_process:.0} MiB. The per-pass \
         peak is VmHWM after resetting it (`/proc/self/clear_refs` = 5) just before the pass. \
         Target: ≥ 5,000 sentences/s.\n\n\
         **Compute floor.** The encoder costs ≈ {:.2} MFLOP per character (projection, Q/K/V/out, \
         feed-forward, head, attention at the mean length {mean_len:.1}); a `[4096, {d}] × [{d}, {ff}]` \
         matmul on this device reached {gflops:.1} GFLOP/s in the same run, so even at that GEMM \
         rate for every FLOP the pass could not exceed ≈ {bound:.0} sentences/s here.",
        f.flops_token / 1e6
    )
}
