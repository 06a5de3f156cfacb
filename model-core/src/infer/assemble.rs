//! The host side of inference: per-piece emissions → Viterbi tags and CRF marginals, pieces
//! re-joined into sentences or lines, entities with offsets, and the [`Analysis`] the web page
//! shows.

use super::plan::{Plan, TextPlan};
use super::run::Outputs;
use crate::data::{Span, tags_to_spans};
use crate::decode::CrfScores;
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
    /// zero rows for line breaks.
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

/// Tag ids per unit of `plan` (pieces re-joined in order).
pub(crate) fn tag_ids(plan: &Plan, out: &Outputs, crf: &CrfScores) -> Vec<Vec<usize>> {
    let mut ids = vec![Vec::new(); plan.units];
    for (p, em) in plan.pieces.iter().zip(&out.emissions) {
        ids[p.unit].extend(crf.viterbi(em));
    }
    ids
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
    for (k, em) in out.emissions.iter().enumerate() {
        let (text, off) = plan.piece_offset(k);
        for (t, id) in crf.viterbi(em).into_iter().enumerate() {
            all[text][off + t] = Some(tags.tags[id].clone());
        }
    }
    all
}

/// The lines of text `text` with their entities (line offsets), and the text's entities (text
/// offsets).
fn text_lines(plan: &TextPlan, text: usize, tags: &[Option<String>]) -> (Vec<Line>, Vec<Entity>) {
    let chars = &plan.chars[text];
    let mut lines = Vec::new();
    let mut entities = Vec::new();
    for l in plan.lines.iter().filter(|l| l.text == text) {
        let (s, e) = (l.start, l.end);
        let line_tags: Vec<String> = tags[s..e]
            .iter()
            .map(|t| t.clone().unwrap_or_default())
            .collect();
        let ents = spans_to_entities(&tags_to_spans(&line_tags), &chars[s..e]);
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
    text_tags(plan, out, crf, tags)
        .iter()
        .enumerate()
        .map(|(k, t)| text_lines(plan, k, t).1)
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
    let mut result: Vec<Analysis> = plan
        .chars
        .iter()
        .zip(per_text)
        .enumerate()
        .map(|(k, (chars, tags))| {
            let (lines, entities) = text_lines(plan, k, &tags);
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
        a.marginals[off * n..(off + len) * n].copy_from_slice(&crf.marginals(em));
        if let Some(reps) = &out.reps {
            a.embeddings.extend_from_slice(&reps[k]);
            a.embedded_chars.extend(off..off + len);
        }
    }
    result
}
