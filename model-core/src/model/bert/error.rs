//! What can go wrong reading a Hugging Face BERT: its config, its weights, its vocabulary, or one
//! of the files of its directory.

#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("BERT config.json: {0}")]
    Config(String),
    #[error("BERT weights: {0}")]
    Weights(TensorError),
    #[error("BERT vocab.txt: {0}")]
    Vocab(String),
    /// An error in a named file of a model directory.
    // The inner errors are part of the message, not `source`s, so reports do not repeat them.
    #[error("{path}: {error}")]
    In { path: String, error: Box<BertError> },
    #[cfg(feature = "native")]
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
}

// Not `#[from]`: that would make the tensor error a `source` too, and reports would repeat it.
impl From<TensorError> for BertError {
    fn from(e: TensorError) -> Self {
        Self::Weights(e)
    }
}

/// A safetensors file that does not hold the tensors a model expects, each error naming the
/// tensor.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    // The crate's message is kept as text: its error type differs between its std and no-std
    // builds, and this crate is built both ways (native and wasm32).
    #[error("not a safetensors file: {0}")]
    Format(String),
    #[error("tensor `{0}` is missing")]
    Missing(String),
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {dtype}; only F32, F16 and BF16 are supported")]
    DType { name: String, dtype: String },
    #[error("cannot write a safetensors file: {0}")]
    Write(String),
}
