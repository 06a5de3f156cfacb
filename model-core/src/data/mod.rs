//! Tagged data: CoNLL reading and writing, tagging schemes, and tag ↔ span conversion.

mod conll;
mod error;
mod scheme;
mod spans;

#[cfg(feature = "native")]
pub use conll::read_conll;
pub use conll::{Sentence, parse_conll, parse_conll_bytes, write_conll_triples};
pub use error::DataError;
#[cfg(feature = "native")]
pub use spans::read_span_jsonl;
pub use spans::{SpanSentence, longest_span, parse_span_jsonl, parse_span_jsonl_bytes, span_types};

/// A file's bytes, gunzipped when its name ends in `.gz` (MSRA's train split, the lexicon).
#[cfg(feature = "native")]
pub(crate) fn read_maybe_gzipped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;

    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(file).read_to_end(&mut bytes)?;
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

pub use scheme::{
    Scheme, Span, UnknownScheme, convert_tags, detect_scheme, semantic_class, spans_to_tags,
    tags_to_spans,
};
