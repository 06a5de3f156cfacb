//! Encoded sentences and padded mini-batches.

use crate::data::Sentence;
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
}

impl Example {
    pub fn unlabelled(chars: &[char], vocabs: &Vocabs) -> Self {
        let bert = vocabs
            .bert
            .as_ref()
            .map_or_else(Vec::new, |v| v.encode_wrapped(chars));
        let (chars, bigrams) = vocabs.encode(chars);
        Self {
            chars,
            bigrams,
            bert,
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

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }
}

/// A padded batch on a device.
#[derive(Clone, Debug)]
pub struct Batch {
    pub chars: Tensor<2, Int>,
    pub bigrams: Tensor<2, Int>,
    /// True at padding.
    pub pad: Tensor<2, Bool>,
    pub lengths: Vec<usize>,
    pub tags: Vec<Vec<usize>>,
    pub classes: Vec<Vec<usize>>,
    /// Pretrained-encoder input `[batch, len + 2]` (`[CLS] chars [SEP]`, then padding) and its
    /// padding mask; `None` when the examples carry no such ids.
    pub bert: Option<(Tensor<2, Int>, Tensor<2, Bool>)>,
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
            chars: Tensor::from_data(TensorData::new(chars, [b, l]), device),
            bigrams: Tensor::from_data(TensorData::new(bigrams, [b, l]), device),
            pad: Tensor::from_data(TensorData::new(pad, [b, l]), device),
            lengths: examples.iter().map(|e| e.len()).collect(),
            tags: examples.iter().map(|e| e.tags.clone()).collect(),
            classes: examples.iter().map(|e| e.classes.clone()).collect(),
        }
    }

    pub fn max_len(&self) -> usize {
        self.chars.dims()[1]
    }

    pub fn tokens(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Rows of the flattened `[batch * len]` positions that hold real tokens, in order.
    pub fn token_rows(&self) -> Vec<i64> {
        let l = self.max_len();
        self.lengths
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (0..n).map(move |t| (i * l + t) as i64))
            .collect()
    }

    /// Real-token representations `[tokens, d]` from `[batch, len, d]`, aligned with
    /// `classes` flattened.
    pub fn gather_tokens(&self, reps: Tensor<3>) -> Tensor<2> {
        let [b, l, d] = reps.dims();
        let rows = self.token_rows();
        let n = rows.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &reps.device());
        reps.reshape([b * l, d]).select(0, idx)
    }
}

/// Indices of `lens` grouped into batches of similar length (sorted, then chunked), so padding
/// stays small; the batch order is shuffled by the caller.
pub fn length_buckets(lens: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}
