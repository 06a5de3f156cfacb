//! The JavaScript API (wasm-bindgen): loading a bundle on a backend, tagging, the model's info.

use crate::engine::{Analysis, Engine};
use burn::prelude::*;
use model_core::pipeline::ModelMeta;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

/// Panics go to the browser console (the default hook writes to a stderr that wasm lacks).
#[wasm_bindgen(start)]
pub fn start() {
    #[cfg(target_arch = "wasm32")]
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("nerco-web panic: {info}"))
    }));
}

/// Backends this build has, as a JSON array of names (`"cpu"`, `"webgpu"`).
#[wasm_bindgen(js_name = compiledBackends)]
pub fn compiled_backends() -> String {
    let mut v: Vec<&str> = Vec::new();
    if cfg!(feature = "flex") {
        v.push("cpu");
    }
    if cfg!(feature = "webgpu") {
        v.push("webgpu");
    }
    serde_json::to_string(&v).expect("a list of strings serialises")
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The WebGPU runtime can be initialised once per page; later models reuse its device.
    static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

async fn device_for(backend: &str) -> Result<Device, String> {
    match backend {
        #[cfg(feature = "flex")]
        "cpu" => Ok(Device::flex()),
        #[cfg(feature = "webgpu")]
        "webgpu" => {
            if let Some(d) = WEBGPU.with(|w| w.borrow().clone()) {
                return Ok(d);
            }
            let d = Device::wgpu_options()
                .graphics_api(burn::tensor::wgpu::WgpuBackend::WebGpu)
                .init_async()
                .await
                .map_err(|e| format!("WebGPU: {e}"))?;
            WEBGPU.with(|w| *w.borrow_mut() = Some(d.clone()));
            Ok(d)
        }
        other => Err(format!(
            "backend `{other}` is not in this build (has {})",
            compiled_backends()
        )),
    }
}

/// A loaded model on one backend.
#[wasm_bindgen]
pub struct NerModel {
    engine: Engine,
    backend: String,
}

/// The result of [`NerModel::analyse`]: a JSON document and the embeddings as a typed array.
#[wasm_bindgen]
pub struct AnalysisResult {
    json: String,
    embeddings: Vec<f32>,
}

#[wasm_bindgen]
impl AnalysisResult {
    /// `{chars, tags, entities, lines, marginals, pieces, embedded_chars}`
    /// (see `engine::Analysis`).
    #[wasm_bindgen(getter)]
    pub fn json(&self) -> String {
        self.json.clone()
    }

    /// Encoder outputs, `embedded_chars.length × d_model` (empty unless asked for).
    #[wasm_bindgen(getter)]
    pub fn embeddings(&self) -> Vec<f32> {
        self.embeddings.clone()
    }
}

impl From<Analysis> for AnalysisResult {
    fn from(mut a: Analysis) -> Self {
        let embeddings = std::mem::take(&mut a.embeddings);
        Self {
            json: serde_json::to_string(&a).expect("analysis serialises"),
            embeddings,
        }
    }
}

#[wasm_bindgen]
impl NerModel {
    /// Load a bundle: `meta.json` text and `weights.bpk` bytes; `backend` is `"cpu"` or `"webgpu"`.
    pub async fn load(
        meta_json: String,
        weights: Vec<u8>,
        backend: String,
    ) -> Result<NerModel, JsError> {
        let meta = ModelMeta::from_json(&meta_json).map_err(|e| JsError::new(&e.to_string()))?;
        let device = device_for(&backend)
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        let engine = Engine::load(meta, weights, device)
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(NerModel { engine, backend })
    }

    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// `{scheme, types, tags, max_len, d_model, encoder, lexicon_words}` as JSON (`encoder`:
    /// `"plain"` or `"flat"`; `lexicon_words`: the FLAT lattice's word vocabulary, 0 without one).
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> String {
        let m = self.engine.meta();
        serde_json::json!({
            "scheme": m.tags.scheme,
            "types": m.tags.types,
            "tags": m.tags.tags,
            "max_len": m.max_len,
            "d_model": m.model.hyper.d_model,
            "encoder": if m.model.lattice.is_some() { "flat" } else { "plain" },
            "lexicon_words": m.vocabs.words.as_ref().map_or(0, |w| w.len() - 2),
        })
        .to_string()
    }

    /// Tag `text` (one or more lines; long lines are split into sentences), with per-character
    /// marginals and, when `with_embeddings`, the characters' encoder outputs.
    pub async fn analyse(
        &self,
        text: String,
        with_embeddings: bool,
    ) -> Result<AnalysisResult, JsError> {
        let a = self
            .engine
            .analyse(&text, with_embeddings)
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(a.into())
    }
}

/// Training live (a Web Worker runs one): a small model trained a few steps at a time by the
/// same epoch driver as `nerco train` (see `live.rs`). CPU backend only: its reads are ready at
/// once, so the synchronous reads of the loss and the points are safe.
#[cfg(feature = "train")]
#[wasm_bindgen]
pub struct LiveRun {
    trainer: crate::live::LiveTrainer,
}

/// A frame of a live run: the held-out tokens' representations and their quality.
#[cfg(feature = "train")]
#[wasm_bindgen]
pub struct LiveFrame {
    json: String,
    points: Vec<f32>,
}

#[cfg(feature = "train")]
#[wasm_bindgen]
impl LiveFrame {
    /// `{step, epoch, knn_purity, silhouette, entity_tokens, dim}`.
    #[wasm_bindgen(getter)]
    pub fn json(&self) -> String {
        self.json.clone()
    }

    /// Held-out tokens × `dim`, row-major.
    #[wasm_bindgen(getter)]
    pub fn points(&self) -> Vec<f32> {
        self.points.clone()
    }
}

#[cfg(feature = "train")]
#[wasm_bindgen]
impl LiveRun {
    /// `sample_json`: a bundle's `live-sample.json`; `config_json`: a `LiveConfig` as JSON, or
    /// empty for the demo's; `recipe`: `"nerco"` (stage 1) or `"no-contrast"`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        sample_json: &str,
        config_json: &str,
        recipe: &str,
        seed: u32,
    ) -> Result<LiveRun, JsError> {
        use crate::live::{LiveConfig, LiveSample, LiveTrainer};
        let js = |e: &dyn std::fmt::Display| JsError::new(&e.to_string());
        let sample: LiveSample = serde_json::from_str(sample_json).map_err(|e| js(&e))?;
        let cfg = if config_json.trim().is_empty() {
            LiveConfig::demo()
        } else {
            serde_json::from_str(config_json).map_err(|e| js(&e))?
        };
        let recipe: model_core::train::Recipe = recipe.parse().map_err(|e: String| js(&e))?;
        let trainer = LiveTrainer::new(&sample, cfg, recipe, seed as u64, &Device::flex())
            .map_err(|e| js(&e))?;
        Ok(LiveRun { trainer })
    }

    /// `{recipe, classes, tags, point_classes, point_tags, total_steps, parameters, chars,
    /// bigrams}` as JSON (`point_*`: per held-out token, ids into `classes` / `tags`).
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> String {
        let t = &self.trainer;
        let p = t.points(false);
        let (chars, bigrams) = t.vocab_sizes();
        serde_json::json!({
            "recipe": t.recipe().name(),
            "classes": t.class_names(),
            "tags": t.tag_names(),
            "point_classes": p.classes,
            "point_tags": p.tags,
            "total_steps": t.total_steps(),
            "parameters": t.num_params(),
            "chars": chars,
            "bigrams": bigrams,
        })
        .to_string()
    }

    /// Up to `n` more steps; their losses (NaN for a step with nothing to learn from). Empty once
    /// the run is over.
    pub fn step(&mut self, n: u32) -> Result<Vec<f64>, JsError> {
        let r = self
            .trainer
            .step(n as usize)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(r.iter().map(|s| s.loss.unwrap_or(f64::NAN)).collect())
    }

    #[wasm_bindgen(getter)]
    pub fn steps(&self) -> u32 {
        self.trainer.steps() as u32
    }

    /// The held-out tokens now and, `with_quality`, their kNN purity and silhouette
    /// (`model_core::quality`; quadratic in the tokens, so the worker asks for it at most about
    /// once a second).
    pub fn frame(&self, with_quality: bool) -> Result<LiveFrame, JsError> {
        let t = &self.trainer;
        let p = t.points(false);
        let mut json = serde_json::json!({
            "step": t.steps(),
            "epoch": t.epoch(),
            "dim": p.dim,
        });
        if with_quality {
            let q = p
                .held_out_quality()
                .map_err(|e| JsError::new(&e.to_string()))?;
            json["knn_purity"] = q.knn_purity.into();
            json["silhouette"] = q.silhouette.into();
            json["entity_tokens"] = q.entity_tokens.into();
        }
        let json = json.to_string();
        Ok(LiveFrame {
            json,
            points: p.values,
        })
    }
}
