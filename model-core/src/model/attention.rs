//! Multi-head self-attention with FLAT's relative position encoding.
//!
//! FLAT (Li et al., 2020) scores a pair of spans by their content and by a fused encoding of the
//! distances between their heads and tails (`ff_two`: the head–head and tail–tail distances,
//! concatenated, through a linear layer and a ReLU). The fused encoding depends on the pair of
//! distances alone, so we compute it once per distinct pair ([`RelativePositions`]) and gather it
//! into the `L × L` score matrix, instead of materialising the `L × L × d` tensor FLAT builds.
//! Over characters, head = tail, so the pairs are the `2L - 1` distances `i - j`; in a lattice,
//! the distinct pairs of the batch are collected on the host ([`crate::batch::Lattice`]).

use crate::batch::Lattice;
use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

#[derive(Config, Debug)]
pub struct RelativeAttentionConfig {
    pub(crate) d_model: usize,
    pub(crate) n_heads: usize,
    /// Scale scores by `1/sqrt(head_dim)`; FLAT and TENER found unscaled attention sharper for NER.
    #[config(default = false)]
    pub(crate) scaled: bool,
    #[config(default = 0.0)]
    pub(crate) dropout: f64,
}

#[derive(Module, Debug)]
pub struct RelativeAttention {
    pub(crate) query: Linear,
    pub(crate) key: Linear,
    pub(crate) value: Linear,
    /// Projects the fused position encoding into key space.
    pub(crate) rel: Linear,
    /// FLAT's `ff_two` fusion of the head–head and tail–tail distance encodings.
    pub(crate) fusion: Linear,
    /// Global content and position biases (`u`, `v` of Transformer-XL), `[heads, head_dim]`.
    pub(crate) u: Param<Tensor<2>>,
    pub(crate) v: Param<Tensor<2>>,
    pub(crate) out: Linear,
    pub(crate) dropout: Dropout,
    pub(crate) n_heads: usize,
    pub(crate) d_model: usize,
    pub(crate) scaled: bool,
}

impl RelativeAttentionConfig {
    pub(crate) fn init(&self, device: &Device) -> RelativeAttention {
        // ModelConfig::validate refuses such a config before any model is built.
        debug_assert!(
            self.d_model % self.n_heads == 0,
            "d_model {} is not a multiple of n_heads {}",
            self.d_model,
            self.n_heads
        );
        let d = self.d_model;
        let hd = d / self.n_heads;
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        RelativeAttention {
            query: lin(d, d),
            key: lin(d, d),
            value: lin(d, d),
            rel: lin(d, d),
            fusion: lin(2 * d, d),
            u: Param::from_tensor(Tensor::zeros([self.n_heads, hd], device)),
            v: Param::from_tensor(Tensor::zeros([self.n_heads, hd], device)),
            out: lin(d, d),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
            d_model: d,
            scaled: self.scaled,
        }
    }
}

/// The sinusoidal encoding of a distance, written into `out` (`d` values: sines, then cosines).
fn sinusoid(dist: i32, out: &mut [f32]) {
    let half = out.len() / 2;
    for k in 0..half {
        let freq = (-(k as f32) * (10000f32).ln() / half.max(1) as f32).exp();
        out[k] = (dist as f32 * freq).sin();
        out[half + k] = (dist as f32 * freq).cos();
    }
}

/// Sinusoidal encodings of the distances `-(len-1) ..= len-1`, `[2len-1, d]`.
pub(crate) fn distance_encoding(len: usize, d: usize, device: &Device) -> Tensor<2> {
    let rows = 2 * len - 1;
    let mut data = vec![0f32; rows * d];
    for (r, out) in data.chunks_mut(d).enumerate() {
        sinusoid(r as i32 - (len as i32 - 1), out);
    }
    Tensor::from_data(TensorData::new(data, [rows, d]), device)
}

/// `idx[i, j] = (i - j) + len - 1`: the row of the distance table for each pair.
fn distance_index(len: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = (0..len * len)
        .map(|k| (k / len) as i64 - (k % len) as i64 + len as i64 - 1)
        .collect();
    Tensor::from_data(TensorData::new(data, [len, len]), device)
}

/// The relative positions of a batch's tokens, shared by every layer: the input of the `ff_two`
/// fusion for each distinct (head–head, tail–tail) distance pair, and each token pair's row.
#[derive(Clone, Debug)]
pub struct RelativePositions {
    /// `[pairs, 2 d]`: the encodings of the head–head and of the tail–tail distance.
    pub(crate) encodings: Tensor<2>,
    /// `[batch or 1, len, len]`: the row of `encodings` of each (query, key) pair.
    pub(crate) index: Tensor<3, Int>,
    /// The first `prefix` query rows use only `encodings[..prefix_pairs]` (a lattice's
    /// characters; all rows and pairs for a sequence).
    pub(crate) prefix: usize,
    pub(crate) prefix_pairs: usize,
    /// The row of `encodings` of the zero distance pair (0, 0).
    pub(crate) zero: usize,
    /// `index` is [`distance_index`] of a plain sequence (row `i - j + len - 1`), so the scores
    /// can be taken by the relative shift instead of a gather.
    pub(crate) shift: bool,
}

impl RelativePositions {
    /// A character sequence of `len`: head = tail, so the pairs are the distances `i - j`.
    pub(crate) fn sequence(len: usize, d: usize, device: &Device) -> Self {
        let pe = distance_encoding(len, d, device);
        Self {
            encodings: Tensor::cat(vec![pe.clone(), pe], 1),
            index: distance_index(len, device).unsqueeze_dim(0),
            prefix: len,
            prefix_pairs: 2 * len - 1,
            zero: len - 1,
            shift: true,
        }
    }

    /// These positions with a sentence token put in front of every sequence. The token has no
    /// place in the sentence: every pair it is in uses the zero distance, so it attends (and is
    /// attended to) by content alone, like a global token, and a FLAT lattice needs no new
    /// distance pairs.
    pub(crate) fn with_cls(self) -> Self {
        let [ib, l, _] = self.index.dims();
        let device = self.index.device();
        let zero = self.zero as i64;
        let col = Tensor::<3, Int>::full([ib, l, 1], zero, &device);
        let index = Tensor::cat(vec![col, self.index], 2);
        let row = Tensor::<3, Int>::full([ib, 1, l + 1], zero, &device);
        Self {
            index: Tensor::cat(vec![row, index], 1),
            prefix: self.prefix + 1,
            shift: false,
            ..self
        }
    }

    /// A lattice: the batch's distinct distance pairs.
    pub(crate) fn lattice(lattice: &Lattice, d: usize, device: &Device) -> Self {
        let u = lattice.distances.len();
        let mut data = vec![0f32; u * 2 * d];
        for (&(hh, tt), out) in lattice.distances.iter().zip(data.chunks_mut(2 * d)) {
            let (head, tail) = out.split_at_mut(d);
            sinusoid(hh, head);
            sinusoid(tt, tail);
        }
        Self {
            encodings: Tensor::from_data(TensorData::new(data, [u, 2 * d]), device),
            index: lattice.index.clone(),
            prefix: lattice.pad.dims()[1] - lattice.words.dims()[1],
            prefix_pairs: lattice.char_pairs,
            zero: 0,
            shift: false,
        }
    }
}

/// Transformer-XL's relative shift: `by_rev[.., i, p]` holds the score of distance
/// `len - 1 - p`, i.e. of key `j = p - (len - 1 - i)` for query `i`, so each query's keys are a
/// contiguous run of its row starting at `len - 1 - i`. Flattened, row `i`'s run starts at
/// `i (2 len - 1) + len - 1 - i = i (2 len - 2) + len - 1`: dropping the first `len - 1` values
/// and reading rows of `2 len - 2` lines every run up at column 0. `[b, h, len, 2 len - 1]` →
/// `[b, h, len, len]`, `len ≥ 2`. The same values as gathering by [`distance_index`] from the
/// unreversed scores, by copies: no index tensor, and no scatter in the backward.
fn relative_shift(by_rev: Tensor<4>) -> Tensor<4> {
    let [b, h, len, pairs] = by_rev.dims();
    debug_assert!(len >= 2 && pairs == 2 * len - 1);
    by_rev
        .reshape([b, h, len * pairs])
        .narrow(2, len - 1, len * (pairs - 1))
        .reshape([b, h, len, pairs - 1])
        .narrow(3, 0, len)
}

impl RelativeAttention {
    /// `x`: `[batch, len, d]`; `pad`: `[batch, len]`, true at padding; `pos`: the tokens'
    /// relative positions. Returns `[batch, queries, d]`: the outputs of the first `queries`
    /// tokens (all `len` of them, or a lattice's characters when nothing reads its words' rows).
    pub fn forward(
        &self,
        x: Tensor<3>,
        pad: Tensor<2, Bool>,
        pos: &RelativePositions,
        queries: usize,
    ) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let lq = queries;
        let h = self.n_heads;
        let hd = d / h;
        let heads = |t: Tensor<3>, n| t.reshape([b, n, h, hd]).swap_dims(1, 2); // [b, h, n, hd]

        let xq = if lq < l {
            x.clone().narrow(1, 0, lq)
        } else {
            x.clone()
        };
        let q = heads(self.query.forward(xq), lq);
        let k = heads(self.key.forward(x.clone()), l);
        let v = heads(self.value.forward(x), l);

        // Rows past the queries are not computed: neither are the pairs only they use.
        let (encodings, pairs) = if lq <= pos.prefix && pos.prefix_pairs < pos.encodings.dims()[0] {
            let p = pos.prefix_pairs;
            (pos.encodings.clone().narrow(0, 0, p), p)
        } else {
            (pos.encodings.clone(), pos.encodings.dims()[0])
        };
        let fused = relu(self.fusion.forward(encodings));
        let r = self
            .rel
            .forward(fused)
            .reshape([pairs, h, hd])
            .swap_dims(0, 1); // [h, pairs, hd]

        let u = self.u.val().reshape([1, h, 1, hd]);
        let vb = self.v.val().reshape([1, h, 1, hd]);
        let content = (q.clone() + u).matmul(k.swap_dims(2, 3)); // [b, h, lq, l]
        let by_pair = (q + vb).matmul(
            r.swap_dims(1, 2)
                .unsqueeze_dim::<4>(0)
                .expand([b, h, hd, pairs]),
        ); // [b, h, lq, pairs]
        // Inference only: in training the shift's extra autodiff steps move the backward's
        // schedule, so gradients are summed in another order (last-bit changes, no speed-up
        // measured); the forward values are the same either way.
        let by_dist = if pos.shift && lq == l && l > 1 && !by_pair.device().is_autodiff() {
            // The output is flipped, not `r`: GEMM over reordered columns may round differently.
            relative_shift(by_pair.flip([3]))
        } else {
            let ib = pos.index.dims()[0];
            let index = if lq < l {
                pos.index.clone().narrow(1, 0, lq)
            } else {
                pos.index.clone()
            };
            let idx = index.reshape([ib, 1, lq, l]).expand([b, h, lq, l]);
            by_pair.gather(3, idx)
        };
        let mut scores = content + by_dist;
        if self.scaled {
            scores = scores.div_scalar((hd as f64).sqrt());
        }
        let key_pad = pad.reshape([b, 1, 1, l]).expand([b, h, lq, l]);
        let attn = self
            .dropout
            .forward(softmax(scores.mask_fill(key_pad, -1e9), 3));
        let ctx = attn.matmul(v).swap_dims(1, 2).reshape([b, lq, d]);
        self.out.forward(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tensor_values;
    use burn::tensor::Distribution;

    /// The attention with random weights and biases (`u`, `v` are zeros at init).
    fn attention(device: &Device, d: usize, h: usize) -> RelativeAttention {
        let mut a = RelativeAttentionConfig::new(d, h).init(device);
        let rnd = |shape: [usize; 2]| {
            Param::from_tensor(Tensor::random(
                shape,
                Distribution::Normal(0.0, 1.0),
                device,
            ))
        };
        a.u = rnd([h, d / h]);
        a.v = rnd([h, d / h]);
        a
    }

    #[test]
    fn the_relative_shift_equals_the_distance_gather() {
        let device = Device::flex();
        for len in 2..7 {
            let pairs = 2 * len - 1;
            let by_pair = Tensor::<4>::random([2, 3, len, pairs], Distribution::Default, &device);
            let idx = distance_index(len, &device)
                .reshape([1, 1, len, len])
                .expand([2, 3, len, len]);
            let gathered = tensor_values(by_pair.clone().gather(3, idx));
            let shifted = tensor_values(relative_shift(by_pair.flip([3])));
            assert_eq!(gathered, shifted, "len {len}");
        }
    }

    /// In inference the shift path and the gather path (forced by clearing `shift`) give the
    /// same outputs, bit for bit, padding included.
    #[test]
    fn shift_and_gather_paths_agree() {
        let device = Device::flex();
        let (b, len, d, h) = (10, 71, 64, 4);
        let att = attention(&device, d, h);
        let x = Tensor::<3>::random([b, len, d], Distribution::Normal(0.0, 1.0), &device);
        let lengths = [71usize, 70, 68, 57, 42, 29, 15, 4, 2, 1];
        let pad: Vec<bool> = lengths
            .iter()
            .flat_map(|&n| (0..len).map(move |j| j >= n))
            .collect();
        let pad = Tensor::<2, Bool>::from_data(TensorData::new(pad, [b, len]), &device);
        let pos = RelativePositions::sequence(len, d, &device);
        let gather = RelativePositions {
            shift: false,
            ..pos.clone()
        };
        let run =
            |pos: &RelativePositions| tensor_values(att.forward(x.clone(), pad.clone(), pos, len));
        assert_eq!(run(&pos), run(&gather));
    }
}
