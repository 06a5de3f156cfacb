//! Host-side decoding from emissions and CRF scores: Viterbi and forward–backward marginals.
//! Runs on plain `f32` slices so the same code serves the trainer, `predict` and the browser
//! (where reading tensors back is asynchronous, so decoding after one read-back is simpler).

use serde::{Deserialize, Serialize};

/// Effective CRF scores (constraints included), as read back by [`crate::model::Crf::host_scores`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrfScores {
    pub n_tags: usize,
    /// `[from * n_tags + to]`.
    pub transitions: Vec<f32>,
    pub start: Vec<f32>,
    pub end: Vec<f32>,
}

impl CrfScores {
    fn trans(&self, from: usize, to: usize) -> f32 {
        self.transitions[from * self.n_tags + to]
    }

    /// Score of one tag sequence: emissions `[len * n_tags]`.
    pub(crate) fn path_score(&self, emissions: &[f32], tags: &[usize]) -> f32 {
        let n = self.n_tags;
        let (Some(&first), Some(&last)) = (tags.first(), tags.last()) else {
            return 0.0;
        };
        let mut s = self.start[first] + self.end[last];
        for (t, &tag) in tags.iter().enumerate() {
            s += emissions[t * n + tag];
            if t > 0 {
                s += self.trans(tags[t - 1], tag);
            }
        }
        s
    }

    /// Highest-scoring tag sequence for emissions `[len * n_tags]` (empty for `len == 0`).
    pub fn viterbi(&self, emissions: &[f32]) -> Vec<usize> {
        let n = self.n_tags;
        let len = emissions.len() / n;
        if len == 0 {
            return Vec::new();
        }
        let mut score: Vec<f32> = (0..n).map(|k| self.start[k] + emissions[k]).collect();
        let mut back = vec![0usize; len * n];
        let mut next = vec![0f32; n];
        for t in 1..len {
            for to in 0..n {
                let (best, arg) = (0..n)
                    .map(|from| (score[from] + self.trans(from, to), from))
                    .fold((f32::NEG_INFINITY, 0), |a, b| if b.0 > a.0 { b } else { a });
                next[to] = best + emissions[t * n + to];
                back[t * n + to] = arg;
            }
            std::mem::swap(&mut score, &mut next);
        }
        let (_, mut tag) = (0..n)
            .map(|k| (score[k] + self.end[k], k))
            .fold((f32::NEG_INFINITY, 0), |a, b| if b.0 > a.0 { b } else { a });
        let mut path = vec![0; len];
        for t in (0..len).rev() {
            path[t] = tag;
            tag = back[t * n + tag];
        }
        path
    }

    fn forward_backward(&self, emissions: &[f32]) -> (Vec<f64>, Vec<f64>, f64) {
        let n = self.n_tags;
        let len = emissions.len() / n;
        let lse = |v: &mut dyn Iterator<Item = f64>| {
            let v: Vec<f64> = v.collect();
            let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if m == f64::NEG_INFINITY {
                m
            } else {
                m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
            }
        };
        let e = |t: usize, k: usize| emissions[t * n + k] as f64;
        let mut alpha = vec![0f64; len * n];
        let mut beta = vec![0f64; len * n];
        for k in 0..n {
            alpha[k] = self.start[k] as f64 + e(0, k);
            beta[(len - 1) * n + k] = self.end[k] as f64;
        }
        for t in 1..len {
            for to in 0..n {
                alpha[t * n + to] =
                    lse(&mut (0..n).map(|f| alpha[(t - 1) * n + f] + self.trans(f, to) as f64))
                        + e(t, to);
            }
        }
        for t in (0..len - 1).rev() {
            for from in 0..n {
                beta[t * n + from] = lse(&mut (0..n)
                    .map(|to| self.trans(from, to) as f64 + e(t + 1, to) + beta[(t + 1) * n + to]));
            }
        }
        let log_z = lse(&mut (0..n).map(|k| alpha[(len - 1) * n + k] + self.end[k] as f64));
        (alpha, beta, log_z)
    }

    /// Negative log-likelihood of `gold` and its gradients, by a scaled forward–backward pass in
    /// probability space (no logs in the inner loops): `d_emissions` `[len * n]` is
    /// `P(y_t = k) − [gold_t = k]`; `d_transitions` `[n * n]`, `d_start`, `d_end` are expected
    /// minus gold counts, *added* into the given accumulators (a batch sums them).
    pub(crate) fn nll_gradients(
        &self,
        emissions: &[f32],
        gold: &[usize],
        d_emissions: &mut [f32],
        d_transitions: &mut [f64],
        d_start: &mut [f64],
        d_end: &mut [f64],
    ) -> f64 {
        let n = self.n_tags;
        let len = gold.len();
        debug_assert_eq!(emissions.len(), len * n);
        let m: Vec<f64> = self.transitions.iter().map(|&x| (x as f64).exp()).collect();
        let st: Vec<f64> = self.start.iter().map(|&x| (x as f64).exp()).collect();
        let en: Vec<f64> = self.end.iter().map(|&x| (x as f64).exp()).collect();
        // Emissions shifted by their row maximum, exponentiated.
        let mut p = vec![0f64; len * n];
        let mut log_z = 0.0;
        for t in 0..len {
            let row = &emissions[t * n..(t + 1) * n];
            let mx = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            log_z += mx;
            for k in 0..n {
                p[t * n + k] = (row[k] as f64 - mx).exp();
            }
        }
        let mut alpha = vec![0f64; len * n];
        let mut c = vec![0f64; len];
        for k in 0..n {
            alpha[k] = st[k] * p[k];
        }
        for t in 0..len {
            if t > 0 {
                for j in 0..n {
                    let mut acc = 0.0;
                    for i in 0..n {
                        acc += alpha[(t - 1) * n + i] * m[i * n + j];
                    }
                    alpha[t * n + j] = acc * p[t * n + j];
                }
            }
            c[t] = alpha[t * n..(t + 1) * n]
                .iter()
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            for k in 0..n {
                alpha[t * n + k] /= c[t];
            }
            log_z += c[t].ln();
        }
        let last = (len - 1) * n;
        let d: f64 = (0..n)
            .map(|k| alpha[last + k] * en[k])
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        log_z += d.ln();
        let mut beta = vec![0f64; len * n];
        for k in 0..n {
            beta[last + k] = en[k] / d;
        }
        for t in (0..len - 1).rev() {
            for i in 0..n {
                let mut acc = 0.0;
                for j in 0..n {
                    acc += m[i * n + j] * p[(t + 1) * n + j] * beta[(t + 1) * n + j];
                }
                beta[t * n + i] = acc / c[t + 1];
            }
        }
        for t in 0..len {
            for k in 0..n {
                d_emissions[t * n + k] += (alpha[t * n + k] * beta[t * n + k]) as f32;
            }
            d_emissions[t * n + gold[t]] -= 1.0;
            if t + 1 < len {
                for i in 0..n {
                    let a = alpha[t * n + i] / c[t + 1];
                    if a == 0.0 {
                        continue;
                    }
                    for j in 0..n {
                        d_transitions[i * n + j] +=
                            a * m[i * n + j] * p[(t + 1) * n + j] * beta[(t + 1) * n + j];
                    }
                }
                d_transitions[gold[t] * n + gold[t + 1]] -= 1.0;
            }
        }
        for k in 0..n {
            d_start[k] += alpha[k] * beta[k];
            d_end[k] += alpha[last + k] * beta[last + k];
        }
        d_start[gold[0]] -= 1.0;
        d_end[gold[len - 1]] -= 1.0;
        log_z - self.path_score(emissions, gold) as f64
    }

    /// `log Z` of emissions `[len * n_tags]`, in f64 (the reference the device CRF is tested against).
    #[cfg(test)]
    pub(crate) fn log_partition(&self, emissions: &[f32]) -> f64 {
        self.forward_backward(emissions).2
    }

    /// Per-position tag marginals `P(y_t = k | x)`, `[len * n_tags]`.
    pub(crate) fn marginals(&self, emissions: &[f32]) -> Vec<f32> {
        if emissions.is_empty() {
            return Vec::new();
        }
        let (alpha, beta, log_z) = self.forward_backward(emissions);
        alpha
            .iter()
            .zip(&beta)
            .map(|(a, b)| (a + b - log_z).exp() as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn random_scores(rng: &mut StdRng, n: usize) -> CrfScores {
        let mut r = |k| {
            (0..k)
                .map(|_| rng.random_range(-2.0..2.0))
                .collect::<Vec<f32>>()
        };
        CrfScores {
            n_tags: n,
            transitions: r(n * n),
            start: r(n),
            end: r(n),
        }
    }

    fn all_paths(n: usize, len: usize) -> Vec<Vec<usize>> {
        (0..n.pow(len as u32))
            .map(|mut k| {
                (0..len)
                    .map(|_| {
                        let t = k % n;
                        k /= n;
                        t
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn viterbi_and_partition_equal_brute_force() {
        let mut rng = StdRng::seed_from_u64(7);
        for case in 0..30 {
            let n = 2 + case % 3;
            let len = 1 + case % 4;
            let crf = random_scores(&mut rng, n);
            let em: Vec<f32> = (0..len * n).map(|_| rng.random_range(-3.0..3.0)).collect();
            let paths = all_paths(n, len);
            let scores: Vec<f32> = paths.iter().map(|p| crf.path_score(&em, p)).collect();
            let best = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = scores.iter().map(|&s| (s as f64).exp()).sum::<f64>().ln();
            assert!((crf.path_score(&em, &crf.viterbi(&em)) - best).abs() < 1e-4);
            assert!((crf.log_partition(&em) - z).abs() < 1e-4);
            // Marginals: brute-force sums of path probabilities.
            let m = crf.marginals(&em);
            for t in 0..len {
                for k in 0..n {
                    let p: f64 = paths
                        .iter()
                        .zip(&scores)
                        .filter(|(p, _)| p[t] == k)
                        .map(|(_, &s)| (s as f64 - z).exp())
                        .sum();
                    assert!((m[t * n + k] as f64 - p).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn nll_gradients_match_finite_differences() {
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..10 {
            let n = 3 + case % 2;
            let len = 1 + case % 5;
            let crf = random_scores(&mut rng, n);
            let em: Vec<f32> = (0..len * n).map(|_| rng.random_range(-3.0..3.0)).collect();
            let gold: Vec<usize> = (0..len).map(|_| rng.random_range(0..n)).collect();
            let (mut de, mut dt, mut ds, mut dn) = (
                vec![0f32; len * n],
                vec![0f64; n * n],
                vec![0f64; n],
                vec![0f64; n],
            );
            let nll = crf.nll_gradients(&em, &gold, &mut de, &mut dt, &mut ds, &mut dn);
            let exact = crf.log_partition(&em) - crf.path_score(&em, &gold) as f64;
            assert!((nll - exact).abs() < 1e-4, "{nll} vs {exact}");
            let h = 1e-2f32;
            for k in 0..len * n {
                let (mut up, mut down) = (em.clone(), em.clone());
                up[k] += h;
                down[k] -= h;
                let f = |e: &[f32]| crf.log_partition(e) - crf.path_score(e, &gold) as f64;
                let fd = (f(&up) - f(&down)) / (2.0 * h as f64);
                assert!(
                    (fd - de[k] as f64).abs() < 1e-2,
                    "d emission {k}: {fd} vs {}",
                    de[k]
                );
            }
            for k in 0..n * n {
                let (mut up, mut down) = (crf.clone(), crf.clone());
                up.transitions[k] += h;
                down.transitions[k] -= h;
                let f = |c: &CrfScores| c.log_partition(&em) - c.path_score(&em, &gold) as f64;
                let fd = (f(&up) - f(&down)) / (2.0 * h as f64);
                assert!(
                    (fd - dt[k]).abs() < 1e-2,
                    "d transition {k}: {fd} vs {}",
                    dt[k]
                );
            }
            for k in 0..n {
                let (mut up, mut down) = (crf.clone(), crf.clone());
                up.start[k] += h;
                down.start[k] -= h;
                let fs = (up.log_partition(&em)
                    - up.path_score(&em, &gold) as f64
                    - down.log_partition(&em)
                    + down.path_score(&em, &gold) as f64)
                    / (2.0 * h as f64);
                assert!((fs - ds[k]).abs() < 1e-2);
                let (mut up, mut down) = (crf.clone(), crf.clone());
                up.end[k] += h;
                down.end[k] -= h;
                let fe = (up.log_partition(&em)
                    - up.path_score(&em, &gold) as f64
                    - down.log_partition(&em)
                    + down.path_score(&em, &gold) as f64)
                    / (2.0 * h as f64);
                assert!((fe - dn[k]).abs() < 1e-2);
            }
        }
    }

    #[test]
    fn forbidden_transitions_are_never_decoded() {
        // Tag 1 may never follow tag 0, yet emissions push hard for it.
        let mut crf = CrfScores {
            n_tags: 2,
            transitions: vec![0.0; 4],
            start: vec![0.0; 2],
            end: vec![0.0; 2],
        };
        crf.transitions[1] = -1e4;
        let em = vec![5.0, 0.0, 0.0, 4.0, 0.0, 4.0];
        let path = crf.viterbi(&em);
        assert!(
            path.windows(2).all(|w| !(w[0] == 0 && w[1] == 1)),
            "{path:?}"
        );
    }
}
