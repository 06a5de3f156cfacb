//! Inference over raw text: a trained tagger with its vocabularies and tag set, from sentences to
//! tags, spans and marginals. Used by `nerco eval/predict` and by the web demo.

use crate::batch::{Batch, Example, length_buckets};
use crate::data::{Span, tags_to_spans};
use crate::decode::CrfScores;
use crate::model::{CrfConstraints, Tagger, TaggerConfig};
use crate::tags::TagSet;
use crate::vocab::Vocabs;
use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything but the weights: enough to rebuild the tagger and read its output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Bumped when the layout of the bundle changes; loading another version is an error.
    pub format_version: u32,
    pub model: TaggerConfig,
    pub vocabs: Vocabs,
    pub tags: TagSet,
    /// Longest piece the model sees; longer sentences are split and re-joined.
    pub max_len: usize,
}

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("model metadata: {0}")]
    Meta(String),
    #[error("model weights: {0}")]
    Weights(String),
}

pub struct Pipeline {
    pub meta: ModelMeta,
    pub tagger: Tagger,
    pub crf: CrfScores,
    pub device: Device,
}

/// An entity found in text, with character offsets (end exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub label: String,
    pub text: String,
}

impl ModelMeta {
    pub fn from_json(json: &str) -> Result<Self, PipelineError> {
        let meta: Self =
            serde_json::from_str(json).map_err(|e| PipelineError::Meta(e.to_string()))?;
        if meta.format_version != FORMAT_VERSION {
            return Err(PipelineError::Meta(format!(
                "format version {} but this build reads version {FORMAT_VERSION}",
                meta.format_version
            )));
        }
        if meta.model.char_encoder.is_some() != meta.vocabs.bert.is_some() {
            return Err(PipelineError::Meta(
                "a pretrained character encoder needs both its config and its vocabulary".into(),
            ));
        }
        if let (Some(c), Some(v)) = (&meta.model.char_encoder, &meta.vocabs.bert) {
            if c.vocab_size != v.len() {
                return Err(PipelineError::Meta(format!(
                    "the character encoder has {} token embeddings but its vocabulary {} tokens",
                    c.vocab_size,
                    v.len()
                )));
            }
            if meta.max_len + 2 > c.max_position_embeddings {
                return Err(PipelineError::Meta(format!(
                    "max_len {} plus [CLS] and [SEP] exceeds the character encoder's {} positions",
                    meta.max_len, c.max_position_embeddings
                )));
            }
        }
        match (&meta.model.lattice, &meta.vocabs.words) {
            (None, None) => {}
            (Some(l), Some(w)) if l.n_words == w.len() => {}
            (Some(l), Some(w)) => {
                return Err(PipelineError::Meta(format!(
                    "the lattice has {} word embeddings but its lexicon {} words",
                    l.n_words,
                    w.len()
                )));
            }
            _ => {
                return Err(PipelineError::Meta(
                    "a FLAT lattice needs both its config and its lexicon".into(),
                ));
            }
        }
        if meta.model.n_tags != meta.tags.len() {
            return Err(PipelineError::Meta(
                "tag count differs from the tag set".into(),
            ));
        }
        Ok(meta)
    }
}

impl Pipeline {
    /// A pipeline over a trained tagger (moved to inference mode).
    pub fn new(meta: ModelMeta, tagger: &Tagger, device: &Device) -> Self {
        let tagger = tagger.valid();
        let constraints = CrfConstraints::new(&meta.tags, device);
        let (transitions, start, end) = tagger.crf.export(&constraints);
        let crf = CrfScores {
            n_tags: meta.tags.len(),
            transitions,
            start,
            end,
        };
        Self {
            meta,
            tagger,
            crf,
            device: device.clone(),
        }
    }

    /// Rebuild from metadata and burnpack weight bytes (f32 or f16).
    pub fn from_bytes(
        meta: ModelMeta,
        weights: Vec<u8>,
        device: &Device,
    ) -> Result<Self, PipelineError> {
        let tagger = crate::weights::load(&meta.model, weights, device)
            .map_err(|e| PipelineError::Weights(e.to_string()))?;
        Ok(Self::new(meta, &tagger, device))
    }

    /// Emissions for sentences of at most `max_len` characters, `[len * n_tags]` each.
    pub fn emissions(&self, sentences: &[&[char]], batch_size: usize) -> Vec<Vec<f32>> {
        let examples: Vec<Example> = sentences
            .iter()
            .map(|s| Example::unlabelled(s, &self.meta.vocabs))
            .collect();
        let lens: Vec<usize> = examples.iter().map(Example::len).collect();
        let n = self.meta.tags.len();
        let mut out = vec![Vec::new(); examples.len()];
        for group in length_buckets(&lens, batch_size) {
            let refs: Vec<&Example> = group
                .iter()
                .map(|&i| &examples[i])
                .filter(|e| !e.is_empty())
                .collect();
            if refs.is_empty() {
                continue;
            }
            let batch = Batch::new(&refs, &self.device);
            let l = batch.max_len();
            let em = self.tagger.emissions(self.tagger.encode(&batch));
            let data = crate::host::tensor_values(em);
            let mut k = 0;
            for &i in &group {
                if examples[i].is_empty() {
                    continue;
                }
                let len = examples[i].len();
                out[i] = data[k * l * n..(k * l + len) * n].to_vec();
                k += 1;
            }
        }
        out
    }

    /// Tag ids for sentences of any length (long ones are split into pieces and re-joined).
    pub fn tag_ids(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<usize>> {
        let mut pieces: Vec<&[char]> = Vec::new();
        let mut owner = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            for p in split_long(s, self.meta.max_len) {
                pieces.push(p);
                owner.push(i);
            }
        }
        let em = self.emissions(&pieces, batch_size);
        let mut out = vec![Vec::new(); sentences.len()];
        for (e, &i) in em.iter().zip(&owner) {
            out[i].extend(self.crf.viterbi(e));
        }
        out
    }

    pub fn tags(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<String>> {
        self.tag_ids(sentences, batch_size)
            .into_iter()
            .map(|ids| {
                ids.into_iter()
                    .map(|t| self.meta.tags.tags[t].clone())
                    .collect()
            })
            .collect()
    }

    pub fn entities(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<Entity>> {
        self.tags(sentences, batch_size)
            .iter()
            .zip(sentences)
            .map(|(tags, chars)| spans_to_entities(&tags_to_spans(tags), chars))
            .collect()
    }
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
}

#[cfg(test)]
mod roundtrip_tests {
    use super::*;
    use crate::data::Scheme;
    use burn::module::Module;

    #[test]
    fn saved_and_loaded_models_predict_identically() {
        let device = Device::flex();
        device.seed(11);
        let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四", "我们今天去上海参加会议了"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_d_model(16)
            .with_n_heads(2)
            .with_char_dim(8)
            .with_bigram_dim(8);
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            model: model.clone(),
            vocabs,
            tags,
            max_len: 5,
        };
        let tagger = model.init(&device);
        let bytes = tagger.clone().into_record().into_bytes().unwrap().to_vec();
        let a = Pipeline::new(meta.clone(), &tagger, &device);
        let json = serde_json::to_string(&meta).unwrap();
        let b = Pipeline::from_bytes(ModelMeta::from_json(&json).unwrap(), bytes, &device).unwrap();
        let refs: Vec<&[char]> = texts.iter().map(Vec::as_slice).collect();
        assert_eq!(a.emissions(&refs, 2), b.emissions(&refs, 2));
        assert_eq!(a.tag_ids(&texts, 2), b.tag_ids(&texts, 2));
        // Long input is split (max_len 5) but every character gets a tag.
        assert_eq!(a.tag_ids(&texts, 2)[2].len(), texts[2].len());
    }

    #[test]
    fn a_bundle_of_another_format_version_is_refused() {
        let vocabs = Vocabs::build([['a'].as_slice()], 1, 1);
        let tags = TagSet::new(Scheme::Bio, ["PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len());
        let meta = ModelMeta {
            format_version: FORMAT_VERSION + 1,
            model,
            vocabs,
            tags,
            max_len: 8,
        };
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("format version"));
    }
}

#[cfg(test)]
mod flat_tests {
    use super::*;
    use crate::data::Scheme;
    use crate::lexicon::Lexicon;
    use crate::model::LatticeConfig;
    use burn::module::Module;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A random FLAT model with a 6-character window, saved and loaded back.
    fn pipelines() -> &'static (Pipeline, Pipeline) {
        static P: OnceLock<(Pipeline, Pipeline)> = OnceLock::new();
        P.get_or_init(|| {
            let device = Device::flex();
            device.seed(13);
            let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去上海市长宁区"]
                .iter()
                .map(|s| s.chars().collect())
                .collect();
            let mut vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
            let list: Vec<String> = [
                "北京",
                "北京大学",
                "大学",
                "上海",
                "上海市",
                "市长",
                "长宁区",
            ]
            .map(String::from)
            .to_vec();
            let lexicon = Lexicon::build(&list, texts.iter().map(Vec::as_slice), 1, 3);
            let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
            let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
                .with_d_model(16)
                .with_n_heads(2)
                .with_char_dim(8)
                .with_bigram_dim(8)
                .with_lattice(Some(LatticeConfig::new(lexicon.len()).with_word_dim(4)));
            vocabs.words = Some(lexicon);
            let meta = ModelMeta {
                format_version: FORMAT_VERSION,
                model: model.clone(),
                vocabs,
                tags,
                max_len: 6,
            };
            let tagger = model.init(&device);
            let bytes = tagger.clone().into_record().into_bytes().unwrap().to_vec();
            let json = serde_json::to_string(&meta).unwrap();
            let loaded = ModelMeta::from_json(&json).unwrap();
            (
                Pipeline::new(meta, &tagger, &device),
                Pipeline::from_bytes(loaded, bytes, &device).unwrap(),
            )
        })
    }

    #[test]
    fn a_flat_bundle_with_a_mismatched_lexicon_is_refused() {
        let (p, _) = pipelines();
        let mut meta = p.meta.clone();
        meta.vocabs.words = None;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("lexicon"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn flat_models_tag_any_text_and_reload_identically(
            text in "[张三李四北京大学上海市长宁区在去读书。a ]{0,40}"
        ) {
            let (a, b) = pipelines();
            let s: Vec<char> = text.chars().collect();
            let sentences = vec![s.clone(), s.iter().rev().copied().collect()];
            let ta = a.tag_ids(&sentences, 2);
            prop_assert_eq!(ta[0].len(), s.len());
            prop_assert_eq!(&ta, &b.tag_ids(&sentences, 2));
        }
    }
}
