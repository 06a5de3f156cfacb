//! Span data: JSON Lines with one sentence per line and its entities as character spans, which
//! may overlap (nested NER). Three record forms are read:
//!
//! 1. `{"text": "…", "spans": [{"start": s, "end": e, "type": "T"}, …]}`: `end` **exclusive**;
//! 2. doccano / Label Studio exports `{"text": "…", "label": [[s, e, "T"], …]}`: `e` exclusive;
//! 3. CLUENER `{"text": "…", "label": {"T": {"mention": [[s, e], …]}}}`: `e` **inclusive**, and
//!    the mention must equal `text[s..=e]` (CLUENER's own check of its offsets).
//!
//! Offsets count Unicode code points (Python string indices), not bytes. Every span is returned
//! as a [`Span`] with an exclusive end. Blank lines are skipped; other keys (`id`, …) ignored.
//! CoNLL sentences convert to the same form with [`SpanSentence::from_conll`].

use super::conll::utf8;
use super::scheme::{Scheme, Span, spans_to_tags, tags_to_spans};
use super::{DataError, Sentence};
use serde_json::{Map, Value};

/// One sentence with its (possibly overlapping) entities, sorted and without duplicates.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanSentence {
    pub chars: Vec<char>,
    pub spans: Vec<Span>,
    /// 1-based line of the record in its source.
    pub line: usize,
}

impl SpanSentence {
    /// A flat CoNLL sentence as spans, with conlleval's chunk rules ([`tags_to_spans`]).
    pub fn from_conll(sentence: &Sentence) -> Self {
        SpanSentence {
            chars: sentence.chars.clone(),
            spans: tags_to_spans(&sentence.tags),
            line: sentence.line,
        }
    }
}

impl SpanSentence {
    /// Pieces of at most `max_len` chars cut where [`crate::infer::split_long`] cuts, each with
    /// its spans clipped to it: an entity cut in two becomes two entities, as in the tag path.
    pub fn pieces(&self, max_len: usize) -> Vec<SpanSentence> {
        let mut out = Vec::new();
        let mut start = 0;
        for p in crate::infer::split_long(&self.chars, max_len) {
            let end = start + p.len();
            let mut spans: Vec<Span> = self
                .spans
                .iter()
                .filter(|s| s.start < end && start < s.end)
                .map(|s| Span {
                    start: s.start.max(start) - start,
                    end: s.end.min(end) - start,
                    label: s.label.clone(),
                })
                .collect();
            spans.sort();
            spans.dedup();
            out.push(SpanSentence {
                chars: p.to_vec(),
                spans,
                line: self.line,
            });
            start = end;
        }
        out
    }

    /// As a tagged sentence in `scheme`, for the CRF head; overlapping entities are an error
    /// naming `file` and the record's line.
    pub fn to_sentence(&self, scheme: Scheme, file: &str) -> Result<Sentence, DataError> {
        let show = |s: &Span| {
            let text: String = self.chars[s.start..s.end].iter().collect();
            format!("`{text}` {} [{}, {})", s.label, s.start, s.end)
        };
        for (k, a) in self.spans.iter().enumerate() {
            if let Some(b) = self.spans[k + 1..]
                .iter()
                .find(|b| a.start < b.end && b.start < a.end)
            {
                return Err(DataError::Nested {
                    file: file.to_string(),
                    line: self.line,
                    first: show(a),
                    second: show(b),
                });
            }
        }
        Ok(Sentence {
            chars: self.chars.clone(),
            tags: spans_to_tags(&self.spans, self.chars.len(), scheme),
            line: self.line,
        })
    }

    /// Whether any two entities overlap.
    pub fn is_nested(&self) -> bool {
        self.to_sentence(Scheme::Bio, "").is_err()
    }
}

/// The entity types of `sentences`, sorted.
pub fn span_types(sentences: &[SpanSentence]) -> Vec<String> {
    let types: std::collections::BTreeSet<&str> = sentences
        .iter()
        .flat_map(|s| s.spans.iter().map(|x| x.label.as_str()))
        .collect();
    types.into_iter().map(str::to_string).collect()
}

/// The longest entity of `sentences` in chars (0 without entities): a lower bound for the
/// Binder head's K, beyond which gold spans cannot be predicted.
pub fn longest_span(sentences: &[SpanSentence]) -> usize {
    sentences
        .iter()
        .flat_map(|s| s.spans.iter().map(|x| x.end - x.start))
        .max()
        .unwrap_or(0)
}

/// Where a record is, for its errors.
struct At<'a> {
    file: &'a str,
    line: usize,
}

impl At<'_> {
    fn field(&self, field: impl Into<String>, reason: impl Into<String>) -> DataError {
        DataError::Field {
            file: self.file.to_string(),
            line: self.line,
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn offset(&self, v: &Value, field: String) -> Result<usize, DataError> {
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.field(field, format!("expected a non-negative integer, found {v}")))
    }

    fn string<'v>(&self, v: &'v Value, field: String) -> Result<&'v str, DataError> {
        v.as_str()
            .ok_or_else(|| self.field(field, format!("expected a string, found {v}")))
    }

    fn array<'v>(&self, v: &'v Value, field: &str) -> Result<&'v Vec<Value>, DataError> {
        v.as_array()
            .ok_or_else(|| self.field(field, format!("expected a list, found {v}")))
    }

    /// Checks `start..end` (exclusive) against a text of `len` chars.
    fn span(&self, field: &str, start: usize, end: usize, len: usize) -> Result<(), DataError> {
        if end < start {
            return Err(self.field(field, format!("end {end} is before start {start}")));
        }
        if start == end {
            return Err(self.field(field, format!("empty span at {start}")));
        }
        if end > len {
            return Err(self.field(
                field,
                format!("span {start}..{end} is past the text ({len} chars)"),
            ));
        }
        Ok(())
    }
}

/// Parses span JSON Lines. `source` names the input in errors.
pub fn parse_span_jsonl(text: &str, source: &str) -> Result<Vec<SpanSentence>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sentences = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = At {
            file: source,
            line: index + 1,
        };
        let value: Value = serde_json::from_str(line).map_err(|e| DataError::Json {
            file: source.to_string(),
            line: at.line,
            error: e.to_string(),
        })?;
        sentences.push(parse_record(&value, &at)?);
    }
    if sentences.is_empty() {
        return Err(DataError::Empty {
            file: source.to_string(),
            line: 1,
        });
    }
    Ok(sentences)
}

/// [`parse_span_jsonl`] on raw bytes: invalid UTF-8 is an error naming its line.
pub fn parse_span_jsonl_bytes(bytes: &[u8], source: &str) -> Result<Vec<SpanSentence>, DataError> {
    parse_span_jsonl(utf8(bytes, source)?, source)
}

/// Reads a span JSON Lines file, gunzipping it when the name ends in `.gz`.
#[cfg(feature = "native")]
pub fn read_span_jsonl(path: &std::path::Path) -> Result<Vec<SpanSentence>, DataError> {
    let bytes = super::read_maybe_gzipped(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_span_jsonl_bytes(&bytes, &path.display().to_string())
}

fn parse_record(value: &Value, at: &At) -> Result<SpanSentence, DataError> {
    let Some(record) = value.as_object() else {
        return Err(at.field("", "expected a JSON object per line"));
    };
    let text = match record.get("text") {
        Some(t) => at.string(t, "text".to_string())?,
        None => return Err(at.field("text", "missing")),
    };
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        // A sentence of no characters has nothing to tag, and a training step cannot score it.
        return Err(at.field("text", "empty: a sentence needs at least one character"));
    }
    let mut spans = match (record.get("spans"), record.get("label")) {
        (Some(spans), _) => span_objects(spans, chars.len(), at)?,
        (None, Some(Value::Array(list))) => label_triples(list, chars.len(), at)?,
        (None, Some(Value::Object(map))) => cluener_labels(map, &chars, at)?,
        (None, Some(other)) => {
            return Err(at.field(
                "label",
                format!("expected a list of [start, end, type] or a {{type: {{mention: [[start, last]]}}}} map, found {other}"),
            ));
        }
        (None, None) => {
            return Err(at.field(
                "spans",
                "missing: a record needs `spans` or `label` (an empty list for no entity)",
            ));
        }
    };
    spans.sort();
    spans.dedup();
    Ok(SpanSentence {
        chars,
        spans,
        line: at.line,
    })
}

/// Form 1: `[{"start", "end" (exclusive), "type"}]`.
fn span_objects(spans: &Value, len: usize, at: &At) -> Result<Vec<Span>, DataError> {
    let list = at.array(spans, "spans")?;
    let mut out = Vec::with_capacity(list.len());
    for (n, item) in list.iter().enumerate() {
        let name = format!("spans[{n}]");
        let key = |k: &str| {
            item.get(k)
                .ok_or_else(|| at.field(format!("{name}.{k}"), "missing"))
        };
        if !item.is_object() {
            return Err(at.field(name, format!("expected {{start, end, type}}, found {item}")));
        }
        let start = at.offset(key("start")?, format!("{name}.start"))?;
        let end = at.offset(key("end")?, format!("{name}.end"))?;
        let label = at.string(key("type")?, format!("{name}.type"))?;
        at.span(&name, start, end, len)?;
        out.push(span(start, end, label));
    }
    Ok(out)
}

/// Form 2: doccano's `[[start, end (exclusive), "type"]]`.
fn label_triples(list: &[Value], len: usize, at: &At) -> Result<Vec<Span>, DataError> {
    let mut out = Vec::with_capacity(list.len());
    for (n, item) in list.iter().enumerate() {
        let name = format!("label[{n}]");
        let Some([start, end, label]) = item.as_array().map(Vec::as_slice) else {
            return Err(at.field(name, format!("expected [start, end, type], found {item}")));
        };
        let start = at.offset(start, format!("{name}[0]"))?;
        let end = at.offset(end, format!("{name}[1]"))?;
        let label = at.string(label, format!("{name}[2]"))?;
        at.span(&name, start, end, len)?;
        out.push(span(start, end, label));
    }
    Ok(out)
}

/// Form 3: CLUENER's `{"type": {"mention": [[start, last (inclusive)]]}}`.
fn cluener_labels(
    map: &Map<String, Value>,
    chars: &[char],
    at: &At,
) -> Result<Vec<Span>, DataError> {
    let mut out = Vec::new();
    for (label, mentions) in map {
        let Some(mentions) = mentions.as_object() else {
            return Err(at.field(
                format!("label.{label}"),
                format!("expected a {{mention: [[start, last]]}} map, found {mentions}"),
            ));
        };
        for (mention, places) in mentions {
            let name = format!("label.{label}.{mention}");
            for (n, place) in at.array(places, &name)?.iter().enumerate() {
                let name = format!("{name}[{n}]");
                let Some([first, last]) = place.as_array().map(Vec::as_slice) else {
                    return Err(at.field(name, format!("expected [start, last], found {place}")));
                };
                let first = at.offset(first, format!("{name}[0]"))?;
                let last = at.offset(last, format!("{name}[1]"))?;
                if last < first {
                    return Err(at.field(name, format!("end {last} is before start {first}")));
                }
                // Inclusive end; saturating so that a huge offset is reported, not a panic.
                let end = last.saturating_add(1);
                at.span(&name, first, end, chars.len())?;
                let found: String = chars[first..end].iter().collect();
                if found != *mention {
                    return Err(at.field(
                        name,
                        format!("the text there is `{found}`, not the mention"),
                    ));
                }
                out.push(span(first, end, label));
            }
        }
    }
    Ok(out)
}

fn span(start: usize, end: usize, label: &str) -> Span {
    Span {
        start,
        end,
        label: label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SpanSentence>, DataError> {
        parse_span_jsonl(text, "t.jsonl")
    }

    fn bounds(s: &SpanSentence) -> Vec<(usize, usize, &str)> {
        s.spans
            .iter()
            .map(|x| (x.start, x.end, x.label.as_str()))
            .collect()
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn pieces_clip_spans_and_nested_spans_are_refused_as_tags_with_file_and_line() {
        let s = &parse(
            "\n{\"text\": \"北京大学。张三在北京\", \"label\": [[0, 4, \"ORG\"], [0, 2, \"LOC\"], [3, 7, \"X\"], [8, 10, \"LOC\"]]}",
        )
        .unwrap()[0];
        assert!(s.is_nested());
        // Cut after the 。 (5 chars): X (3..7) becomes 3..5 and 0..2 of the second piece.
        let pieces = s.pieces(6);
        assert_eq!(pieces.len(), 2);
        assert_eq!(
            bounds(&pieces[0]),
            [(0, 2, "LOC"), (0, 4, "ORG"), (3, 5, "X")]
        );
        assert_eq!(bounds(&pieces[1]), [(0, 2, "X"), (3, 5, "LOC")]);
        assert!(pieces.iter().all(|p| p.line == 2));
        let e = s
            .to_sentence(Scheme::Bioes, "n.jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "n.jsonl:2: entities `北京` LOC [0, 2) and `北京大学` ORG [0, 4) overlap"
            ),
            "{e}"
        );
        let flat = &pieces[1];
        assert!(!flat.is_nested());
        let tagged = flat.to_sentence(Scheme::Bioes, "n.jsonl").unwrap();
        assert_eq!(tagged.tags, ["B-X", "E-X", "O", "B-LOC", "E-LOC"]);
    }

    #[test]
    fn spans_form_with_exclusive_ends_and_nesting() {
        let s = parse(
            "{\"text\": \"北京大学校长\", \"spans\": [{\"start\": 0, \"end\": 4, \"type\": \"ORG\"}, \
             {\"start\": 0, \"end\": 2, \"type\": \"LOC\"}, {\"start\": 4, \"end\": 6, \"type\": \"TITLE\"}]}\n",
        )
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].chars.len(), 6);
        assert_eq!(
            bounds(&s[0]),
            [(0, 2, "LOC"), (0, 4, "ORG"), (4, 6, "TITLE")]
        );
        assert_eq!(longest_span(&s), 4);
        assert_eq!(s[0].line, 1);
    }

    #[test]
    fn spans_doccano_form_and_blank_lines() {
        let s = parse("\n{\"id\": 3, \"text\": \"张三去上海\", \"label\": [[3, 5, \"LOC\"], [0, 2, \"PER\"], [0, 2, \"PER\"]]}\n\n{\"text\": \"没有\", \"label\": []}\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(bounds(&s[0]), [(0, 2, "PER"), (3, 5, "LOC")]);
        assert_eq!((s[0].line, s[1].line), (2, 4));
        assert!(s[1].spans.is_empty());
    }

    #[test]
    fn spans_cluener_form_has_inclusive_ends() {
        // CLUENER's own first training record (text shortened after the name).
        let line = r#"{"text": "浙商银行企业信贷部叶老桂博士则从", "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}}}"#;
        let s = parse(line).unwrap();
        assert_eq!(bounds(&s[0]), [(0, 4, "company"), (9, 12, "name")]);
    }

    #[test]
    fn spans_cluener_mention_must_match_the_text() {
        let line = r#"{"text": "浙商银行企业", "label": {"company": {"浙商银行": [[1, 4]]}}}"#;
        let e = err(line);
        assert!(
            e.starts_with("t.jsonl:1: field `label.company.浙商银行[0]`"),
            "{e}"
        );
        assert!(e.contains("商银行企"), "{e}");
    }

    #[test]
    fn spans_malformed_records_name_file_line_and_field() {
        let ok = "{\"text\": \"ab\", \"spans\": []}\n";
        let cases = [
            (
                "{\"text\": \"ab\", \"spans\": [}",
                "t.jsonl:2: invalid JSON",
            ),
            (
                "{\"text\": \"ab\", \"spans\": [{\"start\": 1, \"end\": 3, \"type\": \"X\"}]}",
                "t.jsonl:2: field `spans[0]`: span 1..3 is past the text (2 chars)",
            ),
            (
                "{\"text\": \"abc\", \"label\": [[2, 1, \"X\"]]}",
                "t.jsonl:2: field `label[0]`: end 1 is before start 2",
            ),
            (
                "{\"text\": \"abc\", \"entities\": []}",
                "t.jsonl:2: field `spans`: missing",
            ),
            (
                "{\"text\": \"abc\", \"label\": 5}",
                "t.jsonl:2: field `label`: expected a list",
            ),
            ("[1, 2]", "t.jsonl:2: field ``: expected a JSON object"),
            ("{\"spans\": []}", "t.jsonl:2: field `text`: missing"),
            (
                "{\"text\": \"abc\", \"spans\": [{\"start\": -1, \"end\": 2, \"type\": \"X\"}]}",
                "t.jsonl:2: field `spans[0].start`: expected a non-negative integer",
            ),
            (
                "{\"text\": \"abc\", \"spans\": [{\"start\": 0, \"end\": 2}]}",
                "t.jsonl:2: field `spans[0].type`: missing",
            ),
            (
                "{\"text\": \"abc\", \"label\": [[0, 1]]}",
                "t.jsonl:2: field `label[0]`: expected [start, end, type]",
            ),
            (
                "{\"text\": \"abc\", \"label\": {\"X\": {\"c\": [[2, 1]]}}}",
                "t.jsonl:2: field `label.X.c[0]`: end 1 is before start 2",
            ),
            (
                "{\"text\": \"abc\", \"spans\": [{\"start\": 1, \"end\": 1, \"type\": \"X\"}]}",
                "t.jsonl:2: field `spans[0]`: empty span at 1",
            ),
        ];
        for (bad, want) in cases {
            let e = err(&format!("{ok}{bad}\n"));
            assert!(e.starts_with(want), "{bad}\n  got  {e}\n  want {want}");
        }
    }

    #[test]
    fn spans_a_record_with_empty_text_is_an_error_naming_its_line() {
        let e = parse_span_jsonl(
            "{\"text\": \"张三\", \"spans\": []}\n{\"text\": \"\", \"spans\": []}\n",
            "e.jsonl",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("e.jsonl:2") && e.contains("text") && e.contains("empty"),
            "{e}"
        );
    }

    #[test]
    fn spans_empty_input_and_bad_utf8_are_errors() {
        assert!(err("\n\n").starts_with("t.jsonl:1: no sentences"));
        let e = parse_span_jsonl_bytes(b"{\"text\": \"a\", \"spans\": []}\n\xff\n", "t.jsonl")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.jsonl:2: invalid UTF-8"), "{e}");
    }

    #[test]
    fn spans_from_conll_reuse_the_chunk_rules() {
        let sentence = Sentence {
            chars: "张三去北京".chars().collect(),
            tags: ["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]
                .map(String::from)
                .to_vec(),
            line: 7,
        };
        let s = SpanSentence::from_conll(&sentence);
        assert_eq!(bounds(&s), [(0, 2, "PER"), (3, 5, "LOC")]);
        assert_eq!(s.line, 7);
        assert_eq!(longest_span(std::slice::from_ref(&s)), 2);
        assert_eq!(span_types(&[s]), ["LOC", "PER"]);
    }
}

/// Property tests: whatever the records, the reader returns spans inside their text or an error
/// naming the file and a line inside it; it never panics.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Records of the three forms with arbitrary offsets, plus broken lines.
    fn record() -> impl Strategy<Value = String> {
        let text = "[北京张三a，]{0,8}";
        let off = prop_oneof![8 => 0u64..10, 1 => Just(u64::MAX), 1 => Just(1u64 << 40)];
        prop_oneof![
            3 => (text, prop::collection::vec((off.clone(), off.clone()), 0..3)).prop_map(|(t, v)| {
                let spans: Vec<String> = v
                    .iter()
                    .map(|(s, e)| format!("{{\"start\": {s}, \"end\": {e}, \"type\": \"X\"}}"))
                    .collect();
                format!("{{\"text\": \"{t}\", \"spans\": [{}]}}", spans.join(", "))
            }),
            3 => (text, prop::collection::vec((off.clone(), off.clone()), 0..3)).prop_map(|(t, v)| {
                let l: Vec<String> = v.iter().map(|(s, e)| format!("[{s}, {e}, \"Y\"]")).collect();
                format!("{{\"text\": \"{t}\", \"label\": [{}]}}", l.join(", "))
            }),
            3 => (text, "[北京张三a]{0,3}", off.clone(), off).prop_map(|(t, m, s, e)| {
                format!("{{\"text\": \"{t}\", \"label\": {{\"Z\": {{\"{m}\": [[{s}, {e}]]}}}}}}")
            }),
            1 => "[^\\n]{0,16}",
            1 => Just(String::new()),
        ]
    }

    proptest! {
        #[test]
        fn spans_jsonl_never_panics_and_errors_name_a_line(
            lines in prop::collection::vec(record(), 0..12)
        ) {
            let text = lines.join("\n");
            match parse_span_jsonl(&text, "p.jsonl") {
                Ok(sentences) => {
                    for s in &sentences {
                        prop_assert!(s.line >= 1 && s.line <= lines.len());
                        for x in &s.spans {
                            prop_assert!(x.start < x.end && x.end <= s.chars.len());
                        }
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    let line: usize = msg
                        .strip_prefix("p.jsonl:")
                        .and_then(|r| r.split(':').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    prop_assert!(line >= 1 && line <= lines.len().max(1), "{}", msg);
                }
            }
        }
    }
}
