//! Suite `infonce`: the vectorised stage-1 loss against the reference implementation's
//! per-class form, forward + backward, both checked against the f64 per-pair loss.

use super::timing::{REPS, median, ms};
use crate::machine::load_avg;
use anyhow::{Result, bail};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use model_core::host::tensor_values;
use model_core::loss::{Queries, info_nce, info_nce_naive};
use model_core::tags::NON_ENTITY;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::time::Instant;

const DIM: usize = 160;
const TAU: f64 = 0.07;

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

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

/// `n` random representations of width `d` (flattened), 25 % of them entity tokens spread over
/// 8 classes, seeded by `n`.
fn random_case(n: usize, d: usize) -> (Vec<usize>, Vec<f32>) {
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
    (classes, host)
}

/// Milliseconds of one forward + backward of `loss` on a fresh leaf, and the loss value.
fn time_loss(
    host: &[f32],
    n: usize,
    ad: &Device,
    loss: impl Fn(Tensor<2>) -> Option<Tensor<1>>,
) -> (f64, f64) {
    let x = Tensor::<2>::from_data(TensorData::new(host.to_vec(), [n, DIM]), ad).require_grad();
    let t = Instant::now();
    let l = loss(x.clone()).expect("a contributing class");
    let v = l.clone().into_scalar::<f32>() as f64;
    let g = l.backward();
    let _ = tensor_values(x.grad(&g).expect("gradient"));
    (ms(t), v)
}

/// One table row: both forms at `n` tokens, timed alternately, losses checked against the
/// per-pair reference.
fn row(n: usize, ad: &Device) -> Result<String> {
    let (classes, host) = random_case(n, DIM);
    let reps_host: Vec<Vec<f32>> = host.chunks(DIM).map(<[f32]>::to_vec).collect();
    let naive = info_nce_naive(&reps_host, &classes, TAU, Queries::Entities);
    let run_vec = || {
        time_loss(&host, n, ad, |x| {
            info_nce(x, &classes, TAU, Queries::Entities)
        })
    };
    let run_ref = || time_loss(&host, n, ad, |x| info_nce_per_class(x, &classes, TAU));
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
    Ok(format!(
        "| {n} | {entities} | {mv:.1} | {mr:.1} | **{:.1}×** | {v_vec:.4} / {v_ref:.4} / {naive:.4} | {} |",
        mr / mv,
        load_avg()
    ))
}

pub(super) fn run(device: &Device) -> Result<String> {
    let ad = device.clone().autodiff();
    ad.seed(7);
    let (d, tau) = (DIM, TAU);
    let mut out = String::new();
    writeln!(
        out,
        "Forward + backward of the stage-1 loss on `[N, {d}]` random representations (autodiff Flex \
         CPU device), 25 % entity tokens spread over 8 Semantic Classes, the rest Non-Entity, τ = {tau}. \
         *Vectorised* is `model_core::loss::info_nce` (one `Q × N` similarity block); *per-class* is \
         the reference's form (`info_nce_per_class` in bench/infonce.rs: per class a `P × (P−1) × (1+N)` \
         logits tensor, log-softmax, mean, summed over classes). Both losses are checked against the \
         f64 per-pair `info_nce_naive`. Median of {REPS} alternating repetitions.\n"
    )?;
    writeln!(
        out,
        "| tokens N | entity tokens | vectorised ms | per-class ms | speed-up | loss (vec / per-class / naive f64) | load |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for n in [500usize, 1000, 2000] {
        writeln!(out, "{}", row(n, &ad)?)?;
    }
    writeln!(out, "\nTarget: ≥ 20× the reference form.")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_form_equals_the_per_pair_loss() {
        let ad = Device::flex().autodiff();
        let (classes, host) = random_case(120, DIM);
        let x = Tensor::<2>::from_data(TensorData::new(host.clone(), [120, DIM]), &ad);
        let got = info_nce_per_class(x, &classes, TAU)
            .unwrap()
            .into_scalar::<f32>() as f64;
        let reps: Vec<Vec<f32>> = host.chunks(DIM).map(<[f32]>::to_vec).collect();
        let want = info_nce_naive(&reps, &classes, TAU, Queries::Entities);
        assert!(
            (got - want).abs() < 1e-3 * want.abs().max(1.0),
            "{got} vs {want}"
        );
        // No class with two members: nothing contributes.
        let lone = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 2 * DIM], [2, DIM]), &ad);
        assert!(info_nce_per_class(lone, &[1, 2], TAU).is_none());
    }
}
