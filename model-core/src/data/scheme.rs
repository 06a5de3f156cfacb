//! Tagging schemes (BIO, BIOES, BMES) and the conversion between tags and entity spans.

use std::fmt;
use std::str::FromStr;

use super::Sentence;

/// A position-prefix tagging scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Bio,
    Bioes,
    Bmes,
}

/// A scheme name other than `bio`, `bioes` or `bmes`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown tag scheme `{0}`, expected bio, bioes or bmes")]
pub struct UnknownScheme(pub String);

impl FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bio" => Ok(Scheme::Bio),
            "bioes" => Ok(Scheme::Bioes),
            "bmes" => Ok(Scheme::Bmes),
            _ => Err(UnknownScheme(s.to_string())),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Bio => "bio",
            Scheme::Bioes => "bioes",
            Scheme::Bmes => "bmes",
        })
    }
}

/// An entity: chars `start..end` (end exclusive) of a sentence, of type `label`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) label: String,
}

impl Span {
    /// The entity type.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Length in chars.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits a tag into its position prefix (one of `BIMES`) and its non-empty type;
/// `None` for `O` and for anything malformed.
pub(crate) fn split_tag(tag: &str) -> Option<(char, &str)> {
    let (prefix, kind) = tag.split_once('-')?;
    let prefix = match prefix {
        "B" => 'B',
        "I" => 'I',
        "M" => 'M',
        "E" => 'E',
        "S" => 'S',
        _ => return None,
    };
    (!kind.is_empty()).then_some((prefix, kind))
}

/// Semantic Class of a tag: the type after the position prefix (`"B-PER"` → `Some("PER")`,
/// `"S-PER.NAM"` → `Some("PER.NAM")`), `None` for `O` (and malformed tags).
pub fn semantic_class(tag: &str) -> Option<&str> {
    split_tag(tag).map(|(_, kind)| kind)
}

/// A tag as conlleval sees it: prefix with `M` folded into `I`, and type (`""` for `O`).
#[derive(Clone, Copy)]
struct ChunkTag<'a> {
    prefix: char,
    kind: &'a str,
}

impl<'a> ChunkTag<'a> {
    const OUTSIDE: ChunkTag<'static> = ChunkTag {
        prefix: 'O',
        kind: "",
    };

    fn parse(tag: &'a str) -> Self {
        match split_tag(tag) {
            Some(('M', kind)) => ChunkTag { prefix: 'I', kind },
            Some((prefix, kind)) => ChunkTag { prefix, kind },
            None => ChunkTag::OUTSIDE,
        }
    }
}

/// conlleval's `endOfChunk`, extended with `S` as in the common IOBES port.
fn end_of_chunk(prev: ChunkTag, tag: ChunkTag) -> bool {
    matches!(prev.prefix, 'E' | 'S')
        || (matches!(prev.prefix, 'B' | 'I') && matches!(tag.prefix, 'B' | 'S' | 'O'))
        || (prev.prefix != 'O' && prev.kind != tag.kind)
}

/// conlleval's `startOfChunk`, extended with `S` as in the common IOBES port.
fn start_of_chunk(prev: ChunkTag, tag: ChunkTag) -> bool {
    matches!(tag.prefix, 'B' | 'S')
        || (matches!(prev.prefix, 'E' | 'S' | 'O') && matches!(tag.prefix, 'I' | 'E'))
        || (tag.prefix != 'O' && prev.kind != tag.kind)
}

/// Extracts entity spans with conlleval's chunk rules from tags of any scheme. BMES `M-` is
/// read as `I-`. Lenient like conlleval: an `I-`/`M-`/`E-` after `O`, after an ended chunk or
/// after another type starts a new chunk. Malformed tags count as `O`.
pub fn tags_to_spans<S: AsRef<str>>(tags: &[S]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    let mut prev = ChunkTag::OUTSIDE;
    for (i, tag) in tags.iter().enumerate() {
        let tag = ChunkTag::parse(tag.as_ref());
        let (ends, starts) = (end_of_chunk(prev, tag), start_of_chunk(prev, tag));
        if (ends || starts)
            && let Some((start, label)) = open.take()
        {
            spans.push(Span {
                start,
                end: i,
                label: label.to_string(),
            });
        }
        if starts {
            open = Some((i, tag.kind));
        }
        prev = tag;
    }
    if let Some((start, label)) = open {
        spans.push(Span {
            start,
            end: tags.len(),
            label: label.to_string(),
        });
    }
    spans
}

/// Encodes spans as `len` tags of `scheme`: BMES uses B/M/E/S, BIOES B/I/E/S, BIO B/I; all
/// other positions are `O`. Empty spans and spans reaching past `len` are skipped.
pub fn spans_to_tags(spans: &[Span], len: usize, scheme: Scheme) -> Vec<String> {
    let mut tags = vec!["O".to_string(); len];
    for span in spans.iter().filter(|s| s.start < s.end && s.end <= len) {
        for (i, tag) in tags[span.start..span.end].iter_mut().enumerate() {
            let prefix = position_prefix(scheme, i, span.end - span.start);
            *tag = format!("{prefix}-{}", span.label);
        }
    }
    tags
}

/// The prefix of the `i`-th char of an entity `n` chars long.
fn position_prefix(scheme: Scheme, i: usize, n: usize) -> char {
    let inside = if scheme == Scheme::Bmes { 'M' } else { 'I' };
    match (scheme, i, n) {
        (Scheme::Bio, 0, _) => 'B',
        (Scheme::Bio, _, _) => 'I',
        (_, 0, 1) => 'S',
        (_, 0, _) => 'B',
        (_, i, n) if i + 1 == n => 'E',
        _ => inside,
    }
}

/// Re-encodes a tag sequence of any scheme into `scheme` through its spans, which also
/// repairs malformed chunk starts such as a leading `M-ORG`.
pub fn convert_tags<S: AsRef<str>>(tags: &[S], scheme: Scheme) -> Vec<String> {
    spans_to_tags(&tags_to_spans(tags), tags.len(), scheme)
}

/// The scheme a set of sentences uses: any `M-` → BMES; else any `E-` or `S-` → BIOES; else BIO.
pub fn detect_scheme(sentences: &[Sentence]) -> Scheme {
    let prefixes = || {
        sentences
            .iter()
            .flat_map(|s| &s.tags)
            .filter_map(|t| split_tag(t).map(|(p, _)| p))
    };
    if prefixes().any(|p| p == 'M') {
        Scheme::Bmes
    } else if prefixes().any(|p| matches!(p, 'E' | 'S')) {
        Scheme::Bioes
    } else {
        Scheme::Bio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, label: &str) -> Span {
        Span {
            start,
            end,
            label: label.to_string(),
        }
    }

    fn spans(tags: &str) -> Vec<Span> {
        tags_to_spans(&tags.split_whitespace().collect::<Vec<_>>())
    }

    fn tags(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn bio_chunks() {
        assert_eq!(
            spans("B-PER I-PER O B-LOC B-LOC I-LOC"),
            [span(0, 2, "PER"), span(3, 4, "LOC"), span(4, 6, "LOC")]
        );
    }

    #[test]
    fn bioes_chunks() {
        assert_eq!(
            spans("S-PER B-ORG I-ORG E-ORG S-ORG O B-LOC E-LOC"),
            [
                span(0, 1, "PER"),
                span(1, 4, "ORG"),
                span(4, 5, "ORG"),
                span(6, 8, "LOC")
            ]
        );
    }

    #[test]
    fn bmes_chunks() {
        assert_eq!(
            spans("B-NAME E-NAME O B-CONT M-CONT M-CONT E-CONT S-NAME"),
            [span(0, 2, "NAME"), span(3, 7, "CONT"), span(7, 8, "NAME")]
        );
    }

    #[test]
    fn orphan_inside_after_o_starts_a_chunk() {
        assert_eq!(spans("O I-PER I-PER O"), [span(1, 3, "PER")]);
        assert_eq!(spans("I-PER"), [span(0, 1, "PER")]);
        assert_eq!(spans("M-ORG E-ORG"), [span(0, 2, "ORG")]);
        assert_eq!(spans("O E-LOC"), [span(1, 2, "LOC")]);
    }

    #[test]
    fn type_change_inside_a_chunk_splits_it() {
        assert_eq!(
            spans("B-PER I-LOC I-LOC"),
            [span(0, 1, "PER"), span(1, 3, "LOC")]
        );
        assert_eq!(
            spans("B-ORG M-ORG M-LOC E-LOC"),
            [span(0, 2, "ORG"), span(2, 4, "LOC")]
        );
    }

    #[test]
    fn inside_after_end_starts_a_new_chunk() {
        assert_eq!(
            spans("B-PER E-PER I-PER E-PER"),
            [span(0, 2, "PER"), span(2, 4, "PER")]
        );
        assert_eq!(spans("E-PER E-PER"), [span(0, 1, "PER"), span(1, 2, "PER")]);
        assert_eq!(spans("S-PER I-PER"), [span(0, 1, "PER"), span(1, 2, "PER")]);
    }

    #[test]
    fn begin_after_end_and_inside_before_single_close_chunks() {
        assert_eq!(
            spans("B-PER E-PER B-PER"),
            [span(0, 2, "PER"), span(2, 3, "PER")]
        );
        assert_eq!(
            spans("B-PER I-PER S-PER"),
            [span(0, 2, "PER"), span(2, 3, "PER")]
        );
    }

    #[test]
    fn dotted_types_and_malformed_tags() {
        assert_eq!(
            spans("B-PER.NAM I-PER.NAM X-PER O"),
            [span(0, 2, "PER.NAM")]
        );
        assert!(spans("O O").is_empty());
        assert!(tags_to_spans::<&str>(&[]).is_empty());
    }

    #[test]
    fn encodes_each_scheme() {
        let s = [span(0, 1, "PER"), span(2, 5, "ORG"), span(5, 7, "LOC")];
        assert_eq!(
            spans_to_tags(&s, 8, Scheme::Bio),
            tags("B-PER O B-ORG I-ORG I-ORG B-LOC I-LOC O")
        );
        assert_eq!(
            spans_to_tags(&s, 8, Scheme::Bioes),
            tags("S-PER O B-ORG I-ORG E-ORG B-LOC E-LOC O")
        );
        assert_eq!(
            spans_to_tags(&s, 8, Scheme::Bmes),
            tags("S-PER O B-ORG M-ORG E-ORG B-LOC E-LOC O")
        );
    }

    #[test]
    fn round_trips_spans_through_every_scheme() {
        let s = vec![
            span(0, 1, "PER"),
            span(1, 3, "PER"),
            span(4, 8, "ORG.NOM"),
            span(9, 10, "X"),
        ];
        for scheme in [Scheme::Bio, Scheme::Bioes, Scheme::Bmes] {
            assert_eq!(tags_to_spans(&spans_to_tags(&s, 10, scheme)), s, "{scheme}");
        }
    }

    #[test]
    fn out_of_range_spans_are_skipped() {
        let s = [span(1, 1, "A"), span(2, 4, "B"), span(0, 1, "C")];
        assert_eq!(spans_to_tags(&s, 3, Scheme::Bio), tags("B-C O O"));
    }

    #[test]
    fn convert_repairs_a_leading_middle() {
        assert_eq!(
            convert_tags(&tags("M-ORG E-ORG O"), Scheme::Bmes),
            tags("B-ORG E-ORG O")
        );
        assert_eq!(
            convert_tags(&tags("M-ORG O"), Scheme::Bmes),
            tags("S-ORG O")
        );
        assert_eq!(
            convert_tags(&tags("B-LOC M-LOC E-LOC S-PER"), Scheme::Bio),
            tags("B-LOC I-LOC I-LOC B-PER")
        );
    }

    #[test]
    fn detects_scheme() {
        let sentence = |t: &str| Sentence {
            chars: t.split_whitespace().map(|_| 'x').collect(),
            tags: tags(t),
            line: 1,
        };
        assert_eq!(detect_scheme(&[sentence("B-A I-A O")]), Scheme::Bio);
        assert_eq!(
            detect_scheme(&[sentence("B-A O"), sentence("S-A")]),
            Scheme::Bioes
        );
        assert_eq!(detect_scheme(&[sentence("B-A E-A")]), Scheme::Bioes);
        assert_eq!(
            detect_scheme(&[sentence("B-A E-A"), sentence("B-A M-A E-A")]),
            Scheme::Bmes
        );
        assert_eq!(detect_scheme(&[]), Scheme::Bio);
    }

    #[test]
    fn scheme_names() {
        assert_eq!("BMES".parse::<Scheme>(), Ok(Scheme::Bmes));
        assert_eq!("bio".parse::<Scheme>(), Ok(Scheme::Bio));
        assert_eq!("Bioes".parse::<Scheme>(), Ok(Scheme::Bioes));
        assert!("iob2".parse::<Scheme>().is_err());
        assert_eq!(Scheme::Bioes.to_string(), "bioes");
        assert_eq!(serde_json::to_string(&Scheme::Bmes).unwrap(), "\"bmes\"");
    }

    #[test]
    fn semantic_classes() {
        assert_eq!(semantic_class("B-PER"), Some("PER"));
        assert_eq!(semantic_class("S-PER.NAM"), Some("PER.NAM"));
        assert_eq!(semantic_class("M-ORG"), Some("ORG"));
        assert_eq!(semantic_class("O"), None);
        assert_eq!(semantic_class("B-"), None);
    }
}
