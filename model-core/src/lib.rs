//! NerCo for Chinese NER: data, vocabularies, the encoder, the CRF head, the Semantic-Class
//! InfoNCE loss, Viterbi decoding and metrics. Backend-agnostic: the device is picked at run time.
//! File-system code lives behind the `native` feature so the crate also builds for wasm32.

pub mod batch;
pub mod data;
pub mod decode;
pub mod host;
pub mod lexicon;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod tags;
pub mod vocab;
pub mod weights;
