//! Losses: the Semantic-Class InfoNCE of NerCo's stage 1 (the CRF negative log-likelihood
//! lives with the CRF in [`crate::model::crf`]).
//!
//! For a query token i of Semantic Class c, positives are the other tokens of c in the batch and
//! negatives every token of another class. Per positive pair (i, j):
//! `ℓ_ij = −log(e^{s_ij/τ} / (e^{s_ij/τ} + Σ_{k∈neg(i)} e^{s_ik/τ}))`, which is
//! `softplus(LSE_neg(i) − s_ij/τ)`. The loss averages ℓ over the ordered pairs of each class and
//! sums over classes. One `Q × N` similarity block, one row-wise log-sum-exp over negatives, and the
//! positive pairs gathered from it replace the reference's per-class `P × (P−1) × (1+N)` tensors.

use crate::tags::NON_ENTITY;
use burn::prelude::*;

/// Which tokens act as queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queries {
    /// Entity tokens only (NerCo's filtering).
    Entities,
    /// Non-Entity tokens too (the `no-filter` ablation).
    All,
}

/// Per-class weights `1 / (n_c (n_c − 1))` for the classes that contribute, else 0.
fn class_weights(classes: &[usize], queries: Queries) -> Vec<f64> {
    let n_classes = classes.iter().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; n_classes];
    for &c in classes {
        count[c] += 1;
    }
    let total = classes.len();
    (0..n_classes)
        .map(|c| {
            let n = count[c];
            let eligible = queries == Queries::All || c != NON_ENTITY;
            if eligible && n >= 2 && total > n {
                1.0 / (n * (n - 1)) as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// Vectorised InfoNCE over token representations `reps` `[N, d]` with Semantic Classes
/// `classes` (length N). `None` when no class contributes (no backward pass needed).
pub fn info_nce(
    reps: Tensor<2>,
    classes: &[usize],
    tau: f64,
    queries: Queries,
) -> Option<Tensor<1>> {
    let [n, _] = reps.dims();
    assert_eq!(n, classes.len(), "one class per representation");
    let weights = class_weights(classes, queries);
    let query_rows: Vec<usize> = (0..n).filter(|&i| weights[classes[i]] > 0.0).collect();
    if query_rows.is_empty() {
        return None;
    }
    let q = query_rows.len();
    let device = reps.device();
    // The negatives mask is dense; the positive pairs are gathered, so the softplus and the
    // weights are evaluated only where a pair exists (≈ 1.4× faster than a dense weight block).
    let mut not_neg = vec![false; q * n];
    let (mut pair_row, mut pair_flat, mut pair_w) = (Vec::new(), Vec::new(), Vec::new());
    for (r, &i) in query_rows.iter().enumerate() {
        let c = classes[i];
        for (j, &cj) in classes.iter().enumerate() {
            if cj == c {
                not_neg[r * n + j] = true;
                if j != i {
                    pair_row.push(r as i64);
                    pair_flat.push((r * n + j) as i64);
                    pair_w.push(weights[c] as f32);
                }
            }
        }
    }
    let ints = |v: Vec<i64>| {
        let len = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
    };
    let pairs = pair_w.len();
    let norm = reps.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    let h = reps / norm;
    let idx = ints(query_rows.iter().map(|&i| i as i64).collect());
    let sim = h
        .clone()
        .select(0, idx)
        .matmul(h.transpose())
        .div_scalar(tau); // [q, n]
    let not_neg = Tensor::<2, Bool>::from_data(TensorData::new(not_neg, [q, n]), &device);
    let lse_neg =
        crate::model::crf::log_sum_exp(sim.clone().mask_fill(not_neg, -1e30), 1).reshape([q]);
    // ℓ = softplus(LSE_neg(i) − s_ij) at each positive pair (i, j).
    let x = lse_neg.select(0, ints(pair_row)) - sim.reshape([q * n]).select(0, ints(pair_flat));
    let softplus = x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p();
    let w = Tensor::<1>::from_data(TensorData::new(pair_w, [pairs]), &device);
    Some((softplus * w).sum())
}

/// The reference form, one pair at a time in f64: the ground truth for tests and benchmarks.
pub fn info_nce_naive(reps: &[Vec<f32>], classes: &[usize], tau: f64, queries: Queries) -> f64 {
    let weights = class_weights(classes, queries);
    let norm: Vec<Vec<f64>> = reps
        .iter()
        .map(|r| {
            let l = r
                .iter()
                .map(|&x| (x as f64).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            r.iter().map(|&x| x as f64 / l).collect()
        })
        .collect();
    let s = |i: usize, j: usize| {
        norm[i]
            .iter()
            .zip(&norm[j])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / tau
    };
    let mut loss = 0.0;
    for (i, &c) in classes.iter().enumerate() {
        if weights[c] == 0.0 {
            continue;
        }
        let negs: Vec<f64> = (0..classes.len())
            .filter(|&k| classes[k] != c)
            .map(|k| s(i, k).exp())
            .collect();
        let neg_sum: f64 = negs.iter().sum();
        for j in 0..classes.len() {
            if j != i && classes[j] == c {
                let pos = s(i, j).exp();
                loss += -(pos / (pos + neg_sum)).ln() * weights[c];
            }
        }
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn check(n: usize, d: usize, classes: Vec<usize>, queries: Queries, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let reps: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let device = Device::flex();
        let flat: Vec<f32> = reps.iter().flatten().cloned().collect();
        let t = Tensor::<2>::from_data(TensorData::new(flat, [n, d]), &device);
        let naive = info_nce_naive(&reps, &classes, 0.07, queries);
        match info_nce(t, &classes, 0.07, queries) {
            Some(v) => {
                let v = v.into_scalar::<f32>() as f64;
                assert!(
                    (v - naive).abs() < 1e-3 * naive.abs().max(1.0),
                    "vectorised {v} vs naive {naive}"
                );
            }
            None => assert_eq!(naive, 0.0),
        }
    }

    #[test]
    fn matches_the_per_pair_reference() {
        let mut rng = StdRng::seed_from_u64(1);
        for seed in 0..8 {
            let n = 20 + seed as usize * 7;
            let classes: Vec<usize> = (0..n).map(|_| rng.random_range(0..4)).collect();
            check(n, 16, classes.clone(), Queries::Entities, seed);
            check(n, 16, classes, Queries::All, seed + 100);
        }
    }

    #[test]
    fn a_class_with_one_token_contributes_nothing() {
        // Class 2 has a single token: it is only ever a negative.
        check(6, 8, vec![0, 1, 1, 2, 0, 1], Queries::Entities, 3);
        assert_eq!(class_weights(&[0, 1, 1, 2], Queries::Entities)[2], 0.0);
    }

    #[test]
    fn a_batch_without_entities_gives_no_loss() {
        let device = Device::flex();
        let t = Tensor::<2>::ones([5, 4], &device);
        assert!(info_nce(t, &[0; 5], 0.07, Queries::Entities).is_none());
        assert_eq!(
            info_nce_naive(&vec![vec![1.0; 4]; 5], &[0; 5], 0.07, Queries::Entities),
            0.0
        );
    }

    #[test]
    fn gradients_flow_to_the_representations() {
        let device = Device::flex().autodiff();
        let t = Tensor::<2>::random(
            [12, 8],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        )
        .require_grad();
        let classes = vec![1, 1, 2, 2, 0, 0, 1, 2, 0, 0, 1, 2];
        let loss = info_nce(t.clone(), &classes, 0.1, Queries::Entities).unwrap();
        let grads = loss.backward();
        let g = t.grad(&grads).unwrap().abs().sum().into_scalar::<f32>() as f64;
        assert!(g > 0.0);
    }
}
