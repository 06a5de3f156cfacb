//! NerCo for Chinese NER: data, vocabularies, the encoder, the CRF head, the Semantic-Class
//! InfoNCE loss, Viterbi decoding and metrics. Backend-agnostic: the device is picked at run time.
//! File-system code lives behind the `native` feature so the crate also builds for wasm32.
//!
//! Tagging text with a trained model (a run directory of `nerco train`: `meta.json` +
//! `model.bpk`):
//!
//! ```
//! # use burn::module::Module;
//! # use model_core::data::Scheme;
//! # use model_core::config::ModelConfig;
//! # use model_core::model::TaggerConfig;
//! # use model_core::tags::TagSet;
//! # use model_core::vocab::Vocabs;
//! # use model_core::pipeline::FORMAT_VERSION;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let device = burn::prelude::Device::flex();
//! # // A tiny random model in a temporary run directory.
//! # let dir = std::env::temp_dir().join(format!("nerco-doctest-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去了上海"].iter().map(|s| s.chars().collect()).collect();
//! # let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
//! # let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
//! # let config = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
//! #     .with_hyper(ModelConfig::sized(16, 2, 8));
//! # let weights = model_core::weights::to_bytes(&config.init(&device), false)?;
//! # let meta = ModelMeta { format_version: FORMAT_VERSION, model: config, vocabs, tags, max_len: 32 };
//! # std::fs::write(dir.join("meta.json"), serde_json::to_string(&meta)?)?;
//! # std::fs::write(dir.join("model.bpk"), weights)?;
//! use model_core::{ModelMeta, Pipeline};
//!
//! let p = Pipeline::load(&dir, &device)?;
//! let ents = p.tag("张三在北京大学读书")?;
//! for e in &ents {
//!     println!("{} {} [{}, {})", e.label, e.text, e.start, e.end);
//! }
//! let batch = p.tag_batch(&["李四去了上海", "王五\n赵六"])?;
//! assert_eq!(batch.len(), 2);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

pub mod batch;
pub mod config;
pub mod data;
pub mod decode;
pub mod error;
pub mod host;
pub mod infer;
pub mod lexicon;
pub mod loss;
pub mod meta;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod quality;
pub mod tags;
pub mod token_vocab;
#[cfg(feature = "train")]
pub mod train;
pub mod vocab;
pub mod weights;

pub use error::{Error, Result};
pub use infer::{Analysis, Entity};
pub use meta::ModelMeta;
pub use pipeline::Pipeline;
