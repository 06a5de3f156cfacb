//! `meta.json` format 1, where the hyperparameters were fields of `model` itself (and the
//! lattice's word widths of `model.lattice`): read and migrated to the nested form, so run
//! directories and bundles written before keep loading.

use super::{FORMAT_VERSION, ModelMeta};
use crate::config::{EncoderKind, ModelConfig};
use crate::model::bert::BertConfig;
use crate::model::{LatticeConfig, TaggerConfig};
use crate::tags::TagSet;
use crate::vocab::Vocabs;
use serde::Deserialize;

#[derive(Deserialize)]
struct Meta {
    model: Tagger,
    vocabs: Vocabs,
    tags: TagSet,
    max_len: usize,
}

/// Every field was written by every version-1 writer (Burn configs serialise all fields).
#[derive(Deserialize)]
struct Tagger {
    n_chars: usize,
    n_bigrams: usize,
    n_tags: usize,
    char_dim: usize,
    bigram_dim: usize,
    d_model: usize,
    n_heads: usize,
    n_layers: usize,
    ff_mult: usize,
    dropout_embed: f64,
    dropout_ff: f64,
    dropout_residual: f64,
    dropout_attn: f64,
    dropout_out: f64,
    scaled_attention: bool,
    char_encoder: Option<BertConfig>,
    lattice: Option<Lattice>,
}

#[derive(Deserialize)]
struct Lattice {
    n_words: usize,
    word_dim: usize,
    dropout_word: f64,
}

/// A version-1 `meta.json` as the current [`ModelMeta`]. The input-building knobs version 1
/// did not record take their defaults; they are not part of the model.
pub(super) fn read(json: &str) -> Result<ModelMeta, serde_json::Error> {
    let Meta {
        model: m,
        vocabs,
        tags,
        max_len,
    } = serde_json::from_str(json)?;
    let mut hyper = ModelConfig {
        char_dim: m.char_dim,
        bigram_dim: m.bigram_dim,
        d_model: m.d_model,
        n_heads: m.n_heads,
        n_layers: m.n_layers,
        ff_mult: m.ff_mult,
        dropout_embed: m.dropout_embed,
        dropout_ff: m.dropout_ff,
        dropout_residual: m.dropout_residual,
        dropout_attn: m.dropout_attn,
        dropout_out: m.dropout_out,
        scaled_attention: m.scaled_attention,
        ..ModelConfig::default()
    };
    if let Some(l) = &m.lattice {
        (hyper.encoder, hyper.word_dim, hyper.dropout_word) =
            (EncoderKind::Flat, l.word_dim, l.dropout_word);
    }
    let model = TaggerConfig::new(m.n_chars, m.n_bigrams, m.n_tags)
        .with_hyper(hyper)
        .with_char_encoder(m.char_encoder)
        .with_lattice(m.lattice.map(|l| LatticeConfig::new(l.n_words)));
    Ok(ModelMeta {
        format_version: FORMAT_VERSION,
        model,
        vocabs,
        tags,
        max_len,
    })
}
