//! A stack of post-norm Transformer layers with relative position attention (FLAT's layout).

use super::attention::{RelativeAttention, RelativeAttentionConfig, RelativePositions};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Config, Debug)]
pub struct EncoderConfig {
    pub(crate) d_model: usize,
    pub(crate) n_heads: usize,
    #[config(default = 1)]
    pub(crate) n_layers: usize,
    /// Feed-forward width as a multiple of `d_model`.
    #[config(default = 3)]
    pub(crate) ff_mult: usize,
    #[config(default = 0.15)]
    pub(crate) dropout_ff: f64,
    #[config(default = 0.0)]
    pub(crate) dropout_attn: f64,
    /// Dropout on each sub-layer's output before the residual add.
    #[config(default = 0.15)]
    pub(crate) dropout_residual: f64,
    #[config(default = false)]
    pub(crate) scaled: bool,
}

#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub(crate) attention: RelativeAttention,
    pub(crate) norm_attn: LayerNorm,
    pub(crate) ff_in: Linear,
    pub(crate) ff_out: Linear,
    pub(crate) norm_ff: LayerNorm,
    pub(crate) dropout_ff: Dropout,
    pub(crate) dropout_residual: Dropout,
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub(crate) layers: Vec<EncoderLayer>,
}

impl EncoderConfig {
    pub(crate) fn init(&self, device: &Device) -> Encoder {
        let d = self.d_model;
        let layers = (0..self.n_layers)
            .map(|_| EncoderLayer {
                attention: RelativeAttentionConfig::new(d, self.n_heads)
                    .with_scaled(self.scaled)
                    .with_dropout(self.dropout_attn)
                    .init(device),
                norm_attn: LayerNormConfig::new(d).init(device),
                ff_in: LinearConfig::new(d, d * self.ff_mult).init(device),
                ff_out: LinearConfig::new(d * self.ff_mult, d).init(device),
                norm_ff: LayerNormConfig::new(d).init(device),
                dropout_ff: DropoutConfig::new(self.dropout_ff).init(),
                dropout_residual: DropoutConfig::new(self.dropout_residual).init(),
            })
            .collect();
        Encoder { layers }
    }
}

impl EncoderLayer {
    /// `x`: `[batch, len, d]` → the outputs of the first `queries` tokens,
    /// `[batch, queries, d]` (see [`RelativeAttention::forward`]).
    pub fn forward(
        &self,
        x: Tensor<3>,
        pad: Tensor<2, Bool>,
        pos: &RelativePositions,
        queries: usize,
    ) -> Tensor<3> {
        let a = self.attention.forward(x.clone(), pad, pos, queries);
        let x = if queries < x.dims()[1] {
            x.narrow(1, 0, queries)
        } else {
            x
        };
        let x = self.norm_attn.forward(x + self.dropout_residual.forward(a));
        let f = self
            .ff_out
            .forward(self.dropout_ff.forward(relu(self.ff_in.forward(x.clone()))));
        self.norm_ff.forward(x + self.dropout_residual.forward(f))
    }
}

impl Encoder {
    /// `x`: `[batch, len, d]`; `pad`: `[batch, len]`, true at padding; `pos`: the tokens'
    /// relative positions ([`RelativePositions::sequence`] for plain character sequences).
    /// Returns the outputs of the first `keep` tokens, `[batch, keep, d]`: the last layer
    /// computes only those rows (a lattice's words are context, their outputs unused).
    pub(crate) fn forward(
        &self,
        mut x: Tensor<3>,
        pad: Tensor<2, Bool>,
        pos: &RelativePositions,
        keep: usize,
    ) -> Tensor<3> {
        let len = x.dims()[1];
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let queries = if i + 1 == n { keep } else { len };
            x = layer.forward(x, pad.clone(), pos, queries);
        }
        if n == 0 { x.narrow(1, 0, keep) } else { x }
    }
}
