//! Loading a CRF run's data: tagged sentences (CoNLL, or flat span JSON Lines as tags) in the
//! model's scheme, cut into pieces of at most `max_len` chars and encoded.

use super::common::{
    Gold, Splits, dev_examples, encode, new_meta, pieces, read_split, train_subset,
};
use crate::config::RunConfig;
use anyhow::{Result, bail};
use model_core::data::Scheme;
use model_core::pipeline::ModelMeta;
use model_core::tags::TagSet;

/// [`super::load`] for the CRF head: tagged sentences in the model's scheme.
pub(super) fn load(
    cfg: &RunConfig,
    meta: Option<&ModelMeta>,
    scheme: Scheme,
    seed: u64,
) -> Result<(Splits, ModelMeta)> {
    let mut train = read_split(&cfg.data.train, &cfg.data, scheme)?;
    if cfg.data.max_train_sentences > 0 {
        train.truncate(cfg.data.max_train_sentences);
    }
    let train = train_subset(train, cfg.data.train_limit, seed);
    let dev = read_split(&cfg.data.dev, &cfg.data, scheme)?;
    let test = read_split(&cfg.data.test, &cfg.data, scheme)?;
    let train_pieces = pieces(&train, cfg.data.max_len, scheme);
    let meta = match meta {
        Some(m) => m.clone(),
        None => {
            let types =
                TagSet::from_tag_sequences(scheme, train_pieces.iter().map(|s| s.tags.as_slice()));
            let chars: Vec<&[char]> = train_pieces.iter().map(|s| s.chars.as_slice()).collect();
            new_meta(cfg, scheme, &chars, types.types, None)?
        }
    };
    if meta.tags.scheme != scheme {
        bail!(
            "the model predicts {} tags but the config asks for {}",
            meta.tags.scheme,
            scheme
        );
    }
    let train_examples = encode(
        &train_pieces,
        &meta.vocabs,
        &meta.tags,
        &cfg.data.train.display().to_string(),
    )?;
    let dev_examples = dev_examples(cfg, scheme, &dev, &meta);
    let splits = Splits {
        dev: Gold::Tags(dev),
        test: Gold::Tags(test),
        train_examples,
        dev_examples,
        train_sentences: train.len(),
        note: None,
    };
    Ok((splits, meta))
}
