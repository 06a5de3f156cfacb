//! The nerco web demo's WebAssembly side: load an exported bundle (`nerco export`), tag text on
//! WebGPU or on Burn's CPU backend, return entities, per-character CRF marginals and the
//! characters' encoder outputs for the Semantic Class viewer. The page (`static/js/`, ES modules) does the
//! rest (rendering, PCA, t-SNE, cluster quality).
//!
//! ```js
//! const model = await wasmBindings.NerModel.load(metaJson, weightsBytes, "cpu"); // or "webgpu"
//! const r = await model.analyse("张三在北京大学读书", true);
//! JSON.parse(r.json).entities;   // [{start, end, type, text}]
//! r.embeddings;                  // Float32Array, tokens × d_model
//! ```

pub mod engine;
#[cfg(feature = "train")]
pub mod live;

// The JavaScript API exists only in the wasm build: natively the crate is its engine (tested
// there), and leaving wasm-bindgen out of the native build keeps `cargo run -p trainer` and
// `cargo test --workspace` on one feature set of the shared dependencies (one build, not two).
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
pub use bindings::*;
