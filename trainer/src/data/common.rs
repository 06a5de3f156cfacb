//! What both loaders share: reading splits (CoNLL, or span JSON Lines), cutting long sentences
//! into pieces, the training subset, encoding examples, the dev examples of the contrastive
//! loss, and a new run's metadata (vocabularies, tag set, tagger config).

use crate::config::{DataConfig, EncoderKind, RunConfig};
use anyhow::{Context, Result, bail};
use model_core::batch::Example;
use model_core::data::{Scheme, Sentence, SpanSentence, convert_tags, read_conll, read_span_jsonl};
use model_core::lexicon::{Lexicon, read_word_list};
use model_core::metrics::Report;
use model_core::model::LatticeConfig;
use model_core::pipeline::{FORMAT_VERSION, ModelMeta, Pipeline, split_long};
use model_core::tags::TagSet;
use model_core::vocab::Vocabs;
use std::path::Path;

/// A split's gold as the model's head is scored on it.
pub enum Gold {
    /// Tagged sentences, scored by conlleval's rules on the tags (the CRF head).
    Tags(Vec<Sentence>),
    /// Sentences with (possibly overlapping) entity spans (the Binder head).
    Spans(Vec<SpanSentence>),
}

impl Gold {
    /// The model's predictions on this split, scored.
    pub fn score(&self, pipeline: &Pipeline) -> Result<Report> {
        Ok(match self {
            Gold::Tags(s) => pipeline.score(s)?.0,
            Gold::Spans(s) => pipeline.score_spans(s)?.0,
        })
    }
}

pub struct Splits {
    /// As read (spans of a CoNLL file for Binder), for scoring against the file's own gold.
    pub dev: Gold,
    pub test: Gold,
    /// Training pieces (≤ max_len) in the model's scheme.
    pub train_examples: Vec<Example>,
    pub dev_examples: Vec<Example>,
    pub train_sentences: usize,
    /// A line for the run's log about how the data fit the head (Binder's K).
    pub note: Option<String>,
}

/// Whether `path` holds span JSON Lines: `[data] format = "spans"`, or by default a name
/// ending in `.jsonl` (or `.jsonl.gz`).
pub fn is_span_file(path: &Path, format: &str) -> bool {
    match format {
        "spans" => true,
        "conll" => false,
        _ => {
            let name = path.to_string_lossy();
            name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
        }
    }
}

/// A split as tagged sentences in `scheme`: CoNLL as read, span JSON Lines converted (an entity
/// that overlaps another is an error naming the file and line: the CRF tags flat entities only).
pub fn read_split(path: &Path, data: &DataConfig, scheme: Scheme) -> Result<Vec<Sentence>> {
    if !is_span_file(path, &data.format) {
        return Ok(read_conll(path)?);
    }
    let file = path.display().to_string();
    read_span_jsonl(path)?
        .iter()
        .map(|s| Ok(s.to_sentence(scheme, &file)?))
        .collect()
}

/// A split as span sentences: span JSON Lines as read, CoNLL converted by conlleval's rules.
pub fn read_span_split(path: &Path, data: &DataConfig) -> Result<Vec<SpanSentence>> {
    if is_span_file(path, &data.format) {
        Ok(read_span_jsonl(path)?)
    } else {
        Ok(read_conll(path)?
            .iter()
            .map(SpanSentence::from_conll)
            .collect())
    }
}

/// A split's gold for a model with (`binder`) or without a Binder head.
pub fn read_gold(path: &Path, data: &DataConfig, scheme: Scheme, binder: bool) -> Result<Gold> {
    Ok(if binder {
        Gold::Spans(read_span_split(path, data)?)
    } else {
        Gold::Tags(read_split(path, data, scheme)?)
    })
}

/// Cut sentences longer than `max_len` into pieces and re-encode each piece's tags in `scheme`
/// (an entity cut in two becomes two well-formed entities).
pub(super) fn pieces(sentences: &[Sentence], max_len: usize, scheme: Scheme) -> Vec<Sentence> {
    let mut out = Vec::new();
    for s in sentences {
        let mut start = 0;
        for p in split_long(&s.chars, max_len) {
            let tags = &s.tags[start..start + p.len()];
            out.push(Sentence {
                chars: p.to_vec(),
                tags: convert_tags(tags, scheme),
                line: s.line,
            });
            start += p.len();
        }
    }
    out
}

pub(super) fn encode(
    sentences: &[Sentence],
    vocabs: &Vocabs,
    tags: &TagSet,
    origin: &str,
) -> Result<Vec<Example>> {
    sentences
        .iter()
        .map(|s| {
            Example::labelled(s, vocabs, tags)
                .map_err(|e| anyhow::anyhow!("{origin}:{}: {e}", s.line))
        })
        .collect()
}

/// `train` cut to a random `limit` sentences (0 or more than there are: all), in file order. The
/// subset is the first `limit` of a permutation drawn from `seed` alone: the same for every
/// recipe of a seed, and nested for growing limits.
pub fn train_subset<T>(train: Vec<T>, limit: usize, seed: u64) -> Vec<T> {
    use rand::seq::SliceRandom;
    use rand::{SeedableRng, rngs::StdRng};
    if limit == 0 || limit >= train.len() {
        return train;
    }
    // A stream of its own, apart from the training streams of the same seed.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7472_6169_6e5f_6c69);
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut rng);
    let mut keep = vec![false; train.len()];
    for &i in &order[..limit] {
        keep[i] = true;
    }
    train
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

/// The dev pieces encoded for the dev contrastive loss. Dev types unseen in training cannot be
/// predicted; they still count as gold when scoring, but the loss uses only the model's own tags.
pub(super) fn dev_examples(
    cfg: &RunConfig,
    scheme: Scheme,
    dev: &[Sentence],
    meta: &ModelMeta,
) -> Vec<Example> {
    pieces(dev, cfg.data.max_len, scheme)
        .iter()
        .map(|s| Example::labelled_known(s, &meta.vocabs, &meta.tags))
        .collect()
}

/// A new run's metadata: vocabularies from the training pieces' `chars`, the tag set of their
/// entity `types`, the tagger's config (with a Binder head scoring spans of up to
/// `max_span_len` chars when the config asks), and the pretrained encoder's vocabulary and
/// FLAT's word vocabulary when the config asks.
pub(crate) fn new_meta(
    cfg: &RunConfig,
    scheme: Scheme,
    chars: &[&[char]],
    types: Vec<String>,
    max_span_len: Option<usize>,
) -> Result<ModelMeta> {
    let mut vocabs = Vocabs::build(
        chars.iter().copied(),
        cfg.data.char_min_freq,
        cfg.data.bigram_min_freq,
    );
    let tags = TagSet::new(scheme, types);
    if tags.types.is_empty() {
        bail!(
            "{}: the training data has no entities",
            cfg.data.train.display()
        );
    }
    let mut model = cfg
        .model
        .tagger(vocabs.chars.len(), vocabs.bigrams.len(), tags.len());
    if let Some(k) = max_span_len {
        model = model.with_binder(cfg.model.binder_head(tags.types.len(), k));
    }
    if let Some(dir) = &cfg.model.char_encoder {
        let (bert, vocab) = model_core::model::bert::files::read_config(dir)
            .with_context(|| format!("model.char_encoder {}", dir.display()))?;
        if cfg.data.max_len + 2 > bert.max_position_embeddings {
            bail!(
                "data.max_len {} plus [CLS] and [SEP] exceeds the {} positions of the character encoder in {}",
                cfg.data.max_len,
                bert.max_position_embeddings,
                dir.display()
            );
        }
        vocabs.bert = Some(vocab);
        model = model.with_char_encoder(Some(bert));
    }
    if cfg.model.encoder == EncoderKind::Flat {
        let lexicon = lexicon(cfg, chars)?;
        model = model.with_lattice(Some(LatticeConfig::new(lexicon.len())));
        vocabs.words = Some(lexicon);
    }
    Ok(ModelMeta {
        format_version: FORMAT_VERSION,
        model,
        vocabs,
        tags,
        max_len: cfg.data.max_len,
    })
}

/// FLAT's word vocabulary: the lexicon's words that occur in the training pieces.
fn lexicon(cfg: &RunConfig, chars: &[&[char]]) -> Result<Lexicon> {
    let path = cfg.model.lexicon_path();
    let list = read_word_list(&path).context("model.lexicon")?;
    let lexicon = Lexicon::build(
        &list,
        chars.iter().copied(),
        cfg.model.lexicon_min_freq,
        cfg.model.max_words,
    );
    if lexicon.is_empty() {
        bail!(
            "model.lexicon: no word of {} occurs {} or more times in {}",
            path.display(),
            cfg.model.lexicon_min_freq,
            cfg.data.train.display()
        );
    }
    Ok(lexicon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(n: usize) -> Vec<Sentence> {
        (0..n)
            .map(|i| Sentence {
                chars: vec!['字'],
                tags: vec!["O".into()],
                line: i + 1,
            })
            .collect()
    }

    fn lines(s: &[Sentence]) -> Vec<usize> {
        s.iter().map(|s| s.line).collect()
    }

    #[test]
    fn the_training_subset_follows_the_seed_is_nested_and_keeps_file_order() {
        let small = lines(&train_subset(sentences(50), 10, 7));
        assert_eq!(small.len(), 10);
        assert!(
            small.windows(2).all(|w| w[0] < w[1]),
            "file order: {small:?}"
        );
        assert_eq!(small, lines(&train_subset(sentences(50), 10, 7)));
        assert_ne!(small, lines(&train_subset(sentences(50), 10, 8)));
        let large = lines(&train_subset(sentences(50), 30, 7));
        assert!(small.iter().all(|l| large.contains(l)), "nested");
        assert_eq!(train_subset(sentences(5), 0, 7).len(), 5);
        assert_eq!(train_subset(sentences(5), 9, 7).len(), 5);
    }
}
