//! Linear-chain CRF with start/end transitions: batched, masked forward algorithm in log space
//! for the negative log-likelihood. Decoding (Viterbi, marginals) runs on the host in
//! [`crate::decode`] from the weights this module exports.

use crate::tags::TagSet;
use burn::module::Param;
use burn::prelude::*;

/// Additive penalty on transitions the tagging scheme forbids. Large enough that no emission can
/// outweigh it, small enough to stay finite in f32 sums.
pub const FORBIDDEN: f32 = 1e4;

#[derive(Config, Debug)]
pub struct CrfConfig {
    pub(crate) n_tags: usize,
}

#[derive(Module, Debug)]
pub struct Crf {
    /// `transitions[from, to]`.
    pub transitions: Param<Tensor<2>>,
    pub start: Param<Tensor<1>>,
    pub end: Param<Tensor<1>>,
}

/// The scheme's hard constraints as additive tensors (not parameters: they never learn).
#[derive(Clone, Debug)]
pub struct CrfConstraints {
    pub(crate) transitions: Tensor<2>,
    pub(crate) start: Tensor<1>,
    pub(crate) end: Tensor<1>,
}

impl CrfConstraints {
    pub fn new(tags: &TagSet, device: &Device) -> Self {
        let n = tags.len();
        let (t, s, e) = tags.penalties(FORBIDDEN);
        Self {
            transitions: Tensor::from_data(TensorData::new(t, [n, n]), device),
            start: Tensor::from_data(TensorData::new(s, [n]), device),
            end: Tensor::from_data(TensorData::new(e, [n]), device),
        }
    }
}

impl CrfConfig {
    pub(crate) fn init(&self, device: &Device) -> Crf {
        let n = self.n_tags;
        Crf {
            transitions: Param::from_tensor(Tensor::zeros([n, n], device)),
            start: Param::from_tensor(Tensor::zeros([n], device)),
            end: Param::from_tensor(Tensor::zeros([n], device)),
        }
    }
}

/// `log Σ exp` along `dim`, keeping the dimension.
pub(crate) fn log_sum_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().max_dim(dim).detach();
    (x - max.clone()).exp().sum_dim(dim).log() + max
}

impl Crf {
    /// Transition, start and end scores with the constraints applied.
    pub fn effective(&self, c: &CrfConstraints) -> (Tensor<2>, Tensor<1>, Tensor<1>) {
        (
            self.transitions.val() + c.transitions.clone(),
            self.start.val() + c.start.clone(),
            self.end.val() + c.end.clone(),
        )
    }

    /// Log-partition per sentence, `[batch]`. `emissions`: `[batch, len, tags]`; `lengths` ≥ 1.
    pub(crate) fn log_partition(
        &self,
        emissions: Tensor<3>,
        lengths: &[usize],
        c: &CrfConstraints,
    ) -> Tensor<1> {
        let [b, l, n] = emissions.dims();
        let device = emissions.device();
        let (trans, start, end) = self.effective(c);
        let trans = trans.unsqueeze_dim::<3>(0); // [1, from, to]
        let mut alpha = emissions.clone().narrow(1, 0, 1).reshape([b, n]) + start.unsqueeze_dim(0);
        for t in 1..l {
            let emit = emissions.clone().narrow(1, t, 1).reshape([b, 1, n]);
            let scores = alpha.clone().reshape([b, n, 1]) + trans.clone() + emit;
            let next = log_sum_exp(scores, 1).reshape([b, n]);
            // Sentences already ended keep their alpha.
            if lengths.iter().all(|&len| len > t) {
                alpha = next;
            } else {
                let live: Vec<bool> = lengths
                    .iter()
                    .flat_map(|&len| std::iter::repeat_n(len > t, n))
                    .collect();
                let live = Tensor::<2, Bool>::from_data(TensorData::new(live, [b, n]), &device);
                alpha = alpha.mask_where(live, next);
            }
        }
        log_sum_exp(alpha + end.unsqueeze_dim(0), 1).reshape([b])
    }

    /// Score of the given tag sequences, `[batch]`. `tags`: `[batch, len]` (padding ignored).
    pub(crate) fn sequence_score(
        &self,
        emissions: Tensor<3>,
        tags: &[Vec<usize>],
        c: &CrfConstraints,
    ) -> Tensor<1> {
        let [b, l, n] = emissions.dims();
        let device = emissions.device();
        let (trans, start, end) = self.effective(c);
        // Flattened indices into emissions, transitions, start and end, with a 0/1 weight each
        // so one gather + weighted sum covers every sentence length.
        let mut emit_idx = Vec::with_capacity(b * l);
        let mut emit_w = Vec::with_capacity(b * l);
        let mut trans_idx = Vec::with_capacity(b * l);
        let mut trans_w = Vec::with_capacity(b * l);
        let mut first = Vec::with_capacity(b);
        let mut last = Vec::with_capacity(b);
        for (s, seq) in tags.iter().enumerate() {
            for t in 0..l {
                let tag = seq.get(t).copied().unwrap_or(0);
                emit_idx.push(((s * l + t) * n + tag) as i64);
                emit_w.push(if t < seq.len() { 1f32 } else { 0.0 });
                if t + 1 < l {
                    let next = seq.get(t + 1).copied().unwrap_or(0);
                    trans_idx.push((tag * n + next) as i64);
                    trans_w.push(if t + 1 < seq.len() { 1f32 } else { 0.0 });
                }
            }
            first.push(seq[0] as i64);
            last.push(*seq.last().expect("empty tag sequence") as i64);
        }
        let ints = |v: Vec<i64>| {
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
        };
        let floats = |v: Vec<f32>, shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v, shape), &device)
        };
        let emit = emissions
            .reshape([b * l * n])
            .select(0, ints(emit_idx))
            .reshape([b, l])
            .mul(floats(emit_w, [b, l]))
            .sum_dim(1)
            .reshape([b]);
        let mut total = emit + start.select(0, ints(first)) + end.select(0, ints(last));
        if l > 1 {
            let tr = trans
                .reshape([n * n])
                .select(0, ints(trans_idx))
                .reshape([b, l - 1])
                .mul(floats(trans_w, [b, l - 1]))
                .sum_dim(1)
                .reshape([b]);
            total = total + tr;
        }
        total
    }

    /// Summed negative log-likelihood of the gold sequences.
    pub fn nll(&self, emissions: Tensor<3>, tags: &[Vec<usize>], c: &CrfConstraints) -> Tensor<1> {
        let lengths: Vec<usize> = tags.iter().map(Vec::len).collect();
        let log_z = self.log_partition(emissions.clone(), &lengths, c);
        (log_z - self.sequence_score(emissions, tags, c)).sum()
    }

    /// The summed negative log-likelihood by host forward–backward: returns a surrogate scalar
    /// whose gradient equals the NLL's (`Σ emissions · (marginals − gold)` plus the same for
    /// transitions, start and end) and the NLL's value. One read-back and four products replace
    /// the `len`-step autodiff graph of [`Crf::nll`], which dominates a training step otherwise.
    pub fn nll_fast(
        &self,
        emissions: Tensor<3>,
        tags: &[Vec<usize>],
        c: &CrfConstraints,
    ) -> (Tensor<1>, f64) {
        let [b, l, n] = emissions.dims();
        let device = emissions.device();
        let em = crate::host::tensor_values(emissions.clone());
        let host = self.host_scores(c);
        let mut d_em = vec![0f32; b * l * n];
        let (mut d_tr, mut d_st, mut d_en) = (vec![0f64; n * n], vec![0f64; n], vec![0f64; n]);
        let mut nll = 0.0;
        for (s, gold) in tags.iter().enumerate() {
            let len = gold.len();
            let off = s * l * n;
            nll += host.nll_gradients(
                &em[off..off + len * n],
                gold,
                &mut d_em[off..off + len * n],
                &mut d_tr,
                &mut d_st,
                &mut d_en,
            );
        }
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (trans, start, end) = self.effective(c);
        let surrogate =
            (emissions * Tensor::<3>::from_data(TensorData::new(d_em, [b, l, n]), &device)).sum()
                + (trans * Tensor::<2>::from_data(TensorData::new(f(d_tr), [n, n]), &device)).sum()
                + (start * Tensor::<1>::from_data(TensorData::new(f(d_st), [n]), &device)).sum()
                + (end * Tensor::<1>::from_data(TensorData::new(f(d_en), [n]), &device)).sum();
        (surrogate, nll)
    }

    /// Host copies of the effective scores (constraints added), for decoding; read back
    /// synchronously (on WebGPU, read [`Crf::effective`] asynchronously instead).
    pub fn host_scores(&self, c: &CrfConstraints) -> crate::decode::CrfScores {
        let (t, s, e) = self.effective(c);
        use crate::host::tensor_values as v;
        crate::decode::CrfScores {
            n_tags: s.dims()[0],
            transitions: v(t),
            start: v(s),
            end: v(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scheme;
    use burn::tensor::Distribution;

    #[test]
    fn batched_partition_and_scores_equal_the_host_reference() {
        let device = Device::flex();
        device.seed(3);
        let tags = TagSet::new(Scheme::Bio, ["LOC".into(), "PER".into()]);
        let n = tags.len();
        let crf = Crf {
            transitions: Param::from_tensor(Tensor::random(
                [n, n],
                Distribution::Normal(0.0, 1.0),
                &device,
            )),
            start: Param::from_tensor(Tensor::random([n], Distribution::Normal(0.0, 1.0), &device)),
            end: Param::from_tensor(Tensor::random([n], Distribution::Normal(0.0, 1.0), &device)),
        };
        let c = CrfConstraints::new(&tags, &device);
        let host = crf.host_scores(&c);
        let lengths = [4usize, 1, 3];
        let l = 4;
        let em = Tensor::<3>::random([3, l, n], Distribution::Normal(0.0, 2.0), &device);
        let em_host: Vec<f32> = em.clone().into_data().try_to_vec::<f32>().unwrap();
        let log_z: Vec<f32> = crf
            .log_partition(em.clone(), &lengths, &c)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let gold: Vec<Vec<usize>> = lengths
            .iter()
            .map(|&len| (0..len).map(|t| [1, 2, 3, 0][t]).collect())
            .collect();
        let score: Vec<f32> = crf
            .sequence_score(em, &gold, &c)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (b, &len) in lengths.iter().enumerate() {
            let e = &em_host[b * l * n..(b * l + len) * n];
            assert!(
                (log_z[b] as f64 - host.log_partition(e)).abs() < 1e-3,
                "log Z of sentence {b}"
            );
            assert!(
                (score[b] - host.path_score(e, &gold[b])).abs() < 1e-3,
                "score of sentence {b}"
            );
        }
    }

    #[test]
    fn fast_nll_has_the_autodiff_gradients_and_value() {
        let device = Device::flex().autodiff();
        device.seed(9);
        let tags = TagSet::new(Scheme::Bioes, ["LOC".into(), "PER".into()]);
        let n = tags.len();
        let c = CrfConstraints::new(&tags, &device);
        let mk = || Crf {
            transitions: Param::from_tensor(Tensor::random(
                [n, n],
                Distribution::Normal(0.0, 1.0),
                &device,
            )),
            start: Param::from_tensor(Tensor::random([n], Distribution::Normal(0.0, 1.0), &device)),
            end: Param::from_tensor(Tensor::random([n], Distribution::Normal(0.0, 1.0), &device)),
        };
        let crf = mk();
        let em =
            Tensor::<3>::random([2, 5, n], Distribution::Normal(0.0, 2.0), &device).require_grad();
        let gold = vec![vec![0, 1, 3, 4, 0], vec![8, 0, 5, 7]];
        let slow = crf.nll(em.clone(), &gold, &c);
        let slow_value = slow.clone().into_scalar::<f32>() as f64;
        let g_slow = slow.backward();
        let (fast, fast_value) = crf.nll_fast(em.clone(), &gold, &c);
        let g_fast = fast.backward();
        assert!(
            (slow_value - fast_value).abs() < 1e-2 * slow_value.abs().max(1.0),
            "{slow_value} vs {fast_value}"
        );
        let v = |t: Option<Tensor<3>>| t.unwrap().into_data().try_to_vec::<f32>().unwrap();
        let (a, b) = (v(em.grad(&g_slow)), v(em.grad(&g_fast)));
        // Padding positions of the shorter sentence get no gradient from either.
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-3, "emission gradients {x} vs {y}");
        }
        let w = |t: Option<Tensor<2>>| t.unwrap().into_data().try_to_vec::<f32>().unwrap();
        for (x, y) in w(crf.transitions.val().grad(&g_slow))
            .iter()
            .zip(&w(crf.transitions.val().grad(&g_fast)))
        {
            assert!((x - y).abs() < 1e-3, "transition gradients {x} vs {y}");
        }
    }

    #[test]
    fn nll_is_positive_and_trains_toward_gold() {
        let device = Device::flex().autodiff();
        let tags = TagSet::new(Scheme::Bio, ["PER".into()]);
        let c = CrfConstraints::new(&tags, &device);
        let crf = CrfConfig::new(tags.len()).init(&device);
        let em = Tensor::<3>::zeros([1, 3, tags.len()], &device).require_grad();
        let gold = vec![vec![1, 2, 0]];
        let nll = crf.nll(em.clone(), &gold, &c);
        // Uniform scores: NLL = log(number of allowed paths) > 0.
        assert!(nll.clone().into_scalar::<f32>() > 0.0);
        let g: Vec<f32> = em
            .grad(&nll.backward())
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // The gradient pushes gold tags up (negative gradient on the NLL).
        assert!(g[1] < 0.0 && g[3 + 2] < 0.0 && g[6] < 0.0);
    }
}
