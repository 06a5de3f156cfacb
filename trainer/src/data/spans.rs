//! Loading a Binder run's data: span sentences (span JSON Lines as read, CoNLL converted by
//! conlleval's rules), cut into pieces of at most `max_len` chars, encoded with their gold
//! mentions (which may overlap).

use super::common::{Gold, Splits, new_meta, read_span_split, train_subset};
use crate::config::RunConfig;
use anyhow::{Result, bail};
use model_core::batch::Example;
use model_core::data::{Scheme, SpanSentence, longest_span, span_types};
use model_core::pipeline::ModelMeta;

/// [`super::load`] for a Binder head. K (`model.binder.max_span_len`) 0 becomes the
/// longest entity of the training pieces, so that every training entity can be predicted.
pub(super) fn load(
    cfg: &RunConfig,
    meta: Option<&ModelMeta>,
    scheme: Scheme,
    seed: u64,
) -> Result<(Splits, ModelMeta)> {
    let mut train = read_span_split(&cfg.data.train, &cfg.data)?;
    if cfg.data.max_train_sentences > 0 {
        train.truncate(cfg.data.max_train_sentences);
    }
    let train = train_subset(train, cfg.data.train_limit, seed);
    let dev = read_span_split(&cfg.data.dev, &cfg.data)?;
    let test = read_span_split(&cfg.data.test, &cfg.data)?;
    let max_len = cfg.data.max_len;
    let train_pieces: Vec<SpanSentence> = train.iter().flat_map(|s| s.pieces(max_len)).collect();
    let meta = match meta {
        Some(m) => m.clone(),
        None => {
            let k = match cfg.model.binder.max_span_len {
                0 => longest_span(&train_pieces).max(1),
                k => k,
            };
            let chars: Vec<&[char]> = train_pieces.iter().map(|s| s.chars.as_slice()).collect();
            new_meta(cfg, scheme, &chars, span_types(&train_pieces), Some(k))?
        }
    };
    let Some(binder) = &meta.model.binder else {
        bail!("model.head is binder but the run's model has no Binder head (meta.json)");
    };
    if meta.tags.scheme != scheme {
        bail!(
            "the model predicts {} tags but the config asks for {}",
            meta.tags.scheme,
            scheme
        );
    }
    let k = binder.max_span_len;
    let train_file = cfg.data.train.display().to_string();
    let train_examples = encode(&train_pieces, &meta, &train_file, false)?;
    let dev_pieces: Vec<SpanSentence> = dev.iter().flat_map(|s| s.pieces(max_len)).collect();
    let dev_file = cfg.data.dev.display().to_string();
    let dev_examples = encode(&dev_pieces, &meta, &dev_file, true)?;
    let entities = train_pieces.iter().map(|s| s.spans.len()).sum::<usize>();
    let nested = train_pieces.iter().filter(|s| s.is_nested()).count();
    let note = format!(
        "Binder head: {} types, spans up to K = {k} chars scored ({} of {entities} training entities are longer and cannot be predicted), {nested} training pieces with nested entities, {:?} decoding",
        binder.n_types,
        train_pieces
            .iter()
            .flat_map(|s| &s.spans)
            .filter(|x| x.len() > k)
            .count(),
        format!("{:?}", meta.model.hyper.binder.decoding).to_lowercase(),
    );
    let splits = Splits {
        dev: Gold::Spans(dev),
        test: Gold::Spans(test),
        train_examples,
        dev_examples,
        train_sentences: train.len(),
        note: Some(note),
    };
    Ok((splits, meta))
}

/// Examples with gold mentions. `drop_unknown`: leave out entities of types the model lacks
/// (dev types unseen in training still count when scoring, but the dev loss cannot use them);
/// otherwise they are an error naming the file and line.
fn encode(
    pieces: &[SpanSentence],
    meta: &ModelMeta,
    origin: &str,
    drop_unknown: bool,
) -> Result<Vec<Example>> {
    pieces
        .iter()
        .map(|s| {
            let mut spans = s.spans.clone();
            if drop_unknown {
                spans.retain(|x| meta.tags.types.iter().any(|t| t == x.label()));
            }
            Example::with_gold(&s.chars, &spans, &meta.vocabs, &meta.tags)
                .map_err(|e| anyhow::anyhow!("{origin}:{}: {e}", s.line))
        })
        .collect()
}
