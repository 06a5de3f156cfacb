//! Host planning, no tensors: sentences or text → lines → pieces of at most `max_len` characters
//! with their offsets → encoded examples → length buckets (one forward pass each).

use crate::batch::{Example, length_buckets};
use crate::vocab::Vocabs;

/// Pieces of at most `max_len` characters, cut after the last sentence or clause punctuation
/// inside the window when there is one, so entities are rarely cut.
pub fn split_long(s: &[char], max_len: usize) -> Vec<&[char]> {
    let max_len = max_len.max(1);
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max_len {
        let window = &rest[..max_len];
        let cut = window
            .iter()
            .rposition(|c| "。！？；!?;".contains(*c))
            .or_else(|| window.iter().rposition(|c| "，,、 ".contains(*c)))
            .map_or(max_len, |p| p + 1);
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

/// The lines of `chars` as `(start, end)` ranges: split at '\n', and a trailing '\r' is not part
/// of its line (like `str::lines`, but an empty last line is kept).
pub(crate) fn line_ranges(chars: &[char]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c == '\n' {
            ranges.push((start, i));
            start = i + 1;
        }
    }
    ranges.push((start, chars.len()));
    for (s, e) in &mut ranges {
        if *e > *s && chars[*e - 1] == '\r' {
            *e -= 1;
        }
    }
    ranges
}

/// A piece the model sees: `len` characters of unit `unit` (a sentence, or a line of a text)
/// from `start`, an offset into that unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) unit: usize,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// What to run: the pieces, their ids, and the pieces of each forward pass.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Sentences or lines planned (pieces refer to them by index).
    pub(crate) units: usize,
    pub(crate) pieces: Vec<Piece>,
    /// One per piece.
    pub(crate) examples: Vec<Example>,
    /// Piece indices per forward pass, by length; an empty piece is planned (so the buckets of
    /// the others do not move) but never run.
    pub(crate) batches: Vec<Vec<usize>>,
}

impl Plan {
    /// Sentences of at most `max_len` characters, one piece each, as they are.
    pub(crate) fn pieces(pieces: &[&[char]], vocabs: &Vocabs, batch_size: usize) -> Self {
        let planned = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| Piece {
                unit: i,
                start: 0,
                len: p.len(),
            })
            .collect();
        Self::new(pieces.len(), planned, pieces, vocabs, batch_size)
    }

    /// Sentences of any length (the unit of `nerco predict` and `eval`): each is split into
    /// pieces of at most `max_len`; an empty sentence keeps one empty piece.
    pub(crate) fn sentences<S: AsRef<[char]>>(
        sentences: &[S],
        vocabs: &Vocabs,
        max_len: usize,
        batch_size: usize,
    ) -> Self {
        let mut pieces = Vec::new();
        let mut chars = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            let mut start = 0;
            for p in split_long(s.as_ref(), max_len) {
                pieces.push(Piece {
                    unit: i,
                    start,
                    len: p.len(),
                });
                chars.push(p);
                start += p.len();
            }
        }
        Self::new(sentences.len(), pieces, &chars, vocabs, batch_size)
    }

    fn new(
        units: usize,
        pieces: Vec<Piece>,
        chars: &[&[char]],
        vocabs: &Vocabs,
        batch_size: usize,
    ) -> Self {
        let examples: Vec<Example> = chars
            .iter()
            .map(|p| Example::unlabelled(p, vocabs))
            .collect();
        let lens: Vec<usize> = examples.iter().map(Example::len).collect();
        Self {
            units,
            pieces,
            examples,
            batches: length_buckets(&lens, batch_size),
        }
    }
}

/// A line of one of the planned texts: `chars[start..end]` of text `text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineSpan {
    pub(crate) text: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Texts planned line by line (what the web page and [`crate::Pipeline::tag`] tag): the units
/// are the lines, each tagged as `nerco predict` tags a line. Empty pieces are left out.
#[derive(Clone, Debug)]
pub struct TextPlan {
    /// Each text's characters (Unicode scalar values).
    pub(crate) chars: Vec<Vec<char>>,
    pub(crate) lines: Vec<LineSpan>,
    pub plan: Plan,
}

impl TextPlan {
    pub(crate) fn new<S: AsRef<str>>(
        texts: &[S],
        vocabs: &Vocabs,
        max_len: usize,
        batch_size: usize,
    ) -> Self {
        let chars: Vec<Vec<char>> = texts.iter().map(|t| t.as_ref().chars().collect()).collect();
        let mut lines = Vec::new();
        let mut pieces = Vec::new();
        let mut piece_chars = Vec::new();
        for (k, text) in chars.iter().enumerate() {
            for (start, end) in line_ranges(text) {
                let mut off = 0;
                for p in split_long(&text[start..end], max_len) {
                    if !p.is_empty() {
                        pieces.push(Piece {
                            unit: lines.len(),
                            start: off,
                            len: p.len(),
                        });
                        piece_chars.push(p);
                    }
                    off += p.len();
                }
                lines.push(LineSpan {
                    text: k,
                    start,
                    end,
                });
            }
        }
        let plan = Plan::new(lines.len(), pieces, &piece_chars, vocabs, batch_size);
        Self { chars, lines, plan }
    }

    /// Where piece `k` starts in its text's characters.
    pub(crate) fn piece_offset(&self, k: usize) -> (usize, usize) {
        let p = self.plan.pieces[k];
        let line = self.lines[p.unit];
        (line.text, line.start + p.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sentences_are_split_without_losing_characters() {
        let s: Vec<char> = "我在北京。他在上海，她在广州".chars().collect();
        let parts = split_long(&s, 6);
        assert!(parts.iter().all(|p| p.len() <= 6));
        assert_eq!(parts.concat(), s);
        assert_eq!(parts[0].iter().collect::<String>(), "我在北京。");
        assert_eq!(split_long(&[], 4).len(), 1);
    }

    #[test]
    fn lines_drop_a_trailing_carriage_return_and_keep_empty_lines() {
        let chars: Vec<char> = "ab\r\n\ncd".chars().collect();
        assert_eq!(line_ranges(&chars), vec![(0, 2), (4, 4), (5, 7)]);
        assert_eq!(line_ranges(&[]), vec![(0, 0)]);
    }

    #[test]
    fn text_pieces_cover_every_line_with_offsets_and_buckets_hold_each_piece_once() {
        let vocabs = Vocabs::build([['a'].as_slice()], 1, 1);
        let plan = TextPlan::new(&["我在北京。他在上海\n\nxy", "z"], &vocabs, 5, 2);
        assert_eq!(plan.lines.len(), 4);
        let spans: Vec<(usize, usize, usize)> = (0..plan.plan.pieces.len())
            .map(|k| {
                let (t, off) = plan.piece_offset(k);
                (t, off, plan.plan.pieces[k].len)
            })
            .collect();
        assert_eq!(spans, vec![(0, 0, 5), (0, 5, 4), (0, 11, 2), (1, 0, 1)]);
        let mut seen: Vec<usize> = plan.plan.batches.concat();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        assert!(plan.plan.batches.iter().all(|b| b.len() <= 2));
    }

    #[test]
    fn an_empty_sentence_keeps_one_empty_piece() {
        let vocabs = Vocabs::build([['a'].as_slice()], 1, 1);
        let s: Vec<Vec<char>> = vec![vec![], "abcdefg".chars().collect()];
        let plan = Plan::sentences(&s, &vocabs, 4, 8);
        let units: Vec<usize> = plan.pieces.iter().map(|p| p.unit).collect();
        assert_eq!(units, vec![0, 1, 1]);
        assert_eq!(plan.pieces[2].start, 4);
    }
}
