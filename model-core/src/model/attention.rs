//! Multi-head self-attention with FLAT's relative position encoding.
//!
//! FLAT (Li et al., 2020) scores a pair of spans by their content and by a fused encoding of the
//! distances between their heads and tails. Over characters, head = tail, so all four distances
//! equal `i - j` and the fused encoding depends on `i - j` alone: we compute it once per distance
//! (`2L - 1` rows) and gather it into the `L × L` score matrix, instead of materialising the
//! `L × L × d` tensor FLAT builds.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

#[derive(Config, Debug)]
pub struct RelativeAttentionConfig {
    pub d_model: usize,
    pub n_heads: usize,
    /// Scale scores by `1/sqrt(head_dim)`; FLAT and TENER found unscaled attention sharper for NER.
    #[config(default = false)]
    pub scaled: bool,
    #[config(default = 0.0)]
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct RelativeAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    /// Projects the fused position encoding into key space.
    pub rel: Linear,
    /// FLAT's `ff_two` fusion of the head–head and tail–tail distance encodings.
    pub fusion: Linear,
    /// Global content and position biases (`u`, `v` of Transformer-XL), `[heads, head_dim]`.
    pub u: Param<Tensor<2>>,
    pub v: Param<Tensor<2>>,
    pub out: Linear,
    pub dropout: Dropout,
    pub n_heads: usize,
    pub d_model: usize,
    pub scaled: bool,
}

impl RelativeAttentionConfig {
    pub fn init(&self, device: &Device) -> RelativeAttention {
        assert!(
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

/// Sinusoidal encodings of the distances `-(len-1) ..= len-1`, `[2len-1, d]`.
pub fn distance_encoding(len: usize, d: usize, device: &Device) -> Tensor<2> {
    let rows = 2 * len - 1;
    let half = d / 2;
    let mut data = vec![0f32; rows * d];
    for r in 0..rows {
        let dist = r as f32 - (len as f32 - 1.0);
        for k in 0..half {
            let freq = (-(k as f32) * (10000f32).ln() / half.max(1) as f32).exp();
            data[r * d + k] = (dist * freq).sin();
            data[r * d + half + k] = (dist * freq).cos();
        }
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

impl RelativeAttention {
    /// `x`: `[batch, len, d]`; `pad`: `[batch, len]`, true at padding.
    pub fn forward(&self, x: Tensor<3>, pad: Tensor<2, Bool>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.n_heads;
        let hd = d / h;
        let device = x.device();
        let heads = |t: Tensor<3>| t.reshape([b, l, h, hd]).swap_dims(1, 2); // [b, h, l, hd]

        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x));

        let pe = distance_encoding(l, d, &device);
        let fused = relu(self.fusion.forward(Tensor::cat(vec![pe.clone(), pe], 1)));
        let r = self
            .rel
            .forward(fused)
            .reshape([2 * l - 1, h, hd])
            .swap_dims(0, 1); // [h, 2l-1, hd]

        let u = self.u.val().reshape([1, h, 1, hd]);
        let vb = self.v.val().reshape([1, h, 1, hd]);
        let content = (q.clone() + u).matmul(k.swap_dims(2, 3)); // [b, h, l, l]
        let by_dist =
            (q + vb).matmul(
                r.swap_dims(1, 2)
                    .unsqueeze_dim::<4>(0)
                    .expand([b, h, hd, 2 * l - 1]),
            ); // [b, h, l, 2l-1]
        let idx = distance_index(l, &device)
            .reshape([1, 1, l, l])
            .expand([b, h, l, l]);
        let mut scores = content + by_dist.gather(3, idx);
        if self.scaled {
            scores = scores.div_scalar((hd as f64).sqrt());
        }
        let key_pad = pad.reshape([b, 1, 1, l]).expand([b, h, l, l]);
        let attn = self
            .dropout
            .forward(softmax(scores.mask_fill(key_pad, -1e9), 3));
        let ctx = attn.matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        self.out.forward(ctx)
    }
}
