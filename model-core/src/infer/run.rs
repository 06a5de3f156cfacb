//! The driving loop as a state machine, shared by the synchronous [`crate::Pipeline`] and the
//! browser's asynchronous engine, which differ only in how they read tensors back:
//!
//! ```ignore
//! let mut run = Run::new(&plan, ScoreLayout::of(&meta.model), d_model, with_reps);
//! while let Some(batch) = run.next_batch(&device) {
//!     let out = forward(&tagger, &batch, run.with_reps());
//!     run.accept(read(out.scores)?, out.reps.map(read).transpose()?);
//! }
//! let outputs = run.finish();
//! ```

use super::plan::Plan;
use crate::batch::{Batch, Example};
use crate::config::Decoding;
use crate::model::TaggerConfig;
use crate::model::binder::{ScoredSpan, SpanDims, decode_sentence};
use burn::prelude::*;

/// How the host reads a head's scores ([`super::forward::Forward::scores`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScoreLayout {
    /// CRF emissions, `[len, n_tags]` per sentence, kept for Viterbi.
    Tags { n_tags: usize },
    /// Binder span scores, `[n_types, 1 + len, max_span_len]` per sentence (`len`: the batch's
    /// padded length), decoded as they arrive.
    Spans {
        n_types: usize,
        max_span_len: usize,
        decoding: Decoding,
    },
}

impl ScoreLayout {
    /// The layout of a model of config `model`.
    pub(crate) fn of(model: &TaggerConfig) -> Self {
        match &model.binder {
            Some(b) => ScoreLayout::Spans {
                n_types: b.n_types,
                max_span_len: b.max_span_len,
                decoding: model.hyper.binder.decoding,
            },
            None => ScoreLayout::Tags {
                n_tags: model.n_tags,
            },
        }
    }
}

/// Per-piece results of a run, indexed like the plan's pieces.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// Emissions `[len * n_tags]` per piece (empty for an empty piece and for Binder).
    pub(crate) emissions: Vec<Vec<f32>>,
    /// Binder: the entities decoded from each piece's span scores, piece offsets (empty lists
    /// for the CRF head).
    pub(crate) spans: Vec<Vec<ScoredSpan>>,
    /// Whether the scores were Binder's (`spans` holds the results, `emissions` nothing).
    pub(crate) binder: bool,
    /// Encoder outputs `[len * d_model]` per piece, when the run asked for them.
    pub(crate) reps: Option<Vec<Vec<f32>>>,
}

/// A plan being run, batch by batch.
pub struct Run<'p> {
    plan: &'p Plan,
    next: usize,
    /// The non-empty pieces of the batch handed out and their padded length, until accepted.
    pending: Option<(Vec<usize>, usize)>,
    layout: ScoreLayout,
    d_model: usize,
    out: Outputs,
}

impl<'p> Run<'p> {
    pub(crate) fn new(
        plan: &'p Plan,
        layout: ScoreLayout,
        d_model: usize,
        with_reps: bool,
    ) -> Self {
        let n = plan.pieces.len();
        Self {
            plan,
            next: 0,
            pending: None,
            layout,
            d_model,
            out: Outputs {
                emissions: vec![Vec::new(); n],
                spans: vec![Vec::new(); n],
                binder: matches!(layout, ScoreLayout::Spans { .. }),
                reps: with_reps.then(|| vec![Vec::new(); n]),
            },
        }
    }

    pub fn with_reps(&self) -> bool {
        self.out.reps.is_some()
    }

    /// The next batch to run (buckets of empty pieces only are skipped), or `None` when done.
    pub fn next_batch(&mut self, device: &Device) -> Option<Batch> {
        assert!(self.pending.is_none(), "a batch was not accepted");
        while let Some(group) = self.plan.batches.get(self.next) {
            self.next += 1;
            let pieces: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&i| !self.plan.examples[i].is_empty())
                .collect();
            if pieces.is_empty() {
                continue;
            }
            let refs: Vec<&Example> = pieces.iter().map(|&i| &self.plan.examples[i]).collect();
            let batch = Batch::new(&refs, device);
            self.pending = Some((pieces, batch.max_len()));
            return Some(batch);
        }
        None
    }

    /// The values of the last batch's [`super::forward::Forward`], read back: its scores (by
    /// the model's head: emissions or span scores) and, when asked for, representations
    /// `[tokens, d_model]`.
    pub fn accept(&mut self, scores: Vec<f32>, reps: Option<Vec<f32>>) {
        let (pieces, l) = self.pending.take().expect("accept follows next_batch");
        let d = self.d_model;
        let mut row = 0;
        for (k, &i) in pieces.iter().enumerate() {
            let len = self.plan.examples[i].len();
            match self.layout {
                ScoreLayout::Tags { n_tags: n } => {
                    self.out.emissions[i] = scores[k * l * n..(k * l + len) * n].to_vec();
                }
                ScoreLayout::Spans {
                    n_types,
                    max_span_len,
                    decoding,
                } => {
                    let dims = SpanDims {
                        n_types,
                        positions: l + 1,
                        max_span_len,
                    };
                    let per = n_types * (l + 1) * max_span_len;
                    let mine = &scores[k * per..(k + 1) * per];
                    self.out.spans[i] = decode_sentence(mine, dims, len, decoding);
                }
            }
            if let (Some(all), Some(r)) = (self.out.reps.as_mut(), reps.as_ref()) {
                all[i] = r[row * d..(row + len) * d].to_vec();
            }
            row += len;
        }
    }

    pub fn finish(self) -> Outputs {
        assert!(self.pending.is_none(), "a batch was not accepted");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocabs;

    #[test]
    fn empty_pieces_are_never_run_and_each_piece_gets_its_own_rows() {
        let vocabs = Vocabs::build([['a'].as_slice()], 1, 1);
        let s: Vec<Vec<char>> = ["", "abc", "a"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let plan = Plan::sentences(&s, &vocabs, 8, 2);
        // Buckets by length: ["", "a"], ["abc"].
        let (n, d) = (2, 1);
        let mut run = Run::new(&plan, ScoreLayout::Tags { n_tags: n }, d, true);
        let device = Device::flex();
        let mut seen = Vec::new();
        while let Some(batch) = run.next_batch(&device) {
            let (b, l) = (batch.lengths.len(), batch.max_len());
            seen.push(batch.lengths.clone());
            let emissions: Vec<f32> = (0..b * l * n).map(|v| v as f32).collect();
            let reps: Vec<f32> = (0..batch.tokens() * d).map(|v| 100.0 + v as f32).collect();
            run.accept(emissions, Some(reps));
        }
        assert_eq!(seen, vec![vec![1], vec![3]]);
        let out = run.finish();
        assert!(out.emissions[0].is_empty());
        assert_eq!(out.emissions[2], vec![0.0, 1.0]);
        assert_eq!(
            out.emissions[1],
            (0..6).map(|v| v as f32).collect::<Vec<_>>()
        );
        assert_eq!(out.reps.unwrap()[1], vec![100.0, 101.0, 102.0]);
    }
}
