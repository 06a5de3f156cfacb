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

/// [`tensor_values`] read back asynchronously: the only way on WebGPU; ready at once on the CPU.
pub async fn tensor_values_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| format!("reading a tensor back: {e:?}"))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("tensor data: {e:?}"))
}
