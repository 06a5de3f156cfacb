//! Host-side decoding from emissions and CRF scores: Viterbi and forward–backward marginals.
//! Runs on plain `f32` slices so the same code serves the trainer, `predict` and the browser
//! (where reading tensors back is asynchronous, so decoding after one read-back is simpler).

use serde::{Deserialize, Serialize};

/// Effective CRF scores (constraints included), as exported by [`crate::model::Crf::export`].
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
    pub fn path_score(&self, emissions: &[f32], tags: &[usize]) -> f32 {
        let n = self.n_tags;
        let mut s = self.start[tags[0]] + self.end[*tags.last().unwrap()];
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
            if m == f64::NEG_INFINITY { m } else { m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln() }
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
                alpha[t * n + to] = lse(&mut (0..n).map(|f| alpha[(t - 1) * n + f] + self.trans(f, to) as f64)) + e(t, to);
            }
        }
        for t in (0..len - 1).rev() {
            for from in 0..n {
                beta[t * n + from] =
                    lse(&mut (0..n).map(|to| self.trans(from, to) as f64 + e(t + 1, to) + beta[(t + 1) * n + to]));
            }
        }
        let log_z = lse(&mut (0..n).map(|k| alpha[(len - 1) * n + k] + self.end[k] as f64));
        (alpha, beta, log_z)
    }

    /// `log Z` of emissions `[len * n_tags]`, in f64.
    pub fn log_partition(&self, emissions: &[f32]) -> f64 {
        self.forward_backward(emissions).2
    }

    /// Per-position tag marginals `P(y_t = k | x)`, `[len * n_tags]`.
    pub fn marginals(&self, emissions: &[f32]) -> Vec<f32> {
        if emissions.is_empty() {
            return Vec::new();
        }
        let (alpha, beta, log_z) = self.forward_backward(emissions);
        alpha.iter().zip(&beta).map(|(a, b)| (a + b - log_z).exp() as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn random_scores(rng: &mut StdRng, n: usize) -> CrfScores {
        let mut r = |k| (0..k).map(|_| rng.random_range(-2.0..2.0)).collect::<Vec<f32>>();
        CrfScores { n_tags: n, transitions: r(n * n), start: r(n), end: r(n) }
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
    fn forbidden_transitions_are_never_decoded() {
        // Tag 1 may never follow tag 0, yet emissions push hard for it.
        let mut crf = CrfScores { n_tags: 2, transitions: vec![0.0; 4], start: vec![0.0; 2], end: vec![0.0; 2] };
        crf.transitions[1] = -1e4;
        let em = vec![5.0, 0.0, 0.0, 4.0, 0.0, 4.0];
        let path = crf.viterbi(&em);
        assert!(path.windows(2).all(|w| !(w[0] == 0 && w[1] == 1)), "{path:?}");
    }
}
