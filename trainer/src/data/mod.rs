//! A run's data, as its head learns from them: tagged sentences for the CRF ([`tags`]), span
//! sentences with possibly overlapping gold for Binder ([`spans`]); both read, cut and encode
//! with [`common`].

mod common;
mod spans;
mod tags;

pub use common::{Gold, Splits, is_span_file, read_gold, train_subset};

use crate::config::RunConfig;
use anyhow::Result;
use model_core::config::HeadKind;
use model_core::data::Scheme;
use model_core::pipeline::ModelMeta;

/// Read the data of `cfg` (the training subset of `data.train_limit` drawn from `seed`); with
/// `meta`, reuse its vocabularies and tag set (resume, eval). The head (`model.head`) decides
/// what the data become: tags for the CRF, spans for Binder.
pub fn load(cfg: &RunConfig, meta: Option<&ModelMeta>, seed: u64) -> Result<(Splits, ModelMeta)> {
    let scheme: Scheme = cfg
        .data
        .scheme
        .parse()
        .map_err(|e| anyhow::anyhow!("data.scheme: {e}"))?;
    match cfg.model.head {
        HeadKind::Binder => spans::load(cfg, meta, scheme, seed),
        HeadKind::Crf => tags::load(cfg, meta, scheme, seed),
    }
}
