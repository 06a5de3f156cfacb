//! The crate's error: every module's error wrapped in one enum, so the public API returns
//! [`Result`] and a caller matches on one type.

use crate::data::{DataError, UnknownScheme};
use crate::host::ReadError;
use crate::meta::MetaError;
use crate::metrics::MetricsError;
use crate::model::BertError;
use crate::weights::WeightsError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Tagged data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Scheme(#[from] UnknownScheme),
    #[error(transparent)]
    Lexicon(#[from] crate::lexicon::LexiconError),
    /// A model's metadata was refused.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Weight bytes are not burnpack or do not fit the model.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Bert(#[from] BertError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// A hyperparameter out of range.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A tensor could not be read back from the device.
    #[error(transparent)]
    Read(#[from] ReadError),
    #[cfg(feature = "native")]
    #[error("cannot read {}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[cfg(feature = "native")]
    #[error("cannot read {}/meta.json (is {} a run directory?): {error}", dir.display(), dir.display())]
    NotARun {
        dir: std::path::PathBuf,
        error: std::io::Error,
    },
    #[cfg(feature = "native")]
    #[error("{}: {error}", path.display())]
    MetaFile {
        path: std::path::PathBuf,
        error: MetaError,
    },
    #[cfg(feature = "native")]
    #[error(
        "{} has no model.bpk: the run has not finished (continue it with `nerco train --resume --out {}`)",
        dir.display(),
        dir.display()
    )]
    Unfinished { dir: std::path::PathBuf },
    /// A weight file that is not burnpack, or whose tensors do not fit the model.
    #[cfg(feature = "native")]
    #[error("{}", weight_file(path, error))]
    WeightFile {
        path: std::path::PathBuf,
        error: WeightsError,
    },
}

#[cfg(feature = "native")]
fn weight_file(path: &std::path::Path, error: &WeightsError) -> String {
    match error {
        WeightsError::Format(m) => format!("{} is not a valid weight file: {m}", path.display()),
        WeightsError::Mismatch(m) => format!("{} does not fit this model: {m}", path.display()),
    }
}
