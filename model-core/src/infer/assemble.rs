//! The host side of inference: per-piece emissions → Viterbi tags and CRF marginals (or, for a
//! Binder model, per-piece decoded spans → entities and the tags of their flat decoding), pieces
//! re-joined into sentences or lines, entities with offsets, and the [`Analysis`] the web page
//! shows.
//!
//! What a Binder model gives the page: `entities` (and each line's) are the decoded spans, which
//! overlap under nested decoding; `tags` are the flat decoding's (greedy by score, as
//! [`crate::model::binder::Decoding::Flat`]); Binder has no tag distribution, so each
//! `marginals` row is one-hot at that tag.

use super::plan::{Plan, TextPlan};
use super::run::Outputs;
use crate::data::{Span, spans_to_tags, tags_to_spans};
use crate::decode::CrfScores;
use crate::model::binder::{ScoredSpan, greedy_non_overlapping};
use crate::tags::TagSet;
use serde::{Deserialize, Serialize};

/// An entity found in text, with character offsets (end exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub label: String,
    pub text: String,
}

pub fn spans_to_entities(spans: &[Span], chars: &[char]) -> Vec<Entity> {
    spans
        .iter()
        .map(|s| Entity {
            start: s.start,
            end: s.end,
            label: s.label.clone(),
            text: chars[s.start..s.end].iter().collect(),
        })
        .collect()
}

/// One line of input (the unit `nerco predict` tags), with offsets into the whole text's chars.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub start: usize,
    pub end: usize,
    /// Entities with offsets relative to the line, exactly as `nerco predict` prints them.
    pub entities: Vec<Entity>,
}

/// Everything the page shows for a text.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// The text's characters (Unicode scalar values, like `Array.from(text)` in JavaScript).
    pub chars: Vec<String>,
    /// Tag per character; `None` for line breaks.
    pub tags: Vec<Option<String>>,
    /// Entities with offsets into `chars`.
    pub entities: Vec<Entity>,
    pub lines: Vec<Line>,
    /// Per-character tag marginals `P(y_t = k | x)` (CRF forward–backward), `chars × tagset`;
    /// zero rows for line breaks; one-hot rows at `tags` for a Binder model.
    pub marginals: Vec<f32>,
    /// Pieces the model saw (lines longer than `max_len` are split).
    pub pieces: usize,
    /// Encoder outputs of the tagged characters (line breaks skipped), `tokens × d_model`, when
    /// asked for. Not serialised: handed to JavaScript as a `Float32Array`.
    #[serde(skip)]
    pub embeddings: Vec<f32>,
    /// Indices into `chars` of the rows of `embeddings`.
    pub embedded_chars: Vec<usize>,
}

/// Tag ids of piece `k` (`len` chars): Viterbi over its emissions, or for Binder the tags of
/// the flat decoding of its spans.
fn piece_tag_ids(
    out: &Outputs,
    k: usize,
    len: usize,
    crf: &CrfScores,
    tags: &TagSet,
) -> Vec<usize> {
    if !out.binder {
        return crf.viterbi(&out.emissions[k]);
    }
    let flat: Vec<Span> = greedy_non_overlapping(out.spans[k].clone())
        .iter()
        .map(|s| s.to_span(&tags.types))
        .collect();
    spans_to_tags(&flat, len, tags.scheme)
        .iter()
        .map(|t| tags.tag_id(t).unwrap_or(0))
        .collect()
}

/// Tag ids per unit of `plan` (pieces re-joined in order).
pub(crate) fn tag_ids(
    plan: &Plan,
    out: &Outputs,
    crf: &CrfScores,
    tags: &TagSet,
) -> Vec<Vec<usize>> {
    let mut ids = vec![Vec::new(); plan.units];
    for (k, p) in plan.pieces.iter().enumerate() {
        ids[p.unit].extend(piece_tag_ids(out, k, p.len, crf, tags));
    }
    ids
}

/// Binder: each unit's decoded spans, offsets into the unit (pieces re-joined in order).
pub(crate) fn unit_spans(plan: &Plan, out: &Outputs) -> Vec<Vec<ScoredSpan>> {
    let mut spans = vec![Vec::new(); plan.units];
    for (p, found) in plan.pieces.iter().zip(&out.spans) {
        spans[p.unit].extend(found.iter().map(|s| ScoredSpan {
            start: s.start + p.start,
            end: s.end + p.start,
            ..*s
        }));
    }
    spans
}

/// Tag per character of each text of `plan`, `None` for line breaks (and a dropped '\r').
fn text_tags(
    plan: &TextPlan,
    out: &Outputs,
    crf: &CrfScores,
    tags: &TagSet,
) -> Vec<Vec<Option<String>>> {
    let mut all: Vec<Vec<Option<String>>> =
        plan.chars.iter().map(|c| vec![None; c.len()]).collect();
    for (k, piece) in plan.plan.pieces.iter().enumerate() {
        let (text, off) = plan.piece_offset(k);
        for (t, id) in piece_tag_ids(out, k, piece.len, crf, tags)
            .into_iter()
            .enumerate()
        {
            all[text][off + t] = Some(tags.tags[id].clone());
        }
    }
    all
}

/// Binder: each line's spans (line offsets) from its pieces', as entity spans.
fn line_spans(plan: &TextPlan, out: &Outputs, types: &[String]) -> Vec<Vec<Span>> {
    let mut spans = vec![Vec::new(); plan.lines.len()];
    for (p, found) in plan.plan.pieces.iter().zip(&out.spans) {
        spans[p.unit].extend(found.iter().map(|s| {
            let mut x = s.to_span(types);
            x.start += p.start;
            x.end += p.start;
            x
        }));
    }
    spans
}

/// The lines of text `text` with their entities (line offsets), and the text's entities (text
/// offsets): from the tags, or from each line's spans (`spans`, indexed like the plan's lines)
/// for a Binder model.
fn text_lines(
    plan: &TextPlan,
    text: usize,
    tags: &[Option<String>],
    spans: Option<&[Vec<Span>]>,
) -> (Vec<Line>, Vec<Entity>) {
    let chars = &plan.chars[text];
    let mut lines = Vec::new();
    let mut entities = Vec::new();
    for (n, l) in plan
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.text == text)
    {
        let (s, e) = (l.start, l.end);
        let line_tags: Vec<String> = tags[s..e]
            .iter()
            .map(|t| t.clone().unwrap_or_default())
            .collect();
        let found = match spans {
            Some(all) => all[n].clone(),
            None => tags_to_spans(&line_tags),
        };
        let ents = spans_to_entities(&found, &chars[s..e]);
        entities.extend(ents.iter().map(|x| Entity {
            start: x.start + s,
            end: x.end + s,
            ..x.clone()
        }));
        lines.push(Line {
            start: s,
            end: e,
            entities: ents,
        });
    }
    (lines, entities)
}

/// Entities of each text of `plan`, with offsets into the text's characters.
pub(crate) fn text_entities(
    plan: &TextPlan,
    out: &Outputs,
    crf: &CrfScores,
    tags: &TagSet,
) -> Vec<Vec<Entity>> {
    let spans = out.binder.then(|| line_spans(plan, out, &tags.types));
    text_tags(plan, out, crf, tags)
        .iter()
        .enumerate()
        .map(|(k, t)| text_lines(plan, k, t, spans.as_deref()).1)
        .collect()
}

/// The [`Analysis`] of each text of `plan`; embeddings when the run read representations back.
pub(crate) fn analyses(
    plan: &TextPlan,
    out: &Outputs,
    crf: &CrfScores,
    tags: &TagSet,
) -> Vec<Analysis> {
    let n = tags.len();
    let per_text = text_tags(plan, out, crf, tags);
    let spans = out.binder.then(|| line_spans(plan, out, &tags.types));
    let mut result: Vec<Analysis> = plan
        .chars
        .iter()
        .zip(per_text)
        .enumerate()
        .map(|(k, (chars, tags))| {
            let (lines, entities) = text_lines(plan, k, &tags, spans.as_deref());
            Analysis {
                chars: chars.iter().map(|c| c.to_string()).collect(),
                tags,
                entities,
                lines,
                marginals: vec![0f32; chars.len() * n],
                pieces: 0,
                embeddings: Vec::new(),
                embedded_chars: Vec::new(),
            }
        })
        .collect();
    for (k, em) in out.emissions.iter().enumerate() {
        let (text, off) = plan.piece_offset(k);
        let len = plan.plan.pieces[k].len;
        let a = &mut result[text];
        a.pieces += 1;
        let rows = &mut a.marginals[off * n..(off + len) * n];
        if !out.binder {
            rows.copy_from_slice(&crf.marginals(em));
        } else {
            // Binder: one-hot at the flat decoding's tag.
            for (t, id) in piece_tag_ids(out, k, len, crf, tags)
                .into_iter()
                .enumerate()
            {
                rows[t * n + id] = 1.0;
            }
        }
        if let Some(reps) = &out.reps {
            a.embeddings.extend_from_slice(&reps[k]);
            a.embedded_chars.extend(off..off + len);
        }
    }
    result
}
