//! `nerco bench`: the speed figures of `docs/BENCHMARKS.md`, each measured side by side in one
//! run (interleaved repetitions, median of at least five).
//!
//! Suites:
//! - `infonce`: the vectorised InfoNCE against the reference's per-class `P × (P−1) × (1+N)` form,
//!   both written in Burn, forward + backward on the autodiff CPU device.
//! - `crf`: CRF NLL by the autodiff forward algorithm, by host forward–backward (`nll_fast`), and
//!   host Viterbi, against sequence length.
//! - `inference`: `Pipeline::tags` sentences/s on the MSRA test set, by batch size, and peak RSS.
//! - `train`: stage 1 (InfoNCE) and stage 2 (CRF) training tokens/s on Resume batches, against
//!   the same model in PyTorch (`bench/torch_tagger.py`), alternating runs.
//!
//! Each suite rewrites its own section of the report, between `<!-- BEGIN name -->` and
//! `<!-- END name -->` markers, and leaves the others alone.

use crate::config::RunConfig;
use crate::data_prep;
use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_softmax;
use model_core::batch::{Batch, Example};
use model_core::data::{Scheme, read_conll};
use model_core::decode::CrfScores;
use model_core::host::tensor_values;
use model_core::loss::{Queries, info_nce, info_nce_naive};
use model_core::model::crf::FORBIDDEN;
use model_core::model::{Crf, CrfConstraints};
use model_core::pipeline::Pipeline;
use model_core::tags::{NON_ENTITY, TagSet};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SUITES: [&str; 4] = ["inference", "infonce", "crf", "train"];
const REPS: usize = 5;

pub fn run(suite: Option<&str>, report: &Path, device: &Device) -> Result<()> {
    let suites: Vec<&str> = match suite {
        None | Some("all") => SUITES.to_vec(),
        Some(s) if SUITES.contains(&s) => vec![s],
        Some(s) => bail!("unknown bench suite `{s}`; one of {}", SUITES.join(", ")),
    };
    // Inference first: its peak-memory figure should not inherit the other suites' peaks.
    for s in suites {
        eprintln!("== bench {s} (load {})", load_avg());
        let head = header(s);
        let body = match s {
            "inference" => inference(device)?,
            "infonce" => infonce(device)?,
            "crf" => crf(device)?,
            "train" => train(device)?,
            _ => unreachable!(),
        };
        let section = format!("{head}\n{body}");
        println!("{section}");
        write_section(report, s, &section)?;
        eprintln!("wrote section `{s}` of {}", report.display());
    }
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} logical cores")
}

fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn header(suite: &str) -> String {
    format!(
        "## `{suite}`\n\nCommand: `cargo build --release && target/release/nerco bench --suite {suite}` \
         (or `bench/run.sh`). Measured {}, {}; load average at start {} (other jobs shared the machine).\n",
        now_utc(),
        machine(),
        load_avg()
    )
}

fn write_section(report: &Path, name: &str, section: &str) -> Result<()> {
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let old = std::fs::read_to_string(report).unwrap_or_else(|_| {
        "# Benchmarks\n\nProduced by `nerco bench` (trainer/src/bench.rs) and `bench/torch_tagger.py`; \
         run everything with `bench/run.sh`. Every ratio is measured side by side in one run: the \
         two sides alternate, each figure is the median of the repetitions, and the load average \
         is given because the machine is shared.\n"
            .into()
    });
    let block = format!("{begin}\n{section}\n{end}");
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &old[..a], block, &old[b + end.len()..]),
        _ => format!("{}\n{}\n", old.trim_end(), block),
    };
    if let Some(dir) = report.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(report, new).with_context(|| format!("cannot write {}", report.display()))
}

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

// ---------------------------------------------------------------- infonce

/// The reference implementation's form (zhzai/nerco): per class, a `P × (P−1) × (1+N)` logits
/// tensor (each positive followed by all negatives), log-softmax over the last axis, the
/// positive's log-probability averaged over the `P(P−1)` pairs, summed over classes.
pub fn info_nce_per_class(reps: Tensor<2>, classes: &[usize], tau: f64) -> Option<Tensor<1>> {
    let [n, _] = reps.dims();
    let device = reps.device();
    let norm = reps.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    let h = reps / norm;
    let n_classes = classes.iter().max().map_or(0, |m| m + 1);
    let mut total: Option<Tensor<1>> = None;
    for c in 0..n_classes {
        if c == NON_ENTITY {
            continue;
        }
        let pos: Vec<i64> = (0..n)
            .filter(|&i| classes[i] == c)
            .map(|i| i as i64)
            .collect();
        let neg: Vec<i64> = (0..n)
            .filter(|&i| classes[i] != c)
            .map(|i| i as i64)
            .collect();
        let (p, m) = (pos.len(), neg.len());
        if p < 2 || m == 0 {
            continue;
        }
        let hp = h.clone().select(0, ints(pos, &device)); // [P, d]
        let hn = h.clone().select(0, ints(neg, &device)); // [N, d]
        let s_pos = hp.clone().matmul(hp.clone().transpose()).div_scalar(tau); // [P, P]
        let off_diag: Vec<i64> = (0..p * p)
            .filter(|k| k / p != k % p)
            .map(|k| k as i64)
            .collect();
        let s_pos = s_pos
            .reshape([p * p])
            .select(0, ints(off_diag, &device))
            .reshape([p, p - 1, 1]);
        let s_neg = hp
            .matmul(hn.transpose())
            .div_scalar(tau)
            .reshape([p, 1, m])
            .expand([p, p - 1, m]);
        let logits = Tensor::cat(vec![s_pos, s_neg], 2); // [P, P−1, 1+N]
        let lp = log_softmax(logits, 2).narrow(2, 0, 1); // [P, P−1, 1]
        let l = lp.mean().neg();
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
    }
    total
}

fn infonce(device: &Device) -> Result<String> {
    let ad = device.clone().autodiff();
    ad.seed(7);
    let d = 160;
    let tau = 0.07;
    let sizes = [500usize, 1000, 2000];
    let mut out = String::new();
    writeln!(
        out,
        "Forward + backward of the stage-1 loss on `[N, {d}]` random representations (autodiff Flex \
         CPU device), 25 % entity tokens spread over 8 Semantic Classes, the rest Non-Entity, τ = {tau}. \
         *Vectorised* is `model_core::loss::info_nce` (one `Q × N` similarity block); *per-class* is \
         the reference's form (`info_nce_per_class` in bench.rs: per class a `P × (P−1) × (1+N)` \
         logits tensor, log-softmax, mean, summed over classes). Both losses are checked against the \
         f64 per-pair `info_nce_naive`. Median of {REPS} alternating repetitions.\n"
    )?;
    writeln!(
        out,
        "| tokens N | entity tokens | vectorised ms | per-class ms | speed-up | loss (vec / per-class / naive f64) | load |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for &n in &sizes {
        let mut rng = StdRng::seed_from_u64(n as u64);
        let classes: Vec<usize> = (0..n)
            .map(|_| {
                if rng.random_bool(0.25) {
                    rng.random_range(1..=8)
                } else {
                    NON_ENTITY
                }
            })
            .collect();
        let host: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let reps_host: Vec<Vec<f32>> = host.chunks(d).map(<[f32]>::to_vec).collect();
        let naive = info_nce_naive(&reps_host, &classes, tau, Queries::Entities);
        let leaf =
            || Tensor::<2>::from_data(TensorData::new(host.clone(), [n, d]), &ad).require_grad();
        let run_vec = || {
            let x = leaf();
            let t = Instant::now();
            let l = info_nce(x.clone(), &classes, tau, Queries::Entities)
                .expect("a contributing class");
            let v = l.clone().into_scalar::<f32>() as f64;
            let g = l.backward();
            let _ = tensor_values(x.grad(&g).expect("gradient"));
            (ms(t), v)
        };
        let run_ref = || {
            let x = leaf();
            let t = Instant::now();
            let l = info_nce_per_class(x.clone(), &classes, tau).expect("a contributing class");
            let v = l.clone().into_scalar::<f32>() as f64;
            let g = l.backward();
            let _ = tensor_values(x.grad(&g).expect("gradient"));
            (ms(t), v)
        };
        // Warm-up, then alternate.
        let (_, v_vec) = run_vec();
        let (_, v_ref) = run_ref();
        let (mut tv, mut tr) = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            tv.push(run_vec().0);
            tr.push(run_ref().0);
        }
        for (name, v) in [("vectorised", v_vec), ("per-class", v_ref)] {
            if (v - naive).abs() > 1e-3 * naive.abs().max(1.0) {
                bail!("{name} InfoNCE {v} differs from the per-pair reference {naive} at N = {n}");
            }
        }
        let entities = classes.iter().filter(|&&c| c != NON_ENTITY).count();
        let (mv, mr) = (median(&tv), median(&tr));
        eprintln!(
            "infonce N={n}: vec {mv:.1} ms, per-class {mr:.1} ms ({:.1}x)",
            mr / mv
        );
        writeln!(
            out,
            "| {n} | {entities} | {mv:.1} | {mr:.1} | **{:.1}×** | {v_vec:.4} / {v_ref:.4} / {naive:.4} | {} |",
            mr / mv,
            load_avg()
        )?;
    }
    writeln!(out, "\nTarget: ≥ 20× the reference form.")?;
    Ok(out)
}

// ---------------------------------------------------------------- crf

fn crf(device: &Device) -> Result<String> {
    let ad = device.clone().autodiff();
    ad.seed(5);
    let types: Vec<String> = ["CONT", "EDU", "LOC", "NAME", "ORG", "PRO", "RACE", "TITLE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tags = TagSet::new(Scheme::Bmes, types);
    let n = tags.len();
    let batch = 10;
    let c = CrfConstraints::new(&tags, &ad);
    let crf = Crf {
        transitions: burn::module::Param::from_tensor(Tensor::random(
            [n, n],
            Distribution::Normal(0.0, 0.5),
            &ad,
        )),
        start: burn::module::Param::from_tensor(Tensor::random(
            [n],
            Distribution::Normal(0.0, 0.5),
            &ad,
        )),
        end: burn::module::Param::from_tensor(Tensor::random(
            [n],
            Distribution::Normal(0.0, 0.5),
            &ad,
        )),
    };
    let (t, s, e) = crf.export(&c);
    let host = CrfScores {
        n_tags: n,
        transitions: t,
        start: s,
        end: e,
    };
    let mut out = String::new();
    writeln!(
        out,
        "Batch of {batch} sentences, {n} tags (BMES, Resume's 8 types), random emissions and CRF \
         weights, gold = the Viterbi path (valid under the scheme). *autodiff* = `Crf::nll` (forward \
         algorithm as a `len`-step Burn graph) + backward; *host fwd–bwd* = `Crf::nll_fast` (host \
         forward–backward, surrogate) + backward; *Viterbi* = host `CrfScores::viterbi` over the \
         {batch} sentences. Median of {REPS} alternating repetitions; µs/token = time / ({batch} × len).\n"
    )?;
    writeln!(
        out,
        "| len | autodiff ms | µs/token | host fwd–bwd ms | µs/token | Viterbi ms | µs/token | autodiff / fast | load |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    for &l in &[16usize, 32, 64, 128, 256] {
        let em_host: Vec<f32> = {
            let mut rng = StdRng::seed_from_u64(l as u64);
            (0..batch * l * n)
                .map(|_| rng.random_range(-2.0f32..2.0))
                .collect()
        };
        let gold: Vec<Vec<usize>> = em_host.chunks(l * n).map(|e| host.viterbi(e)).collect();
        let leaf = || {
            Tensor::<3>::from_data(TensorData::new(em_host.clone(), [batch, l, n]), &ad)
                .require_grad()
        };
        let run_slow = || {
            let x = leaf();
            let t = Instant::now();
            let loss = crf.nll(x.clone(), &gold, &c);
            let g = loss.backward();
            let _ = tensor_values(x.grad(&g).expect("gradient"));
            ms(t)
        };
        let run_fast = || {
            let x = leaf();
            let t = Instant::now();
            let (loss, _) = crf.nll_fast(x.clone(), &gold, &c);
            let g = loss.backward();
            let _ = tensor_values(x.grad(&g).expect("gradient"));
            ms(t)
        };
        let run_viterbi = || {
            let t = Instant::now();
            let mut k = 0;
            for e in em_host.chunks(l * n) {
                k += host.viterbi(e).len();
            }
            assert_eq!(k, batch * l);
            ms(t)
        };
        run_slow();
        run_fast();
        run_viterbi();
        let (mut a, mut b, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPS {
            a.push(run_slow());
            b.push(run_fast());
            v.push(run_viterbi());
        }
        let (a, b, v) = (median(&a), median(&b), median(&v));
        let per = |x: f64| x * 1e3 / (batch * l) as f64;
        eprintln!("crf len={l}: autodiff {a:.2} ms, fast {b:.2} ms, viterbi {v:.3} ms");
        writeln!(
            out,
            "| {l} | {a:.2} | {:.1} | {b:.2} | {:.1} | {v:.3} | {:.2} | {:.1}× | {} |",
            per(a),
            per(b),
            per(v),
            a / b,
            load_avg()
        )?;
    }
    writeln!(out, "\nLinear growth shows as a flat µs/token column.")?;
    Ok(out)
}

// ---------------------------------------------------------------- inference

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

fn inference(device: &Device) -> Result<String> {
    let cfg = RunConfig::load(Path::new("configs/msra.toml"))?;
    let t = Instant::now();
    let (_splits, meta) = data_prep::load(&cfg, None)?;
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
    let sizes = [32usize, 64, 128];
    // Warm-up on a slice.
    let _ = pipeline.tags(&sentences[..sentences.len().min(500)], 64);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut peaks = vec![f64::NAN; sizes.len()];
    let mut loads = vec![String::new(); sizes.len()];
    for _ in 0..REPS {
        for (k, &bs) in sizes.iter().enumerate() {
            let can_reset = reset_peak();
            let t = Instant::now();
            let tags = pipeline.tags(&sentences, bs);
            times[k].push(t.elapsed().as_secs_f64());
            assert_eq!(tags.len(), sentences.len());
            if can_reset {
                let p = proc_status("VmHWM:").unwrap_or(f64::NAN);
                peaks[k] = if peaks[k].is_nan() {
                    p
                } else {
                    peaks[k].max(p)
                };
            }
            loads[k] = load_avg();
        }
    }
    let hwm_process = proc_status("VmHWM:").unwrap_or(f64::NAN);
    // Compute floor: dense FLOPs per token of this model against what one GEMM of the model's
    // own shape reaches on this device right now.
    let mm = &meta.model;
    let (d, ff) = (mm.d_model, mm.d_model * mm.ff_mult);
    let mean_len = chars as f64 / sentences.len() as f64;
    let flops_token = 2.0
        * (((mm.char_dim + mm.bigram_dim) * d + 4 * d * d + 2 * d * ff + d * mm.n_tags) as f64
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
        meta.model.d_model,
        meta.model.n_heads,
        meta.model.n_chars,
        meta.model.n_bigrams,
        meta.model.n_tags
    )?;
    writeln!(
        out,
        "| batch size | seconds per pass | sentences/s | characters/s | peak RSS during the pass (MiB) | load after its last pass |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for (k, &bs) in sizes.iter().enumerate() {
        let s = median(&times[k]);
        eprintln!(
            "inference bs={bs}: {s:.2}s, {:.0} sent/s",
            sentences.len() as f64 / s
        );
        writeln!(
            out,
            "| {bs} | {s:.2} | **{:.0}** | {:.0} | {:.0} | {} |",
            sentences.len() as f64 / s,
            chars as f64 / s,
            peaks[k],
            loads[k]
        )?;
    }
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
        flops_token / 1e6
    )?;
    Ok(out)
}

// ---------------------------------------------------------------- train

use model_core::train::epoch_batches;

fn python() -> PathBuf {
    let venv = PathBuf::from("bench/.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// One PyTorch pass; `Ok(None)` when torch is not available.
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
    let mut tps = None;
    let mut version = String::new();
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("TOKENS_PER_S ") {
            tps = v.trim().parse::<f64>().ok();
        }
        if let Some(v) = line.strip_prefix("TORCH ") {
            version = v.trim().to_string();
        }
    }
    Ok(tps.map(|t| (t, version)))
}

fn train(device: &Device) -> Result<String> {
    let cfg = RunConfig::load(Path::new("configs/resume.toml"))?;
    let (splits, meta) = data_prep::load(&cfg, None)?;
    let examples = &splits.train_examples;
    let ad = device.clone().autodiff();
    let constraints = CrfConstraints::new(&meta.tags, &ad);
    let n_batches = 20;
    let warmup = 2;
    // The same batches for both stages' sizes, exported for PyTorch.
    let mut stage_batches = Vec::new();
    for (stage, s) in [(1usize, &cfg.stage1), (2, &cfg.stage2)] {
        let mut rng = StdRng::seed_from_u64(42 + stage as u64);
        let b: Vec<Vec<usize>> = epoch_batches(examples, s.batch_size, &mut rng)
            .into_iter()
            .take(n_batches + warmup)
            .collect();
        stage_batches.push(b);
    }
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
    let json = serde_json::json!({
        "n_chars": m.n_chars, "n_bigrams": m.n_bigrams, "n_tags": m.n_tags,
        "char_dim": m.char_dim, "bigram_dim": m.bigram_dim, "d_model": m.d_model,
        "n_heads": m.n_heads, "ff_mult": m.ff_mult,
        "dropout_embed": m.dropout_embed, "dropout_ff": m.dropout_ff,
        "dropout_residual": m.dropout_residual, "dropout_out": m.dropout_out,
        "scaled_attention": m.scaled_attention,
        "tau": cfg.stage1.tau, "lr": cfg.stage1.lr,
        "weight_decay": [cfg.stage1.weight_decay, cfg.stage2.weight_decay],
        "clip": [cfg.stage1.clip, cfg.stage2.clip],
        "warmup_batches": warmup,
        "penalties": {"transitions": pt, "start": ps, "end": pe},
        "stage1": export(&stage_batches[0]),
        "stage2": export(&stage_batches[1]),
    });
    let batches_json = PathBuf::from("bench/batches_resume.json");
    std::fs::create_dir_all("bench")?;
    std::fs::write(&batches_json, serde_json::to_vec(&json)?)?;

    let mut out = String::new();
    let mut rows = Vec::new();
    let mut torch_version = String::new();
    for (stage, s) in [(1usize, &cfg.stage1), (2, &cfg.stage2)] {
        let batches: Vec<Batch> = stage_batches[stage - 1]
            .iter()
            .map(|idx| Batch::new(&idx.iter().map(|&i| &examples[i]).collect::<Vec<_>>(), &ad))
            .collect();
        let tokens: usize = batches[warmup..].iter().map(Batch::tokens).sum();
        ad.seed(3);
        let mut model = m.init(&ad);
        let mut optim = AdamWConfig::new()
            .with_weight_decay(s.weight_decay as f32)
            .with_grad_clipping(
                (s.clip > 0.0).then_some(GradientClippingConfig::Value(s.clip as f32)),
            )
            .init();
        let mut step =
            |model: model_core::model::Tagger, batch: &Batch| -> model_core::model::Tagger {
                let reps = model.encode(batch);
                let loss = if stage == 1 {
                    let classes: Vec<usize> = batch.classes.iter().flatten().copied().collect();
                    match info_nce(
                        batch.gather_tokens(reps),
                        &classes,
                        s.tau,
                        Queries::Entities,
                    ) {
                        Some(l) => {
                            let _ = l.clone().into_scalar::<f32>();
                            l
                        }
                        None => return model,
                    }
                } else {
                    model.nll_fast(reps, batch, &constraints).0
                };
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                optim.step(s.lr, model, grads)
            };
        for b in &batches[..warmup] {
            model = step(model, b);
        }
        let (mut rust_tps, mut torch_tps) = (Vec::new(), Vec::new());
        let mut loads = Vec::new();
        for rep in 0..REPS {
            let t = Instant::now();
            for b in &batches[warmup..] {
                model = step(model, b);
            }
            let _ = ad.sync();
            rust_tps.push(tokens as f64 / t.elapsed().as_secs_f64());
            if let Some((tps, v)) = torch_pass(&batches_json, stage, warmup)? {
                torch_tps.push(tps);
                torch_version = v;
            }
            loads.push(load_avg());
            eprintln!(
                "train stage {stage} rep {rep}: burn {:.0} tok/s, torch {} tok/s (load {})",
                rust_tps.last().unwrap(),
                torch_tps.last().map_or("-".into(), |t| format!("{t:.0}")),
                load_avg()
            );
        }
        rows.push((
            stage,
            s.batch_size,
            tokens,
            median(&rust_tps),
            median(&torch_tps),
            rust_tps,
            torch_tps,
            loads,
        ));
    }
    writeln!(
        out,
        "Training steps (forward, backward, AdamW with value clipping 5) on Resume train batches of \
         `configs/resume.toml` (model d_model {}, {} heads, ff ×{}, char/bigram dims {}/{}, \
         {} chars / {} bigrams, {} tags; dropout as configured; token dropout off in both): \
         the trainer's batching (shuffled, length-sorted within pools), {n_batches} timed batches \
         after {warmup} warm-up batches, seed 42+stage. Stage 1 = encoder + vectorised InfoNCE \
         (batch {}); stage 2 = encoder + linear + CRF NLL (batch {}) — Burn uses `Crf::nll_fast` \
         (host forward–backward), PyTorch the autograd forward algorithm. PyTorch: \
         `bench/torch_tagger.py` ({}), CPU, `torch.set_num_threads(2)`, `OMP_WAIT_POLICY={}` (libgomp's default spin-wait made PyTorch 8–10× slower on this shared machine: 505–672 tok/s in stage 1), the same batches (exported \
         to `bench/batches_resume.json`), started once per repetition (import and its own 2 warm-up \
         batches not timed). Burn and PyTorch alternate; median of {REPS}.\n",
        m.d_model,
        m.n_heads,
        m.ff_mult,
        m.char_dim,
        m.bigram_dim,
        m.n_chars,
        m.n_bigrams,
        m.n_tags,
        cfg.stage1.batch_size,
        cfg.stage2.batch_size,
        if torch_version.is_empty() {
            "torch not installed".to_string()
        } else {
            format!("torch {torch_version}")
        },
        std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into())
    )?;
    writeln!(
        out,
        "| stage | batch | tokens timed | Burn tok/s | PyTorch tok/s | Burn / PyTorch | Burn runs | PyTorch runs | load per repetition |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    for (stage, bs, tokens, r, t, rs, ts, loads) in rows {
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "| {stage} | {bs} | {tokens} | {r:.0} | {} | **{}** | {} | {} | {} |",
            if t.is_nan() {
                "n/a".into()
            } else {
                format!("{t:.0}")
            },
            if t.is_nan() {
                "n/a".into()
            } else {
                format!("{:.2}×", r / t)
            },
            list(&rs),
            list(&ts),
            loads.join("; ")
        )?;
    }
    writeln!(out, "\nTarget: Burn ≥ 1.0× PyTorch.")?;
    Ok(out)
}
