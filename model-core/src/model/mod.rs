//! The tagger: character + bigram embeddings, a relative-position Transformer encoder, and a
//! linear + CRF head.

pub mod attention;
pub mod bert;
pub mod binder;
pub mod crf;
pub mod embedding;
pub mod encoder;
pub mod head;
pub mod mlm;
pub mod tagger;

pub use attention::{RelativeAttention, RelativeAttentionConfig, RelativePositions};
pub use bert::{Bert, BertConfig, BertError};
pub use binder::{BinderConfig, BinderHead};
pub use crf::{Crf, CrfConfig, CrfConstraints};
pub use embedding::{
    CharBigramEmbedding, CharBigramEmbeddingConfig, WordEmbedding, WordEmbeddingConfig,
};
pub use encoder::{Encoder, EncoderConfig, EncoderLayer};
pub use head::{Head, HeadLoss, LinearCrf, OutputHead};
pub use tagger::{LatticeConfig, Tagger, TaggerConfig};
