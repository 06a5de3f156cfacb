//! Dropout with one multiply: Burn's `Dropout::forward` computes `x * mask * (1 / keep)`, two
//! tracked element-wise products and two in the backward pass. Scaling the (untracked) mask
//! first leaves one tracked product, with the same values bit for bit: every mask entry is 0
//! or 1, and `x · 1 · s = x · s`, `x · 0 · s = x · 0` (signs of zero included), in the forward
//! and in the backward alike. The mask is drawn exactly as Burn draws it, so the random stream
//! does not move.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::Distribution;

/// `layer`'s dropout of `x`: the identity outside training (no autodiff device, the layer frozen,
/// or probability 0), as `Dropout::forward`.
pub(crate) fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let mask = x.random_like(Distribution::Bernoulli(keep));
    apply(x, mask, keep)
}

/// `x` times the 0/1 `mask` scaled by `1 / keep`, as one tracked product.
fn apply<const D: usize>(x: Tensor<D>, mask: Tensor<D>, keep: f64) -> Tensor<D> {
    x * mask.mul_scalar(1.0 / keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tensor_values;

    /// One product equals Burn's two, forward and backward, bit for bit (negative inputs and
    /// gradients included, so signed zeros are covered).
    #[test]
    fn one_product_equals_burns_two_bit_for_bit() {
        let device = Device::flex().autodiff();
        let keep = 1.0 - 0.15;
        let x = Tensor::<3>::random([4, 7, 9], Distribution::Normal(0.0, 3.0), &device)
            .require_grad();
        let w = Tensor::<3>::random([4, 7, 9], Distribution::Normal(0.0, 3.0), &device);
        let mask = x.random_like(Distribution::Bernoulli(keep));
        let ours = apply(x.clone(), mask.clone(), keep);
        let burns = x.clone() * mask.clone() * (1.0 / keep);
        let bits = |t: Tensor<3>| -> Vec<u32> {
            tensor_values(t).iter().map(|v| v.to_bits()).collect()
        };
        assert_eq!(bits(ours.clone()), bits(burns.clone()));
        let g_ours = (ours * w.clone()).sum().backward();
        let g_burns = (burns * w).sum().backward();
        assert_eq!(
            bits(x.grad(&g_ours).unwrap()),
            bits(x.grad(&g_burns).unwrap())
        );
        // Some entries were dropped and some kept.
        let m = tensor_values(mask);
        assert!(m.contains(&0.0) && m.contains(&1.0));
    }

    #[test]
    fn outside_training_it_is_the_identity() {
        let layer = burn::nn::DropoutConfig::new(0.5).init();
        let x = Tensor::<2>::random([3, 4], Distribution::Default, &Device::flex());
        assert_eq!(
            tensor_values(dropout(&layer, x.clone())),
            tensor_values(x)
        );
    }
}
