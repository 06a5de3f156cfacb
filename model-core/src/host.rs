//! Reading tensors back to the host.

use burn::prelude::*;

/// A tensor's values as host `f32`, whatever float dtype it holds (synchronous: not for WebGPU,
/// whose reads must be awaited).
pub fn tensor_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("data converted to f32 reads as f32")
}
