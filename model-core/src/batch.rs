//! Encoded sentences and padded mini-batches.

use crate::data::{Sentence, Span, spans_to_tags};
use crate::lexicon::WordMatch;
use crate::model::binder::GoldMention;
use crate::tags::TagSet;
use crate::vocab::{PAD, Vocabs};
use burn::prelude::*;

/// One sentence as ids. `tags` and `classes` are empty for unlabelled text.
#[derive(Clone, Debug, Default)]
pub struct Example {
    pub chars: Vec<usize>,
    pub bigrams: Vec<usize>,
    pub tags: Vec<usize>,
    pub classes: Vec<usize>,
    /// Pretrained-encoder ids, `[CLS] chars [SEP]` (empty when the model has no such encoder).
    pub bert: Vec<usize>,
    /// Lexicon words in the sentence, the lattice's extra tokens (empty unless FLAT).
    pub words: Vec<WordMatch>,
    /// Gold entities for a Binder head's loss (may overlap; empty for the CRF head).
    pub gold: Vec<GoldMention>,
}

impl Example {
    pub fn unlabelled(chars: &[char], vocabs: &Vocabs) -> Self {
        let bert = vocabs
            .bert
            .as_ref()
            .map_or_else(Vec::new, |v| v.encode_wrapped(chars));
        let words = vocabs
            .words
            .as_ref()
            .map_or_else(Vec::new, |lex| lex.find(chars));
        let (chars, bigrams) = vocabs.encode(chars);
        Self {
            chars,
            bigrams,
            bert,
            words,
            ..Default::default()
        }
    }

    /// A labelled sentence; its tags must already be in `tags.scheme` (see
    /// [`crate::data::convert_tags`]). Tags outside the tag set are reported.
    pub fn labelled(s: &Sentence, vocabs: &Vocabs, tags: &TagSet) -> Result<Self, String> {
        let mut ex = Self::unlabelled(&s.chars, vocabs);
        for t in &s.tags {
            let id = tags.tag_id(t).ok_or_else(|| format!("unknown tag `{t}`"))?;
            ex.tags.push(id);
            ex.classes.push(tags.class_of(id));
        }
        Ok(ex)
    }

    /// [`Example::labelled`] where tags the set lacks (types unseen in training, in a dev or
    /// held-out split) count as `O`: the model cannot predict them, so its losses use only its
    /// own tags.
    pub fn labelled_known(s: &Sentence, vocabs: &Vocabs, tags: &TagSet) -> Self {
        let mut ex = Self::unlabelled(&s.chars, vocabs);
        for t in &s.tags {
            // Tag 0 is `O` in every tag set.
            let id = tags.tag_id(t).unwrap_or(0);
            ex.tags.push(id);
            ex.classes.push(tags.class_of(id));
        }
        ex
    }

    /// A sentence for a Binder model: `spans` (possibly overlapping) become its gold mentions,
    /// typed by `tags.types`, and its tags (for stage 1's Semantic Classes) come from
    /// [`flat_spans`] of them: where spans nest, a char's class is its outermost entity's type.
    pub fn with_gold(
        chars: &[char],
        spans: &[Span],
        vocabs: &Vocabs,
        tags: &TagSet,
    ) -> Result<Self, String> {
        let mut ex = Self::unlabelled(chars, vocabs);
        if let Some(s) = spans
            .iter()
            .find(|s| s.start >= s.end || s.end > chars.len())
        {
            return Err(format!(
                "span {}..{} is not inside the sentence's {} chars",
                s.start,
                s.end,
                chars.len()
            ));
        }
        ex.gold = GoldMention::from_spans(spans, &tags.types).map_err(|e| e.to_string())?;
        let flat = spans_to_tags(&flat_spans(spans), chars.len(), tags.scheme);
        for t in &flat {
            let id = tags.tag_id(t).ok_or_else(|| format!("unknown tag `{t}`"))?;
            ex.tags.push(id);
            ex.classes.push(tags.class_of(id));
        }
        Ok(ex)
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }
}

/// A padded batch on a device.
#[derive(Clone, Debug)]
pub struct Batch {
    pub(crate) chars: Tensor<2, Int>,
    pub(crate) bigrams: Tensor<2, Int>,
    /// True at padding.
    pub(crate) pad: Tensor<2, Bool>,
    pub(crate) lengths: Vec<usize>,
    pub(crate) tags: Vec<Vec<usize>>,
    pub classes: Vec<Vec<usize>>,
    /// Pretrained-encoder input `[batch, len + 2]` (`[CLS] chars [SEP]`, then padding) and its
    /// padding mask; `None` when the examples carry no such ids.
    pub(crate) bert: Option<(Tensor<2, Int>, Tensor<2, Bool>)>,
    /// The FLAT lattice's words; `None` when no sentence of the batch has any.
    pub(crate) lattice: Option<Lattice>,
    /// Each sentence's gold mentions (Binder; empty lists otherwise).
    pub gold: Vec<Vec<GoldMention>>,
}

/// A batch as FLAT's flat lattice: each sentence's characters (padded to the batch's `len`), then
/// its lexicon words (padded to the batch's `words`), one sequence of `len + words` tokens. A
/// character's head and tail are its position; a word's are its first and last character.
#[derive(Clone, Debug)]
pub struct Lattice {
    /// Word ids `[batch, words]`, padding 0.
    pub(crate) words: Tensor<2, Int>,
    /// True at padding, `[batch, len + words]`.
    pub(crate) pad: Tensor<2, Bool>,
    /// The distinct `(head_i − head_j, tail_i − tail_j)` of the batch's token pairs; the first is
    /// `(0, 0)`.
    pub(crate) distances: Vec<(i32, i32)>,
    /// The pairs whose query is a character come first: `distances[..char_pairs]` (a last layer
    /// that computes only the characters' rows fuses only these).
    pub(crate) char_pairs: usize,
    /// Each token pair's row of `distances`, `[batch, len + words, len + words]`; pairs with a
    /// padding token use row 0 (they are masked or discarded).
    pub(crate) index: Tensor<3, Int>,
}

impl Lattice {
    /// `None` when no example has words. `len`: the batch's character length.
    fn new(examples: &[&Example], len: usize, device: &Device) -> Option<Self> {
        let w = examples.iter().map(|e| e.words.len()).max().unwrap_or(0);
        if w == 0 {
            return None;
        }
        let (b, t) = (examples.len(), len + w);
        let mut ids = vec![PAD as i64; b * w];
        let mut pad = vec![true; b * t];
        let mut heads = vec![0i32; b * t];
        let mut tails = vec![0i32; b * t];
        for (i, e) in examples.iter().enumerate() {
            for k in 0..e.len() {
                pad[i * t + k] = false;
                heads[i * t + k] = k as i32;
                tails[i * t + k] = k as i32;
            }
            for (k, m) in e.words.iter().enumerate() {
                ids[i * w + k] = m.id as i64;
                pad[i * t + len + k] = false;
                heads[i * t + len + k] = m.head as i32;
                tails[i * t + len + k] = m.tail as i32;
            }
        }
        // Distances lie in -(len-1) ..= len-1: a dense table finds each pair's row.
        let (off, span) = (len as i32 - 1, 2 * len - 1);
        let mut row = vec![u32::MAX; span * span];
        let mut distances = vec![(0, 0)];
        row[off as usize * span + off as usize] = 0;
        let mut index = vec![0i64; b * t * t];
        let mut char_pairs = 0;
        // Character queries first, then word queries.
        for queries in [0..len, len..t] {
            for i in 0..b {
                let (pad, heads, tails) = (
                    &pad[i * t..(i + 1) * t],
                    &heads[i * t..(i + 1) * t],
                    &tails[i * t..(i + 1) * t],
                );
                for q in queries.clone().filter(|&q| !pad[q]) {
                    for k in (0..t).filter(|&k| !pad[k]) {
                        let (hh, tt) = (heads[q] - heads[k], tails[q] - tails[k]);
                        let slot = &mut row[(hh + off) as usize * span + (tt + off) as usize];
                        if *slot == u32::MAX {
                            *slot = distances.len() as u32;
                            distances.push((hh, tt));
                        }
                        index[(i * t + q) * t + k] = *slot as i64;
                    }
                }
            }
            if char_pairs == 0 {
                char_pairs = distances.len();
            }
        }
        Some(Self {
            words: Tensor::from_data(TensorData::new(ids, [b, w]), device),
            pad: Tensor::from_data(TensorData::new(pad, [b, t]), device),
            char_pairs,
            distances,
            index: Tensor::from_data(TensorData::new(index, [b, t, t]), device),
        })
    }
}

impl Batch {
    pub fn new(examples: &[&Example], device: &Device) -> Self {
        let b = examples.len();
        let l = examples.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut chars = vec![PAD as i64; b * l];
        let mut bigrams = vec![PAD as i64; b * l];
        let mut pad = vec![true; b * l];
        for (i, e) in examples.iter().enumerate() {
            for t in 0..e.len() {
                chars[i * l + t] = e.chars[t] as i64;
                bigrams[i * l + t] = e.bigrams[t] as i64;
                pad[i * l + t] = false;
            }
        }
        // Padding ids are masked out, so any valid id (0) serves.
        let bert = examples.iter().any(|e| !e.bert.is_empty()).then(|| {
            let w = l + 2;
            let mut ids = vec![0i64; b * w];
            let mut pad = vec![true; b * w];
            for (i, e) in examples.iter().enumerate() {
                for (t, &id) in e.bert.iter().enumerate().take(w) {
                    ids[i * w + t] = id as i64;
                    pad[i * w + t] = false;
                }
            }
            (
                Tensor::from_data(TensorData::new(ids, [b, w]), device),
                Tensor::from_data(TensorData::new(pad, [b, w]), device),
            )
        });
        Self {
            bert,
            lattice: Lattice::new(examples, l, device),
            chars: Tensor::from_data(TensorData::new(chars, [b, l]), device),
            bigrams: Tensor::from_data(TensorData::new(bigrams, [b, l]), device),
            pad: Tensor::from_data(TensorData::new(pad, [b, l]), device),
            lengths: examples.iter().map(|e| e.len()).collect(),
            tags: examples.iter().map(|e| e.tags.clone()).collect(),
            classes: examples.iter().map(|e| e.classes.clone()).collect(),
            gold: examples.iter().map(|e| e.gold.clone()).collect(),
        }
    }

    /// The same batch without autodiff, for an inference copy of the model (a frozen encoder):
    /// the tensors move over, nothing (the lattice's distance pairs included) is rebuilt.
    pub fn without_autodiff(&self) -> Self {
        Self {
            chars: self.chars.clone().inner(),
            bigrams: self.bigrams.clone().inner(),
            pad: self.pad.clone().inner(),
            lengths: self.lengths.clone(),
            tags: self.tags.clone(),
            classes: self.classes.clone(),
            gold: self.gold.clone(),
            bert: (self.bert.as_ref()).map(|(ids, pad)| (ids.clone().inner(), pad.clone().inner())),
            lattice: self.lattice.as_ref().map(|l| Lattice {
                words: l.words.clone().inner(),
                pad: l.pad.clone().inner(),
                distances: l.distances.clone(),
                char_pairs: l.char_pairs,
                index: l.index.clone().inner(),
            }),
        }
    }

    pub(crate) fn max_len(&self) -> usize {
        self.chars.dims()[1]
    }

    pub fn tokens(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Rows of the flattened `[batch * len]` positions that hold real tokens, in order.
    pub(crate) fn token_rows(&self) -> Vec<i64> {
        let l = self.max_len();
        self.lengths
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (0..n).map(move |t| (i * l + t) as i64))
            .collect()
    }

    /// Real-token representations `[tokens, d]` from `[batch, len, d]`, aligned with
    /// `classes` flattened.
    pub(crate) fn gather_tokens(&self, reps: Tensor<3>) -> Tensor<2> {
        let [b, l, d] = reps.dims();
        let rows = self.token_rows();
        let n = rows.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &reps.device());
        reps.reshape([b * l, d]).select(0, idx)
    }
}

/// Non-overlapping spans of `spans`: the longest first (then the earliest), skipping any that
/// overlaps one kept, so nested spans give way to their outermost entity.
pub fn flat_spans(spans: &[Span]) -> Vec<Span> {
    let mut order: Vec<&Span> = spans.iter().collect();
    order.sort_by_key(|s| (std::cmp::Reverse(s.end - s.start), s.start, s.label.clone()));
    let mut kept: Vec<Span> = Vec::new();
    for s in order {
        if kept.iter().all(|k| s.end <= k.start || k.end <= s.start) {
            kept.push(s.clone());
        }
    }
    kept.sort();
    kept
}

/// Indices of `lens` grouped into batches of similar length (sorted, then chunked), so padding
/// stays small; the batch order is shuffled by the caller.
pub(crate) fn length_buckets(lens: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Indices of `lens` grouped by length (sorted) into batches whose padded size — sentences × the
/// longest — stays within `budget` tokens; a sentence longer than the budget is a batch alone.
/// Short sentences then come in many per batch, long ones in few, so every step has about the
/// same work (what a GPU needs to stay busy).
pub(crate) fn token_buckets(lens: &[usize], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending: the newcomer is the longest of the batch.
        if !current.is_empty() && (current.len() + 1) * lens[i].max(1) > budget {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scheme;

    fn span(start: usize, end: usize, label: &str) -> Span {
        Span {
            start,
            end,
            label: label.into(),
        }
    }

    #[test]
    fn flat_spans_keep_the_outermost_and_binder_examples_carry_all_gold() {
        let nested = [span(0, 2, "LOC"), span(0, 4, "ORG"), span(5, 7, "PER")];
        assert_eq!(flat_spans(&nested), [span(0, 4, "ORG"), span(5, 7, "PER")]);
        let chars: Vec<char> = "北京大学的张三".chars().collect();
        let vocabs = Vocabs::build([chars.as_slice()], 1, 1);
        let tags = TagSet::new(Scheme::Bioes, ["LOC", "ORG", "PER"].map(String::from));
        let ex = Example::with_gold(&chars, &nested, &vocabs, &tags).unwrap();
        assert_eq!(ex.gold.len(), 3);
        // Stage 1's classes follow the outermost entity.
        let names: Vec<&str> = ex.tags.iter().map(|&t| tags.tags[t].as_str()).collect();
        assert_eq!(
            names,
            ["B-ORG", "I-ORG", "I-ORG", "E-ORG", "O", "B-PER", "E-PER"]
        );
        let unknown = Example::with_gold(&chars, &[span(0, 2, "GPE")], &vocabs, &tags);
        assert!(unknown.unwrap_err().contains("GPE"));
        let outside = Example::with_gold(&chars[..3], &nested, &vocabs, &tags);
        assert!(outside.unwrap_err().contains("not inside"));
    }
}
