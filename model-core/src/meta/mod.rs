//! A model's metadata (`meta.json`): everything but the weights, enough to rebuild the tagger and
//! read its output; and the checks a bundle must pass before its weights are loaded.

mod v1;

use crate::model::TaggerConfig;
use crate::tags::TagSet;
use crate::vocab::Vocabs;
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

/// 3: an optional Binder head (`model.binder`, `model.hyper.binder`); a version 2 file is a
/// version 3 file without one. 2: the hyperparameters nested in `model.hyper` (the run config's
/// `[model]` table); version 1 files (flat fields) are read and migrated.
pub const FORMAT_VERSION: u32 = 3;

/// Why a model's metadata was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("model metadata: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "model metadata: format version {found} but this build reads versions 1 to {FORMAT_VERSION}"
    )]
    FormatVersion { found: u32 },
    /// The parts of the metadata disagree (e.g. a config and its vocabulary).
    #[error("model metadata: {0}")]
    Inconsistent(String),
}

impl ModelMeta {
    /// Parse and check `meta.json`, of this format version or an older one (migrated).
    pub fn from_json(json: &str) -> Result<Self, MetaError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let meta = match serde_json::from_str::<Version>(json)?.format_version {
            FORMAT_VERSION => serde_json::from_str(json)?,
            2 => ModelMeta {
                format_version: FORMAT_VERSION,
                ..serde_json::from_str(json)?
            },
            1 => v1::read(json)?,
            found => return Err(MetaError::FormatVersion { found }),
        };
        meta.check()?;
        Ok(meta)
    }

    /// The config, vocabularies and tag set fit each other.
    pub(crate) fn check(&self) -> Result<(), MetaError> {
        let bad = |m: String| Err(MetaError::Inconsistent(m));
        if let Err(e) = self.model.validate() {
            return bad(e.to_string());
        }
        if self.model.char_encoder.is_some() != self.vocabs.bert.is_some() {
            return bad(
                "a pretrained character encoder needs both its config and its vocabulary".into(),
            );
        }
        if let (Some(c), Some(v)) = (&self.model.char_encoder, &self.vocabs.bert) {
            if c.vocab_size != v.len() {
                return bad(format!(
                    "the character encoder has {} token embeddings but its vocabulary {} tokens",
                    c.vocab_size,
                    v.len()
                ));
            }
            if self.max_len + 2 > c.max_position_embeddings {
                return bad(format!(
                    "max_len {} plus [CLS] and [SEP] exceeds the character encoder's {} positions",
                    self.max_len, c.max_position_embeddings
                ));
            }
        }
        match (&self.model.lattice, &self.vocabs.words) {
            (None, None) => {}
            (Some(l), Some(w)) if l.n_words == w.len() => {}
            (Some(l), Some(w)) => {
                return bad(format!(
                    "the lattice has {} word embeddings but its lexicon {} words",
                    l.n_words,
                    w.len()
                ));
            }
            _ => return bad("a FLAT lattice needs both its config and its lexicon".into()),
        }
        if self.model.n_tags != self.tags.len() {
            return bad("tag count differs from the tag set".into());
        }
        if let Some(b) = &self.model.binder
            && b.n_types != self.tags.types.len()
        {
            return bad(format!(
                "the Binder head has {} types but the tag set {}",
                b.n_types,
                self.tags.types.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scheme;

    fn meta() -> ModelMeta {
        let vocabs = Vocabs::build([['a'].as_slice()], 1, 1);
        let tags = TagSet::new(Scheme::Bio, ["PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len());
        ModelMeta {
            format_version: FORMAT_VERSION,
            model,
            vocabs,
            tags,
            max_len: 8,
        }
    }

    /// [`meta`] with a Binder head of `n_types` types.
    fn binder_meta(n_types: usize) -> ModelMeta {
        let mut m = meta();
        m.model.hyper.head = crate::config::HeadKind::Binder;
        m.model.binder = m.model.hyper.binder_head(n_types, 4);
        m
    }

    #[test]
    fn binder_metadata_round_trips_and_a_head_that_does_not_fit_is_refused() {
        let m = binder_meta(1);
        let json = serde_json::to_string(&m).unwrap();
        let back = ModelMeta::from_json(&json).unwrap();
        assert_eq!(back.model.binder.as_ref().unwrap().max_span_len, 4);
        let err = |m: &ModelMeta| {
            ModelMeta::from_json(&serde_json::to_string(m).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(err(&binder_meta(2)).contains("2 types but the tag set 1"));
        let mut crf_head = binder_meta(1);
        crf_head.model.hyper.head = crate::config::HeadKind::Crf;
        assert!(err(&crf_head).contains("model.head is crf but the model has a Binder head"));
        let mut no_head = binder_meta(1);
        no_head.model.binder = None;
        assert!(err(&no_head).contains("model.head is binder"));
    }

    #[test]
    fn a_version_2_meta_json_without_binder_fields_loads_as_a_crf_model() {
        let m = meta();
        let mut v = serde_json::to_value(&m).unwrap();
        v["format_version"] = 2.into();
        v["model"].as_object_mut().unwrap().remove("binder");
        assert!(!v.to_string().contains("binder"), "{v}");
        let back = ModelMeta::from_json(&v.to_string()).unwrap();
        assert_eq!(back.format_version, FORMAT_VERSION);
        assert!(back.model.binder.is_none());
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&m).unwrap()
        );
    }

    #[test]
    fn a_bundle_of_another_format_version_is_refused() {
        let mut meta = meta();
        meta.format_version = FORMAT_VERSION + 1;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("format version"));
    }

    #[test]
    fn broken_json_and_a_wrong_tag_count_are_refused_with_a_reason() {
        let err = ModelMeta::from_json("{\"format_version\": 1").unwrap_err();
        assert!(matches!(err, MetaError::Json(_)), "{err}");
        let mut meta = meta();
        meta.model.n_tags += 1;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("tag count"), "{err}");
    }

    #[test]
    fn a_meta_json_with_hyperparameters_out_of_range_is_refused_not_a_panic() {
        // The same check as a run config's `[model]`: the model would fail to build otherwise.
        let mut meta = meta();
        meta.model.hyper.n_heads = 7;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("model.d_model (160) must be a positive multiple of model.n_heads (7)"),
            "{err}"
        );
        let mut meta = self::meta();
        meta.model.hyper.dropout_embed = 1.5;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("model.dropout_embed"), "{err}");
    }

    /// `meta` written as format 1 did: the hyperparameters flat in `model`, the word widths in
    /// `model.lattice`.
    fn as_version_1(meta: &ModelMeta) -> String {
        let mut v = serde_json::to_value(meta).unwrap();
        v["format_version"] = 1.into();
        let model = v["model"].as_object_mut().unwrap();
        let hyper = model.remove("hyper").unwrap();
        for key in [
            "char_dim",
            "bigram_dim",
            "d_model",
            "n_heads",
            "n_layers",
            "ff_mult",
            "dropout_embed",
            "dropout_ff",
            "dropout_residual",
            "dropout_attn",
            "dropout_out",
            "scaled_attention",
        ] {
            model.insert(key.into(), hyper[key].clone());
        }
        if let Some(l) = model.get_mut("lattice").and_then(|l| l.as_object_mut()) {
            l.insert("word_dim".into(), hyper["word_dim"].clone());
            l.insert("dropout_word".into(), hyper["dropout_word"].clone());
        }
        v.to_string()
    }

    #[test]
    fn a_version_1_meta_json_loads_as_the_same_model() {
        let mut plain = meta();
        plain.model.hyper.d_model = 32;
        plain.model.hyper.dropout_out = 0.1;
        plain.model.hyper.scaled_attention = true;
        let mut flat = plain.clone();
        let words =
            crate::lexicon::Lexicon::build(&["aa".to_string()], [['a', 'a'].as_slice()], 1, 0);
        flat.model.lattice = Some(crate::model::LatticeConfig::new(words.len()));
        flat.vocabs.words = Some(words);
        flat.model.hyper.encoder = crate::config::EncoderKind::Flat;
        flat.model.hyper.word_dim = 12;
        flat.model.hyper.dropout_word = 0.25;
        for meta in [plain, flat] {
            let v1 = as_version_1(&meta);
            assert!(!v1.contains("hyper"), "{v1}");
            let migrated = ModelMeta::from_json(&v1).unwrap();
            assert_eq!(migrated.format_version, FORMAT_VERSION);
            assert_eq!(
                serde_json::to_value(&migrated).unwrap(),
                serde_json::to_value(&meta).unwrap()
            );
        }
    }

    #[test]
    fn every_committed_web_bundle_still_passes_the_checks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/models");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path().join("meta.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                ModelMeta::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n > 0, "no bundle in {}", dir.display());
    }
}
