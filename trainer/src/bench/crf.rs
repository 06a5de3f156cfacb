//! Suite `crf`: the CRF's cost against sentence length: NLL by the autodiff forward algorithm,
//! by host forward–backward (`nll_fast`), and host Viterbi decoding.

use super::timing::{REPS, median, ms};
use crate::machine::load_avg;
use anyhow::Result;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use model_core::data::Scheme;
use model_core::decode::CrfScores;
use model_core::host::tensor_values;
use model_core::model::{Crf, CrfConstraints};
use model_core::tags::TagSet;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::time::Instant;

const BATCH: usize = 10;
const LENGTHS: [usize; 5] = [16, 32, 64, 128, 256];

/// A CRF with random weights on Resume's tag set (BMES, 8 types), its constraints and its host
/// scores.
fn random_crf(ad: &Device) -> (Crf, CrfConstraints, CrfScores) {
    let types: Vec<String> = ["CONT", "EDU", "LOC", "NAME", "ORG", "PRO", "RACE", "TITLE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tags = TagSet::new(Scheme::Bmes, types);
    let n = tags.len();
    let c = CrfConstraints::new(&tags, ad);
    let normal = Distribution::Normal(0.0, 0.5);
    // Drawn in this order from the device's seed: transitions, start, end.
    let crf = Crf {
        transitions: Param::from_tensor(Tensor::random([n, n], normal, ad)),
        start: Param::from_tensor(Tensor::random([n], normal, ad)),
        end: Param::from_tensor(Tensor::random([n], normal, ad)),
    };
    let host = crf.host_scores(&c);
    (crf, c, host)
}

/// Median milliseconds of (autodiff NLL + backward, fast NLL + backward, Viterbi) on `BATCH`
/// sentences of length `l`, the three alternating.
fn time_length(
    l: usize,
    crf: &Crf,
    c: &CrfConstraints,
    host: &CrfScores,
    ad: &Device,
) -> (f64, f64, f64) {
    let n = host.n_tags;
    let em_host: Vec<f32> = {
        let mut rng = StdRng::seed_from_u64(l as u64);
        (0..BATCH * l * n)
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect()
    };
    let gold: Vec<Vec<usize>> = em_host.chunks(l * n).map(|e| host.viterbi(e)).collect();
    let leaf = || {
        Tensor::<3>::from_data(TensorData::new(em_host.clone(), [BATCH, l, n]), ad).require_grad()
    };
    let run_slow = || {
        let x = leaf();
        let t = Instant::now();
        let loss = crf.nll(x.clone(), &gold, c);
        let g = loss.backward();
        let _ = tensor_values(x.grad(&g).expect("gradient"));
        ms(t)
    };
    let run_fast = || {
        let x = leaf();
        let t = Instant::now();
        let (loss, _) = crf.nll_fast(x.clone(), &gold, c);
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
        assert_eq!(k, BATCH * l);
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
    (median(&a), median(&b), median(&v))
}

pub(super) fn run(device: &Device) -> Result<String> {
    let ad = device.clone().autodiff();
    ad.seed(5);
    let (crf, c, host) = random_crf(&ad);
    let (batch, n) = (BATCH, host.n_tags);
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
    for l in LENGTHS {
        let (a, b, v) = time_length(l, &crf, &c, &host, &ad);
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
