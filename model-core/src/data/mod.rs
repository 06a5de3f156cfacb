//! Tagged data: CoNLL reading and writing, tagging schemes, and tag ↔ span conversion.

mod conll;
mod error;
mod scheme;

#[cfg(feature = "native")]
pub use conll::read_conll;
pub use conll::{Sentence, parse_conll, parse_conll_bytes, write_conll_triples};
pub use error::DataError;
pub use scheme::{
    Scheme, Span, UnknownScheme, convert_tags, detect_scheme, semantic_class, spans_to_tags,
    tags_to_spans,
};
