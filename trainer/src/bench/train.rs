//! Suite `train`: training tokens/s of stage 1 (encoder + InfoNCE) and stage 2 (encoder + CRF)
//! on Resume batches, against the same model and batches in PyTorch (`bench/torch_tagger.py`),
//! the two alternating.
//!
//! The step is the trainer's own (model-core's training step), at each stage's base rate.

use super::timing::{REPS, median};
use crate::config::{RunConfig, StageConfig};
use crate::data;
use crate::machine::load_avg;
use anyhow::{Context, Result, bail};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use model_core::batch::{Batch, Example};
use model_core::loss::Queries;
use model_core::model::crf::FORBIDDEN;
use model_core::model::{CrfConstraints, Tagger};
use model_core::pipeline::ModelMeta;
use model_core::train::{
    Frozen, LossSetup, Phase, StepRates, apply_step, epoch_batches, make_optimizer, phase_loss,
};
use rand::{SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Timed batches per repetition, after `WARMUP` untimed ones.
const N_BATCHES: usize = 20;
const WARMUP: usize = 2;
/// Where the batches go for PyTorch.
const BATCHES_JSON: &str = "bench/batches_resume.json";

pub(super) fn python() -> PathBuf {
    let venv = PathBuf::from("bench/.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// One PyTorch pass: tokens/s and the torch version; `Ok(None)` when torch is not available.
fn torch_pass(batches_json: &Path, stage: usize, warmup: usize) -> Result<Option<(f64, String)>> {
    // For A/B runs of the Burn side alone (e.g. allocator settings).
    if std::env::var_os("NERCO_BENCH_SKIP_TORCH").is_some() {
        return Ok(None);
    }
    let mut cmd = Command::new(python());
    // libgomp's default spin-waiting collapses PyTorch's throughput when the cores are shared
    // (measured 8× slower at load ≈ 5 on 2 cores); passive waiting is PyTorch's best case here.
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        cmd.env("OMP_WAIT_POLICY", "PASSIVE");
    }
    let out = cmd
        .args(["bench/torch_tagger.py", "--batches"])
        .arg(batches_json)
        .args([
            "--stage",
            &stage.to_string(),
            "--warmup",
            &warmup.to_string(),
        ])
        // `cuda` on a GPU machine (scripts/gpu-check.sh), beside Burn on `--backend vulkan`.
        .args([
            "--device",
            &std::env::var("NERCO_TORCH_DEVICE").unwrap_or_else(|_| "cpu".into()),
        ])
        .output()
        .context("cannot start bench/torch_tagger.py")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'torch'") {
            return Ok(None);
        }
        bail!("bench/torch_tagger.py failed: {err}");
    }
    Ok(parse_torch_output(&stdout))
}

/// `TOKENS_PER_S` and `TORCH` lines of torch_tagger.py's output.
fn parse_torch_output(stdout: &str) -> Option<(f64, String)> {
    parse_torch_line(stdout, "TOKENS_PER_S ")
}

/// The figure after `key` and the `TORCH` version line of torch_tagger.py's output.
pub(super) fn parse_torch_line(stdout: &str, key: &str) -> Option<(f64, String)> {
    let mut tps = None;
    let mut version = String::new();
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix(key) {
            tps = v.trim().parse::<f64>().ok();
        }
        if let Some(v) = line.strip_prefix("TORCH ") {
            version = v.trim().to_string();
        }
    }
    tps.map(|t| (t, version))
}

/// The first `N_BATCHES + WARMUP` batches of the trainer's epoch order at each stage's batch
/// size, seeded 42 + stage.
fn stage_batches(cfg: &RunConfig, examples: &[Example]) -> [Vec<Vec<usize>>; 2] {
    [(1usize, &cfg.stage1), (2, &cfg.stage2)].map(|(stage, s)| {
        let mut rng = StdRng::seed_from_u64(42 + stage as u64);
        epoch_batches(examples, s.batch_size, &mut rng)
            .into_iter()
            .take(N_BATCHES + WARMUP)
            .collect()
    })
}

/// Writes the model's shape, the optimiser settings and both stages' batches for PyTorch.
fn export_for_torch(
    cfg: &RunConfig,
    meta: &ModelMeta,
    examples: &[Example],
    batches: &[Vec<Vec<usize>>; 2],
) -> Result<PathBuf> {
    let (pt, ps, pe) = meta.tags.penalties(FORBIDDEN);
    let m = &meta.model;
    let export = |b: &Vec<Vec<usize>>| -> Vec<serde_json::Value> {
        b.iter()
            .map(|idx| {
                let ex: Vec<&Example> = idx.iter().map(|&i| &examples[i]).collect();
                serde_json::json!({
                    "chars": ex.iter().map(|e| e.chars.clone()).collect::<Vec<_>>(),
                    "bigrams": ex.iter().map(|e| e.bigrams.clone()).collect::<Vec<_>>(),
                    "tags": ex.iter().map(|e| e.tags.clone()).collect::<Vec<_>>(),
                    "classes": ex.iter().map(|e| e.classes.clone()).collect::<Vec<_>>(),
                })
            })
            .collect()
    };
    // The script reads the `[model]` keys it knows by name from the same object.
    let mut json = serde_json::to_value(&m.hyper)?;
    let run = serde_json::json!({
        "n_chars": m.n_chars, "n_bigrams": m.n_bigrams, "n_tags": m.n_tags,
        "tau": cfg.stage1.tau, "lr": cfg.stage1.lr,
        "weight_decay": [cfg.stage1.weight_decay, cfg.stage2.weight_decay],
        "clip": [cfg.stage1.clip, cfg.stage2.clip],
        "warmup_batches": WARMUP,
        "penalties": {"transitions": pt, "start": ps, "end": pe},
        "stage1": export(&batches[0]),
        "stage2": export(&batches[1]),
    });
    if let (Some(all), serde_json::Value::Object(run)) = (json.as_object_mut(), run) {
        all.extend(run);
    }
    let path = PathBuf::from(BATCHES_JSON);
    std::fs::create_dir_all("bench")?;
    std::fs::write(&path, serde_json::to_vec(&json)?)?;
    Ok(path)
}

/// One stage's measurements.
struct StageRow {
    stage: usize,
    batch_size: usize,
    tokens: usize,
    burn_tps: Vec<f64>,
    torch_tps: Vec<f64>,
    loads: Vec<String>,
}

/// The trainer's step (model-core's [`phase_loss`] and [`apply_step`]) at the stage's base rate:
/// stage 1 = InfoNCE over the batch's entity tokens (no step when no class contributes), stage 2
/// = the head's CRF loss; the loss value is read as the trainer reads it (it logs it).
struct Step<'a> {
    setup: LossSetup<'a>,
    lr: f64,
    optim: ModuleOptimizer,
}

impl Step<'_> {
    fn run(&mut self, model: Tagger, batch: &Batch) -> Tagger {
        let frozen = Frozen::new(&model, false, true); // nothing frozen
        let Some(loss) = phase_loss(&model, batch, &frozen, &self.setup) else {
            return model;
        };
        let _ = loss.value();
        apply_step(
            model,
            &mut self.optim,
            loss.tensor,
            StepRates::uniform(self.lr),
        )
    }
}

/// What both stages are timed on.
struct Bench<'a> {
    examples: &'a [Example],
    meta: &'a ModelMeta,
    constraints: &'a CrfConstraints,
    batches_json: &'a Path,
    ad: &'a Device,
    /// The GPU path: the CRF NLL on the device (`Crf::nll`) instead of `Crf::nll_fast`.
    gpu: bool,
}

impl Bench<'_> {
    /// Times `stage` on its batches: warm-up, then `REPS` repetitions, each a Burn pass followed
    /// by a PyTorch pass. Returns the row and the torch version (empty without torch).
    fn time_stage(
        &self,
        stage: usize,
        s: &StageConfig,
        idx: &[Vec<usize>],
    ) -> Result<(StageRow, String)> {
        let ad = self.ad;
        let batches: Vec<Batch> = idx
            .iter()
            .map(|idx| {
                Batch::new(
                    &idx.iter().map(|&i| &self.examples[i]).collect::<Vec<_>>(),
                    ad,
                )
            })
            .collect();
        let tokens: usize = batches[WARMUP..].iter().map(Batch::tokens).sum();
        ad.seed(3);
        let mut model = self.meta.model.init(ad);
        let mut step = Step {
            setup: LossSetup {
                phase: if stage == 1 {
                    Phase::Contrast
                } else {
                    Phase::Tagging
                },
                tau: s.tau,
                queries: Queries::Entities,
                contrast_weight: 0.0,
                constraints: self.constraints,
                crf_on_host: !self.gpu,
            },
            lr: s.lr,
            optim: make_optimizer(s),
        };
        for b in &batches[..WARMUP] {
            model = step.run(model, b);
        }
        let (mut burn_tps, mut torch_tps, mut loads) = (Vec::new(), Vec::new(), Vec::new());
        let mut torch_version = String::new();
        for rep in 0..REPS {
            let t = Instant::now();
            for b in &batches[WARMUP..] {
                model = step.run(model, b);
            }
            let _ = ad.sync();
            burn_tps.push(tokens as f64 / t.elapsed().as_secs_f64());
            if let Some((tps, v)) = torch_pass(self.batches_json, stage, WARMUP)? {
                torch_tps.push(tps);
                torch_version = v;
            }
            loads.push(load_avg());
            eprintln!(
                "train stage {stage} rep {rep}: burn {:.0} tok/s, torch {} tok/s (load {})",
                burn_tps.last().unwrap_or(&f64::NAN),
                torch_tps.last().map_or("-".into(), |t| format!("{t:.0}")),
                load_avg()
            );
        }
        let row = StageRow {
            stage,
            batch_size: s.batch_size,
            tokens,
            burn_tps,
            torch_tps,
            loads,
        };
        Ok((row, torch_version))
    }
}

pub(super) fn run(device: &Device, gpu: bool) -> Result<String> {
    let cfg = RunConfig::load(Path::new("configs/resume.toml"))?;
    let (splits, meta) = data::load(&cfg, None, 0)?;
    let examples = &splits.train_examples;
    let ad = device.clone().autodiff();
    let constraints = CrfConstraints::new(&meta.tags, &ad);
    // The same batches for both stages' sizes, exported for PyTorch.
    let batches = stage_batches(&cfg, examples);
    let batches_json = export_for_torch(&cfg, &meta, examples, &batches)?;
    let bench = Bench {
        examples,
        meta: &meta,
        constraints: &constraints,
        batches_json: &batches_json,
        ad: &ad,
        gpu,
    };
    let mut rows = Vec::new();
    let mut torch_version = String::new();
    for (stage, s) in [(1usize, &cfg.stage1), (2, &cfg.stage2)] {
        let (row, v) = bench.time_stage(stage, s, &batches[stage - 1])?;
        rows.push(row);
        if !v.is_empty() {
            torch_version = v;
        }
    }
    let mut out = String::new();
    write_description(&mut out, &cfg, &meta, &torch_version, gpu)?;
    write_table(&mut out, &rows)?;
    Ok(out)
}

/// What was measured and how.
fn write_description(
    out: &mut String,
    cfg: &RunConfig,
    meta: &ModelMeta,
    torch_version: &str,
    gpu: bool,
) -> std::fmt::Result {
    let m = &meta.model;
    writeln!(
        out,
        "Training steps (forward, backward, AdamW with value clipping 5) on Resume train batches of \
         `configs/resume.toml` (model d_model {}, {} heads, ff ×{}, char/bigram dims {}/{}, \
         {} chars / {} bigrams, {} tags; dropout as configured; token dropout off in both): \
         the trainer's batching (shuffled, length-sorted within pools), {N_BATCHES} timed batches \
         after {WARMUP} warm-up batches, seed 42+stage. Stage 1 = encoder + vectorised InfoNCE \
         (batch {}); stage 2 = encoder + linear + CRF NLL (batch {}) — Burn uses {}, PyTorch the \
         autograd forward algorithm. PyTorch: \
         `bench/torch_tagger.py` ({}), CPU, `torch.set_num_threads(2)`, `OMP_WAIT_POLICY={}` (libgomp's default spin-wait made PyTorch 8–10× slower on this shared machine: 505–672 tok/s in stage 1), the same batches (exported \
         to `bench/batches_resume.json`), started once per repetition (import and its own 2 warm-up \
         batches not timed). Burn and PyTorch alternate; median of {REPS}.\n",
        m.hyper.d_model,
        m.hyper.n_heads,
        m.hyper.ff_mult,
        m.hyper.char_dim,
        m.hyper.bigram_dim,
        m.n_chars,
        m.n_bigrams,
        m.n_tags,
        cfg.stage1.batch_size,
        cfg.stage2.batch_size,
        if gpu {
            "the batched forward algorithm on the device (`Crf::nll`, the GPU path)"
        } else {
            "`Crf::nll_fast` (host forward–backward)"
        },
        if torch_version.is_empty() {
            "torch not installed".to_string()
        } else {
            format!("torch {torch_version}")
        },
        std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into())
    )
}

/// Median tokens/s of both sides per stage, their ratio, every run and the loads.
fn write_table(out: &mut String, rows: &[StageRow]) -> std::fmt::Result {
    writeln!(
        out,
        "| stage | batch | tokens timed | Burn tok/s | PyTorch tok/s | Burn / PyTorch | Burn runs | PyTorch runs | load per repetition |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for row in rows {
        let (r, t) = (median(&row.burn_tps), median(&row.torch_tps));
        let (torch, ratio) = if t.is_nan() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            (format!("{t:.0}"), format!("{:.2}×", r / t))
        };
        writeln!(
            out,
            "| {} | {} | {} | {r:.0} | {torch} | **{ratio}** | {} | {} | {} |",
            row.stage,
            row.batch_size,
            row.tokens,
            list(&row.burn_tps),
            list(&row.torch_tps),
            row.loads.join("; ")
        )?;
    }
    writeln!(out, "\nTarget: Burn ≥ 1.0× PyTorch.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_output_gives_tokens_per_second_and_version() {
        let out = "loading\nTORCH 2.5.1+cpu\nTOKENS_PER_S 4321.5\n";
        assert_eq!(parse_torch_output(out), Some((4321.5, "2.5.1+cpu".into())));
        assert_eq!(parse_torch_output("TORCH 2.5.1\n"), None);
        let infer = "TORCH 2.15.0\nSENTENCES 10 SECONDS 0.5\nSENTENCES_PER_S 20.0\n";
        assert_eq!(
            parse_torch_line(infer, "SENTENCES_PER_S "),
            Some((20.0, "2.15.0".into()))
        );
    }

    #[test]
    fn table_says_n_a_without_torch() {
        let rows = [
            StageRow {
                stage: 1,
                batch_size: 32,
                tokens: 1000,
                burn_tps: vec![900.0, 1100.0, 1000.0],
                torch_tps: vec![500.0, 500.0, 400.0],
                loads: vec!["1.0 1.0 1.0".into()],
            },
            StageRow {
                stage: 2,
                batch_size: 16,
                tokens: 500,
                burn_tps: vec![2000.0],
                torch_tps: Vec::new(),
                loads: vec!["2.0 2.0 2.0".into()],
            },
        ];
        let mut out = String::new();
        write_table(&mut out, &rows).unwrap();
        assert!(out.contains(
            "| 1 | 32 | 1000 | 1000 | 500 | **2.00×** | 900, 1100, 1000 | 500, 500, 400 | 1.0 1.0 1.0 |"
        ), "{out}");
        assert!(
            out.contains("| 2 | 16 | 500 | 2000 | n/a | **n/a** | 2000 |  | 2.0 2.0 2.0 |"),
            "{out}"
        );
    }
}
