//! Loading a run's data: read the splits, convert tags to the model's scheme, build the
//! vocabularies and tag set, and encode examples.

use crate::config::{EncoderKind, RunConfig};
use anyhow::{Context, Result, bail};
use model_core::batch::Example;
use model_core::data::{Scheme, Sentence, convert_tags, read_conll};
use model_core::lexicon::{Lexicon, read_word_list};
use model_core::model::LatticeConfig;
use model_core::pipeline::{FORMAT_VERSION, ModelMeta, split_long};
use model_core::tags::TagSet;
use model_core::vocab::Vocabs;

pub struct Splits {
    /// As read, for scoring against the file's own gold tags.
    pub dev: Vec<Sentence>,
    pub test: Vec<Sentence>,
    /// Training pieces (≤ max_len) in the model's scheme.
    pub train_examples: Vec<Example>,
    pub dev_examples: Vec<Example>,
    pub train_sentences: usize,
}

pub fn read_split(path: &std::path::Path) -> Result<Vec<Sentence>> {
    Ok(read_conll(path)?)
}

/// Cut sentences longer than `max_len` into pieces and re-encode each piece's tags in `scheme`
/// (an entity cut in two becomes two well-formed entities).
fn pieces(sentences: &[Sentence], max_len: usize, scheme: Scheme) -> Vec<Sentence> {
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

fn encode(
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
pub fn train_subset(train: Vec<Sentence>, limit: usize, seed: u64) -> Vec<Sentence> {
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

/// Read the data of `cfg` (the training subset of `data.train_limit` drawn from `seed`); with
/// `meta`, reuse its vocabularies and tag set (resume, eval).
pub fn load(cfg: &RunConfig, meta: Option<&ModelMeta>, seed: u64) -> Result<(Splits, ModelMeta)> {
    let scheme: Scheme = cfg
        .data
        .scheme
        .parse()
        .map_err(|e| anyhow::anyhow!("data.scheme: {e}"))?;
    let mut train = read_split(&cfg.data.train)?;
    if cfg.data.max_train_sentences > 0 {
        train.truncate(cfg.data.max_train_sentences);
    }
    let train = train_subset(train, cfg.data.train_limit, seed);
    let dev = read_split(&cfg.data.dev)?;
    let test = read_split(&cfg.data.test)?;
    let train_pieces = pieces(&train, cfg.data.max_len, scheme);
    let meta = match meta {
        Some(m) => m.clone(),
        None => new_meta(cfg, scheme, &train_pieces)?,
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
    let dev_examples = dev_examples(cfg, scheme, &dev, &meta)?;
    let splits = Splits {
        dev,
        test,
        train_examples,
        dev_examples,
        train_sentences: train.len(),
    };
    Ok((splits, meta))
}

/// The dev pieces encoded for the dev contrastive loss. Dev types unseen in training cannot be
/// predicted; they still count as gold when scoring, but the loss uses only the model's own tags.
fn dev_examples(
    cfg: &RunConfig,
    scheme: Scheme,
    dev: &[Sentence],
    meta: &ModelMeta,
) -> Result<Vec<Example>> {
    let dev_known: Vec<Sentence> = pieces(dev, cfg.data.max_len, scheme)
        .into_iter()
        .map(|mut s| {
            for t in &mut s.tags {
                if meta.tags.tag_id(t).is_none() {
                    *t = "O".into();
                }
            }
            s
        })
        .collect();
    encode(
        &dev_known,
        &meta.vocabs,
        &meta.tags,
        &cfg.data.dev.display().to_string(),
    )
    .context("dev set")
}

/// A new run's metadata: vocabularies and tag set from the training pieces, the tagger's config,
/// and the pretrained encoder's vocabulary and FLAT's word vocabulary when the config asks.
fn new_meta(cfg: &RunConfig, scheme: Scheme, train_pieces: &[Sentence]) -> Result<ModelMeta> {
    let mut vocabs = Vocabs::build(
        train_pieces.iter().map(|s| s.chars.as_slice()),
        cfg.data.char_min_freq,
        cfg.data.bigram_min_freq,
    );
    let tags = TagSet::from_tag_sequences(scheme, train_pieces.iter().map(|s| s.tags.as_slice()));
    if tags.types.is_empty() {
        bail!(
            "{}: the training data has no entities",
            cfg.data.train.display()
        );
    }
    let mut model = cfg
        .model
        .tagger(vocabs.chars.len(), vocabs.bigrams.len(), tags.len());
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
        let lexicon = lexicon(cfg, train_pieces)?;
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
fn lexicon(cfg: &RunConfig, train_pieces: &[Sentence]) -> Result<Lexicon> {
    let path = cfg.model.lexicon_path();
    let list = read_word_list(&path).context("model.lexicon")?;
    let lexicon = Lexicon::build(
        &list,
        train_pieces.iter().map(|s| s.chars.as_slice()),
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
