//! Reading tensors back to the host: synchronously (native backends) or by awaiting the read
//! (WebGPU, where a synchronous read panics; on the CPU backend the future is ready at once).

use burn::prelude::*;
use burn::tensor::TensorData;
use std::cell::Cell;

thread_local! {
    /// Reads made by this thread. Every read-back in the model's code paths goes through this
    /// module, so a test can assert that a GPU-path training step makes none (a read is a
    /// device→host sync that stalls the GPU's queue). Per thread: tests run in parallel.
    static READS: Cell<usize> = const { Cell::new(0) };
}

/// How many tensors this thread has read back to the host so far.
pub fn reads() -> usize {
    READS.with(Cell::get)
}

fn count_read() {
    READS.with(|r| r.set(r.get() + 1));
}

/// A tensor could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("reading a tensor back: {0}")]
pub struct ReadError(String);

/// A tensor's values as host `f32`, whatever float dtype it holds (synchronous: not for WebGPU,
/// whose reads must be awaited).
pub fn tensor_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    count_read();
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("data converted to f32 reads as f32")
}

/// [`tensor_values`] with the backend's failure as an error instead of a panic.
pub(crate) fn try_tensor_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    count_read();
    let data = t.try_into_data().map_err(|e| ReadError(format!("{e:?}")))?;
    f32_values(data)
}

/// A tensor's values as host `f32`, read asynchronously (the only read WebGPU allows).
pub async fn tensor_values_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    count_read();
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadError(format!("{e:?}")))?;
    f32_values(data)
}

fn f32_values(data: TensorData) -> Result<Vec<f32>, ReadError> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ReadError(format!("tensor data: {e:?}")))
}
