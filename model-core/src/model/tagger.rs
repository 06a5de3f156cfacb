//! The full tagger: embeddings → encoder (stage 1 learns these) → dropout → linear → CRF.
//!
//! The encoder runs over the characters, or, in a FLAT model ([`TaggerConfig::lattice`]), over the
//! characters followed by the lexicon words that match the sentence (a flat lattice with head and
//! tail positions); either way [`Tagger::encode`] returns the character positions only, so the
//! contrastive loss, the CRF and the viewer see characters alike.
//!
//! With a pretrained character encoder (BERT), its hidden states join the character and bigram
//! embeddings before the projection, and the relative-position encoder runs on top (FLAT+BERT's
//! layout). The trainer keeps BERT frozen in stage 1 by feeding [`Tagger::encode_with`] features
//! computed without autodiff.

use super::attention::RelativePositions;
use super::bert::{Bert, BertConfig};
use super::binder::{BinderConfig, BinderHead};
use super::crf::{Crf, CrfConfig};
use super::embedding::{
    CharBigramEmbedding, CharBigramEmbeddingConfig, WordEmbedding, WordEmbeddingConfig,
};
use super::encoder::{Encoder, EncoderConfig};
use crate::batch::Batch;
use crate::config::{ConfigError, EncoderKind, HeadKind, ModelConfig};
use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

/// What a tagger is built from: the sizes its vocabularies and tag set give it, and the
/// hyperparameters of the run config's `[model]` table, nested as they are (one struct, one
/// [`ModelConfig::validate`]). This is the `model` object of a `meta.json`.
#[derive(Config, Debug)]
pub struct TaggerConfig {
    pub n_chars: usize,
    pub n_bigrams: usize,
    pub n_tags: usize,
    #[config(default = "ModelConfig::default()")]
    pub hyper: ModelConfig,
    /// The pretrained character encoder's shape; its weights live in the tagger's record.
    pub char_encoder: Option<BertConfig>,
    /// The FLAT lattice's words; `None` for a character-only encoder.
    pub lattice: Option<LatticeConfig>,
    /// Binder's head, its type count and K resolved from the training data (its other sizes
    /// are [`ModelConfig::binder`]'s); `None` for the CRF head.
    pub binder: Option<BinderConfig>,
}

/// The word side of a FLAT lattice (its widths are [`ModelConfig::word_dim`] and
/// [`ModelConfig::dropout_word`]).
#[derive(Config, Debug)]
pub struct LatticeConfig {
    /// Size of the word vocabulary ([`crate::lexicon::Lexicon::len`]).
    pub n_words: usize,
}

#[derive(Module, Debug)]
pub struct Tagger {
    pub bert: Option<Bert>,
    pub embed: CharBigramEmbedding,
    /// The lattice's word embeddings (FLAT models only).
    pub words: Option<WordEmbedding>,
    pub(crate) encoder: Encoder,
    pub(crate) dropout_out: Dropout,
    pub(crate) head: Linear,
    pub(crate) crf: Crf,
    /// Binder models only: the sentence token and the span/type head.
    pub(crate) binder: Option<BinderParts>,
}

/// What a Binder model adds to the tagger. The linear + CRF fields stay (untrained, unused) so
/// that every model has one weight layout.
#[derive(Module, Debug)]
pub struct BinderParts {
    /// The learned `[CLS]`-like sentence token, `[d_model]`: put in front of the embedded
    /// characters, it goes through the encoder and carries the per-sentence threshold.
    pub(crate) cls: Param<Tensor<1>>,
    pub(crate) head: BinderHead,
}

impl TaggerConfig {
    /// The hyperparameters in range, and a lattice exactly when the encoder is FLAT.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.hyper.validate()?;
        let flat = self.hyper.encoder == EncoderKind::Flat;
        if flat != self.lattice.is_some() {
            return Err(ConfigError {
                field: "encoder",
                message: format!(
                    "is {:?} but the model {} a lattice",
                    self.hyper.encoder,
                    if flat { "has no" } else { "has" }
                ),
            });
        }
        self.validate_binder()
    }

    /// A Binder config exactly when the head is Binder, with sizes that build.
    fn validate_binder(&self) -> Result<(), ConfigError> {
        let bad = |field, message: String| Err(ConfigError { field, message });
        let binder = self.hyper.head == HeadKind::Binder;
        match &self.binder {
            None if binder => bad("head", "is binder but the model has no Binder head".into()),
            Some(_) if !binder => bad("head", "is crf but the model has a Binder head".into()),
            Some(b) if b.max_span_len == 0 || b.n_types == 0 => bad(
                "binder.max_span_len",
                format!(
                    "({}) and the type count ({}) must be positive",
                    b.max_span_len, b.n_types
                ),
            ),
            Some(b) if b.d_input != self.hyper.d_model => bad(
                "binder",
                format!(
                    "head reads {} features but model.d_model is {}",
                    b.d_input, self.hyper.d_model
                ),
            ),
            _ => Ok(()),
        }
    }

    pub fn init(&self, device: &Device) -> Tagger {
        let h = &self.hyper;
        Tagger {
            bert: self.char_encoder.as_ref().map(|c| c.init(device)),
            embed: CharBigramEmbeddingConfig::new(self.n_chars, self.n_bigrams, h.d_model)
                .with_char_dim(h.char_dim)
                .with_extra_dim(self.char_encoder.as_ref().map_or(0, |c| c.hidden_size))
                .with_bigram_dim(h.bigram_dim)
                .with_dropout(h.dropout_embed)
                .init(device),
            words: self.lattice.as_ref().map(|w| {
                WordEmbeddingConfig::new(w.n_words, h.d_model)
                    .with_word_dim(h.word_dim)
                    .with_dropout(h.dropout_word)
                    .init(device)
            }),
            encoder: EncoderConfig::new(h.d_model, h.n_heads)
                .with_n_layers(h.n_layers)
                .with_ff_mult(h.ff_mult)
                .with_dropout_ff(h.dropout_ff)
                .with_dropout_residual(h.dropout_residual)
                .with_dropout_attn(h.dropout_attn)
                .with_scaled(h.scaled_attention)
                .init(device),
            dropout_out: DropoutConfig::new(h.dropout_out).init(),
            head: LinearConfig::new(h.d_model, self.n_tags).init(device),
            crf: CrfConfig::new(self.n_tags).init(device),
            // Last, so that a CRF model draws the same random numbers as before Binder existed.
            binder: self.binder.as_ref().map(|c| BinderParts {
                cls: Param::from_tensor(Tensor::random(
                    [h.d_model],
                    Distribution::Normal(0.0, 0.1),
                    device,
                )),
                head: c.init(device),
            }),
        }
    }
}

impl Tagger {
    /// Character representations `[batch, len, d_model]`: what stage 1 contrasts.
    pub fn encode(&self, batch: &Batch) -> Tensor<3> {
        self.char_states(self.states(batch))
    }

    /// [`Tagger::encode`] with the pretrained encoder's features computed by the caller (e.g.
    /// without autodiff, to freeze it). `features`: `[batch, len, hidden]` or `None` without one.
    pub fn encode_with(&self, batch: &Batch, features: Option<Tensor<3>>) -> Tensor<3> {
        self.char_states(self.states_with(batch, features))
    }

    /// What the head reads: the encoder's outputs `[batch, offset + len, d_model]`, the
    /// sentence token first in a Binder model (`offset` = [`Tagger::cls_offset`]).
    pub(crate) fn states(&self, batch: &Batch) -> Tensor<3> {
        let features = self.bert.as_ref().and_then(|b| char_features(b, batch));
        self.states_with(batch, features)
    }

    /// [`Tagger::states`] with the pretrained encoder's features computed by the caller.
    pub(crate) fn states_with(&self, batch: &Batch, features: Option<Tensor<3>>) -> Tensor<3> {
        let x = self
            .embed
            .forward(batch.chars.clone(), batch.bigrams.clone(), features);
        let [b, len, d] = x.dims();
        let device = x.device();
        let (x, pad, pos) = match (&batch.lattice, &self.words) {
            (Some(lattice), Some(words)) => (
                Tensor::cat(vec![x, words.forward(lattice.words.clone())], 1),
                lattice.pad.clone(),
                RelativePositions::lattice(lattice, d, &device),
            ),
            _ => (
                x,
                batch.pad.clone(),
                RelativePositions::sequence(len, d, &device),
            ),
        };
        match &self.binder {
            None => self.encoder.forward(x, pad, &pos, len),
            Some(parts) => {
                let cls = parts.cls.val().reshape([1, 1, d]).expand([b, 1, d]);
                let x = Tensor::cat(vec![cls, x], 1);
                let pad = Tensor::cat(vec![Tensor::full([b, 1], false, &device), pad], 1);
                self.encoder.forward(x, pad, &pos.with_cls(), 1 + len)
            }
        }
    }

    /// Positions before the first character in [`Tagger::states`]: 1 with a sentence token.
    pub(crate) fn cls_offset(&self) -> usize {
        usize::from(self.binder.is_some())
    }

    /// The character rows of [`Tagger::states`], `[batch, len, d_model]`.
    pub(crate) fn char_states(&self, states: Tensor<3>) -> Tensor<3> {
        match self.cls_offset() {
            0 => states,
            off => {
                let len = states.dims()[1] - off;
                states.narrow(1, off, len)
            }
        }
    }
}

/// BERT's hidden states at the characters, `[batch, len, hidden]`: the `[CLS]` and `[SEP]`/padding
/// outputs are dropped. `None` when the batch carries no BERT ids.
pub(crate) fn char_features(bert: &Bert, batch: &Batch) -> Option<Tensor<3>> {
    let (ids, pad) = batch.bert.as_ref()?;
    let h = bert.forward(ids.clone(), pad.clone());
    Some(h.narrow(1, 1, batch.max_len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Example;
    use crate::lexicon::Lexicon;
    use crate::model::OutputHead;
    use crate::vocab::Vocabs;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// A small FLAT tagger without dropout, its vocabularies, and two sentences with words.
    fn flat() -> (Tagger, Vec<Example>, Device) {
        flat_with(false)
    }

    /// [`flat`], with a Binder head (2 types, K = 3) when `binder`.
    fn flat_with(binder: bool) -> (Tagger, Vec<Example>, Device) {
        let device = Device::flex();
        device.seed(7);
        let texts = [chars("南京市长江大桥"), chars("我在北京大学")];
        let mut vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let list: Vec<String> = [
            "南京",
            "南京市",
            "市长",
            "长江",
            "长江大桥",
            "北京",
            "北京大学",
            "大学",
        ]
        .map(String::from)
        .to_vec();
        let lex = Lexicon::build(&list, texts.iter().map(Vec::as_slice), 1, 0);
        let n_words = lex.len();
        vocabs.words = Some(lex);
        let config = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), 5)
            .with_hyper(ModelConfig {
                d_model: 16,
                n_heads: 2,
                n_layers: 2,
                char_dim: 8,
                bigram_dim: 8,
                dropout_embed: 0.0,
                dropout_ff: 0.0,
                dropout_residual: 0.0,
                dropout_out: 0.0,
                encoder: EncoderKind::Flat,
                word_dim: 6,
                dropout_word: 0.0,
                ..Default::default()
            })
            .with_lattice(Some(LatticeConfig::new(n_words)));
        let config = if binder {
            let mut hyper = config.hyper.clone();
            hyper.head = HeadKind::Binder;
            hyper.binder.dropout = 0.0;
            let head = hyper.binder_head(2, 3);
            config.with_hyper(hyper).with_binder(head)
        } else {
            config
        };
        config.validate().unwrap();
        let examples = texts
            .iter()
            .map(|t| Example::unlabelled(t, &vocabs))
            .collect();
        (config.init(&device), examples, device)
    }

    fn values(t: Tensor<3>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn the_lattice_holds_each_words_head_and_tail_and_every_pairs_distances() {
        let (_, examples, device) = flat();
        assert_eq!(examples[0].words.len(), 5);
        assert_eq!(examples[1].words.len(), 3);
        let refs: Vec<&Example> = examples.iter().collect();
        let batch = Batch::new(&refs, &device);
        let lattice = batch.lattice.as_ref().expect("words in the batch");
        let (l, w) = (7, 5);
        assert_eq!(lattice.words.dims(), [2, w]);
        let pad = lattice
            .pad
            .clone()
            .into_data()
            .convert::<bool>()
            .try_into_vec::<bool>()
            .unwrap();
        let index = lattice
            .index
            .clone()
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap();
        let t = l + w;
        for (i, e) in examples.iter().enumerate() {
            // (head, tail) of each lattice position: characters, padding, words, padding.
            let mut spans: Vec<Option<(i32, i32)>> = vec![None; t];
            for (k, span) in spans.iter_mut().enumerate().take(e.len()) {
                *span = Some((k as i32, k as i32));
            }
            for (k, m) in e.words.iter().enumerate() {
                spans[l + k] = Some((m.head as i32, m.tail as i32));
            }
            for q in 0..t {
                assert_eq!(pad[i * t + q], spans[q].is_none());
                for k in 0..t {
                    if let (Some(a), Some(b)) = (spans[q], spans[k]) {
                        let row = index[(i * t + q) * t + k] as usize;
                        assert_eq!(lattice.distances[row], (a.0 - b.0, a.1 - b.1));
                        assert!(q >= l || row < lattice.char_pairs);
                    }
                }
            }
        }
        // 南京市 spans characters 0 ..= 2.
        assert_eq!(
            (examples[0].words[1].head, examples[0].words[1].tail),
            (0, 2)
        );
    }

    /// The batch with every word turned into padding, and the batch without its lattice.
    fn masked_and_plain(batch: &Batch, device: &Device) -> (Batch, Batch) {
        let mut masked = batch.clone();
        let lattice = masked.lattice.as_mut().unwrap();
        let [b, w] = lattice.words.dims();
        lattice.pad = Tensor::cat(
            vec![
                batch.pad.clone(),
                Tensor::<2, Bool>::full([b, w], true, device),
            ],
            1,
        );
        let mut plain = batch.clone();
        plain.lattice = None;
        (masked, plain)
    }

    #[test]
    fn a_binder_tagger_reads_its_sentence_token_first_on_both_encoders() {
        let (tagger, examples, device) = flat_with(true);
        assert_eq!(tagger.cls_offset(), 1);
        let refs: Vec<&Example> = examples.iter().collect();
        let batch = Batch::new(&refs, &device);
        let states = tagger.states(&batch);
        assert_eq!(states.dims(), [2, 8, 16]);
        assert_eq!(tagger.encode(&batch).dims(), [2, 7, 16]);
        // The token sees its sentence: the two sentences' tokens differ.
        let cls = values(states.clone().narrow(1, 0, 1));
        assert!(
            cls[..16]
                .iter()
                .zip(&cls[16..])
                .any(|(a, b)| (a - b).abs() > 1e-3)
        );
        // The token is position-free, so the lattice path with its words masked still equals
        // the character path, sentence token included.
        let (masked, plain) = masked_and_plain(&batch, &device);
        let rows = |b: &Batch| {
            let s = tagger.states(b);
            let cls = values(s.clone().narrow(1, 0, 1));
            let chars = b.gather_tokens(tagger.char_states(s));
            let chars = chars.into_data().convert::<f32>().try_into_vec::<f32>();
            (cls, chars.unwrap())
        };
        let (a, b) = (rows(&masked), rows(&plain));
        assert_close(&a.0, &b.0);
        assert_close(&a.1, &b.1);
        // Binder's scores: [batch, types, (1 + len) · K].
        let scores = tagger.head().scores(states, &batch);
        assert_eq!(scores.dims(), [2, 2, 8 * 3]);
        // A CRF model has no token: its states are its characters.
        let (crf, _, _) = flat();
        assert_eq!(crf.cls_offset(), 0);
        assert_eq!(crf.states(&batch).dims(), [2, 7, 16]);
    }

    #[test]
    fn a_sentence_with_words_gives_character_outputs_that_the_words_change() {
        let (tagger, examples, device) = flat();
        let refs: Vec<&Example> = examples.iter().collect();
        let batch = Batch::new(&refs, &device);
        let reps = tagger.encode(&batch);
        assert_eq!(reps.dims(), [2, 7, 16]);
        let mut plain = batch.clone();
        plain.lattice = None;
        let without = values(tagger.encode(&plain));
        let with = values(reps);
        assert!(with.iter().zip(&without).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn masked_words_do_not_leak_and_the_lattice_path_equals_the_character_path() {
        let (tagger, examples, device) = flat();
        let refs: Vec<&Example> = examples.iter().collect();
        let batch = Batch::new(&refs, &device);
        // Every word becomes padding: the characters attend to the characters only, through the
        // lattice's distance pairs instead of the character path's 2L-1 distances.
        let (masked, plain) = masked_and_plain(&batch, &device);
        // (Padding rows differ: they are garbage either way.)
        let real = |b: &Batch| {
            b.gather_tokens(tagger.encode(b))
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        };
        assert_close(&real(&masked), &real(&plain));
        // And a word-free batch of a FLAT model takes the character path.
        let none = Example::unlabelled(&chars("你好"), &Vocabs::default());
        assert!(Batch::new(&[&none], &device).lattice.is_none());
    }
}
