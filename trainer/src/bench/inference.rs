//! Suite `inference`: `Pipeline::tags` sentences/s over the MSRA test set by batch size, the
//! peak memory of a pass, and the compute floor this machine's GEMM rate implies; beside it the
//! same model in PyTorch (`bench/torch_tagger.py --infer`) on the same batches, alternating.

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
/// The batch size compared with PyTorch (the first of `BATCH_SIZES`).
const TORCH_BATCH: usize = 32;
/// Where the batches go for PyTorch.
const BATCHES_JSON: &str = "bench/batches_msra_infer.json";

/// Writes the model's shape, the tag names and the batches `Pipeline::tags` runs at
/// `TORCH_BATCH` (ids only: the lookup is the only part of a pass PyTorch does not repeat).
fn export_for_torch(pipeline: &Pipeline, sentences: &[Vec<char>]) -> Result<()> {
    let meta = pipeline.meta();
    let m = &meta.model;
    let (pt, ps, pe) = meta.tags.penalties(model_core::model::crf::FORBIDDEN);
    let batches: Vec<serde_json::Value> = pipeline
        .planned_batches(sentences, TORCH_BATCH)
        .iter()
        .map(|b| {
            serde_json::json!({
                "chars": b.iter().map(|e| e.chars.clone()).collect::<Vec<_>>(),
                "bigrams": b.iter().map(|e| e.bigrams.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut json = serde_json::to_value(&m.hyper)?;
    let run = serde_json::json!({
        "n_chars": m.n_chars, "n_bigrams": m.n_bigrams, "n_tags": m.n_tags,
        "penalties": {"transitions": pt, "start": ps, "end": pe},
        "tag_names": meta.tags.tags,
        "sentences": sentences.len(),
        "characters": sentences.iter().map(Vec::len).sum::<usize>(),
        "batches": batches,
    });
    if let (Some(all), serde_json::Value::Object(run)) = (json.as_object_mut(), run) {
        all.extend(run);
    }
    std::fs::create_dir_all("bench")?;
    std::fs::write(BATCHES_JSON, serde_json::to_vec(&json)?)?;
    Ok(())
}

/// One PyTorch pass (a process: import, model, one warm-up pass untimed, one timed pass):
/// sentences/s and the torch version; `None` without torch (or under `NERCO_BENCH_SKIP_TORCH`).
fn torch_pass() -> Result<Option<(f64, String)>> {
    if std::env::var_os("NERCO_BENCH_SKIP_TORCH").is_some() {
        return Ok(None);
    }
    let mut cmd = std::process::Command::new(super::train::python());
    // As in the train suite: libgomp's spin-waiting collapses on shared cores.
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        cmd.env("OMP_WAIT_POLICY", "PASSIVE");
    }
    let out = cmd
        .args([
            "bench/torch_tagger.py",
            "--infer",
            "--batches",
            BATCHES_JSON,
        ])
        .args(["--threads", &threads().to_string()])
        .output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'torch'") {
            return Ok(None);
        }
        anyhow::bail!("bench/torch_tagger.py --infer failed: {err}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(super::train::parse_torch_line(&stdout, "SENTENCES_PER_S "))
}

/// Flex's thread count (rayon's pool), given to PyTorch too.
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

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

/// Per batch size: seconds of each pass, peak RSS of any pass (MiB) and load after the last;
/// PyTorch's sentences/s per repetition and its version.
struct Passes {
    times: Vec<Vec<f64>>,
    peaks: Vec<f64>,
    loads: Vec<String>,
    torch: Vec<f64>,
    torch_version: String,
}

/// `REPS` passes over `sentences` at each batch size, the batch sizes alternating, each
/// repetition followed by a PyTorch pass.
fn time_passes(pipeline: &Pipeline, sentences: &[Vec<char>]) -> Result<Passes> {
    let n = BATCH_SIZES.len();
    let mut p = Passes {
        times: vec![Vec::new(); n],
        peaks: vec![f64::NAN; n],
        loads: vec![String::new(); n],
        torch: Vec::new(),
        torch_version: String::new(),
    };
    for rep in 0..REPS {
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
        if let Some((sps, v)) = torch_pass()? {
            p.torch.push(sps);
            p.torch_version = v;
        }
        eprintln!(
            "inference rep {rep}: burn bs={TORCH_BATCH} {:.0} sent/s, torch {} sent/s (load {})",
            sentences.len() as f64 / p.times[0].last().copied().unwrap_or(f64::NAN),
            p.torch.last().map_or("-".into(), |t| format!("{t:.0}")),
            load_avg()
        );
    }
    Ok(p)
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
    export_for_torch(&pipeline, &sentences)?;
    let passes = time_passes(&pipeline, &sentences)?;
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
    write_torch(&mut out, &passes, sentences.len(), floor.bound)?;
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

/// Burn against PyTorch at `TORCH_BATCH`, next to the compute floor.
fn write_torch(out: &mut String, p: &Passes, sentences: usize, bound: f64) -> std::fmt::Result {
    let burn: Vec<f64> = p.times[0].iter().map(|s| sentences as f64 / s).collect();
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (b, t) = (median(&burn), median(&p.torch));
    let version = if p.torch_version.is_empty() {
        "torch not installed".to_string()
    } else {
        format!("torch {}", p.torch_version)
    };
    writeln!(
        out,
        "\n**Against PyTorch** ({version}, `bench/torch_tagger.py --infer`, \
         `OMP_WAIT_POLICY={}`): the same model (same sizes, random weights) in eval mode under \
         `torch.inference_mode()`, {} threads as Flex has, on the batches `Pipeline::tags` runs \
         at batch size {TORCH_BATCH} (exported to `{BATCHES_JSON}`; the character/bigram lookup \
         is the one step PyTorch does not repeat), emissions plus a batched Viterbi with the \
         same constraints, back to tag names on the host. One PyTorch process per repetition \
         (import and a warm-up pass untimed), right after that repetition's Burn passes; median \
         of {REPS}.\n",
        std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into()),
        threads()
    )?;
    writeln!(
        out,
        "| batch size | Burn sentences/s | PyTorch sentences/s | Burn / PyTorch | compute floor | Burn runs | PyTorch runs |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    let ratio = if t.is_nan() {
        "n/a".to_string()
    } else {
        format!("{:.2}×", b / t)
    };
    writeln!(
        out,
        "| {TORCH_BATCH} | {b:.0} | {t:.0} | **{ratio}** | ≈ {bound:.0} | {} | {} |",
        list(&burn),
        list(&p.torch)
    )?;
    writeln!(out, "\nTarget: Burn ≥ 1.0× PyTorch.")
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
