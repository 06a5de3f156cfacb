//! Errors raised while reading tagged data.

/// A reason why tagged data could not be read. Every variant names the file and, except for
/// I/O failures, the 1-based line at fault.
///
/// The file field is called `file` rather than `source` because thiserror treats a field named
/// `source` as the underlying error.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}:{line}: expected `<char> <tag>`, found {fields} field(s)")]
    MissingTag {
        file: String,
        line: usize,
        fields: usize,
    },

    #[error("{file}:{line}: bad tag `{tag}`, expected `O` or `<B|I|M|E|S>-<TYPE>`")]
    BadTag {
        file: String,
        line: usize,
        tag: String,
    },

    #[error(
        "{file}:{line}: a line of {bytes} bytes; one-token-per-line data has short lines (is this the right file?)"
    )]
    LineTooLong {
        file: String,
        line: usize,
        bytes: usize,
    },

    #[error("{file}:{line}: invalid UTF-8")]
    InvalidUtf8 { file: String, line: usize },

    #[error("{file}:{line}: invalid JSON: {error}")]
    Json {
        file: String,
        line: usize,
        error: String,
    },

    /// A JSON record whose `field` (a path such as `spans[2].end`) is missing or wrong.
    #[error("{file}:{line}: field `{field}`: {reason}")]
    Field {
        file: String,
        line: usize,
        field: String,
        reason: String,
    },

    /// Overlapping entities where only flat ones can be learned (the CRF head tags each char once).
    #[error(
        "{file}:{line}: entities {first} and {second} overlap (nested entities); the CRF head tags flat entities only: train a Binder head (--recipe binder or nerco+binder)"
    )]
    Nested {
        file: String,
        line: usize,
        first: String,
        second: String,
    },

    #[error("{file}:{line}: no sentences")]
    Empty { file: String, line: usize },

    #[cfg(feature = "native")]
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        error: std::io::Error,
    },
}
