//! The demo's inference engine, free of JavaScript types so it also runs (and is tested) natively.
//!
//! It is [`model_core::Pipeline`] (same planning, batching and decoding, from
//! [`model_core::infer`], so the browser shows what `nerco predict` prints) but reads every tensor
//! back with `into_data_async().await`: on WebGPU a synchronous read panics, on the CPU backend
//! the future is ready at once.

use burn::module::Module;
use burn::prelude::*;
use model_core::decode::CrfScores;
use model_core::host::tensor_values_async as read;
use model_core::infer::{crf_tensors, forward};
use model_core::pipeline::Pipeline;
use model_core::{ModelMeta, Result};

pub use model_core::infer::{Analysis, Line, TEXT_BATCH as BATCH};

/// A [`Pipeline`] loaded and run with asynchronous reads only; its fields (`meta`, ...) are the
/// pipeline's.
pub struct Engine(Pipeline);

impl std::ops::Deref for Engine {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        &self.0
    }
}

impl Engine {
    /// Load a bundle's weights (burnpack bytes, f32 or f16) onto `device`. The CRF scores are
    /// computed on the device and read back asynchronously, so this also works on WebGPU.
    pub async fn load(meta: ModelMeta, weights: Vec<u8>, device: Device) -> Result<Self> {
        let tagger = model_core::weights::load(&meta.model, weights, &device)?.valid();
        let (t, s, e) = crf_tensors(&tagger, &meta.tags, &device);
        let crf = CrfScores {
            n_tags: meta.tags.len(),
            transitions: read(t).await?,
            start: read(s).await?,
            end: read(e).await?,
        };
        Ok(Self(Pipeline::from_parts(meta, tagger, crf, &device)))
    }

    /// Tag `text` line by line (each line as `nerco predict` tags it: pieces of at most
    /// `max_len` characters), with marginals, and optionally the characters' encoder outputs.
    pub async fn analyse(&self, text: &str, with_embeddings: bool) -> Result<Analysis> {
        let p = &self.0;
        let plan = p.text_plan(&[text]);
        let mut run = p.start_run(&plan.plan, with_embeddings);
        while let Some(batch) = run.next_batch(p.device()) {
            let out = forward(p.tagger(), &batch, with_embeddings);
            let scores = read(out.scores).await?;
            let reps = match out.reps {
                Some(r) => Some(read(r).await?),
                None => None,
            };
            run.accept(scores, reps);
        }
        Ok(p.analysis(&plan, &run.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_core::config::{Decoding, EncoderKind, HeadKind, ModelConfig};
    use model_core::data::Scheme;
    use model_core::lexicon::Lexicon;
    use model_core::model::{LatticeConfig, TaggerConfig};
    use model_core::pipeline::{FORMAT_VERSION, Pipeline};
    use model_core::tags::TagSet;
    use model_core::vocab::Vocabs;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// The CPU backend's reads are ready at once: polling until ready never waits.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn model() -> (ModelMeta, Vec<u8>, Device) {
        model_with(false)
    }

    /// A random tagger; `flat`: a FLAT lattice over a few words of the texts.
    fn model_with(flat: bool) -> (ModelMeta, Vec<u8>, Device) {
        let device = Device::flex();
        device.seed(5);
        let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去了上海"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let mut vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
        let mut cfg = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_hyper(ModelConfig::sized(16, 2, 8));
        if flat {
            let list: Vec<String> = ["北京", "北京大学", "大学", "读书", "上海"]
                .map(String::from)
                .to_vec();
            let lexicon = Lexicon::build(&list, texts.iter().map(Vec::as_slice), 1, 0);
            cfg.hyper.encoder = EncoderKind::Flat;
            cfg.hyper.word_dim = 4;
            cfg = cfg.with_lattice(Some(LatticeConfig::new(lexicon.len())));
            vocabs.words = Some(lexicon);
        }
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            model: cfg.clone(),
            vocabs,
            tags,
            max_len: 6,
        };
        let bytes = cfg
            .init(&device)
            .into_record()
            .into_bytes()
            .unwrap()
            .to_vec();
        (meta, bytes, device)
    }

    #[test]
    fn the_engine_tags_like_the_native_pipeline() {
        engine_matches_pipeline(model());
    }

    #[test]
    fn a_flat_bundle_tags_like_the_native_pipeline() {
        let (meta, bytes, device) = model_with(true);
        // The bundle's metadata survives JSON with its word vocabulary.
        let meta = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert!(meta.vocabs.words.is_some());
        engine_matches_pipeline((meta, bytes, device));
    }

    #[test]
    fn a_nested_binder_bundle_tags_like_the_native_pipeline() {
        let (mut meta, _, device) = model();
        meta.model.hyper.head = HeadKind::Binder;
        meta.model.hyper.binder.decoding = Decoding::Nested;
        meta.model.binder = meta.model.hyper.binder_head(meta.tags.types.len(), 3);
        let bytes = model_core::weights::to_bytes(&meta.model.init(&device), false).unwrap();
        let meta = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap();
        engine_matches_pipeline((meta, bytes, device));
    }

    fn engine_matches_pipeline((meta, bytes, device): (ModelMeta, Vec<u8>, Device)) {
        let pipeline = Pipeline::from_bytes(meta.clone(), bytes.clone(), &device).unwrap();
        let engine = block_on(Engine::load(meta, bytes, device)).unwrap();
        let text = "张三在北京大学读书，李四去了上海。\r\n\n😀 abc 北京";
        let a = block_on(engine.analyse(text, true)).unwrap();
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        let native = pipeline.entities(&lines, 64);
        assert_eq!(a.lines.len(), native.len());
        for (l, n) in a.lines.iter().zip(&native) {
            assert_eq!(&l.entities, n);
        }
        let native_tags = pipeline.tags(&lines, 64).concat();
        let ours: Vec<String> = a.tags.iter().flatten().cloned().collect();
        assert_eq!(ours, native_tags);
        assert_eq!(a.chars.len(), text.chars().count());
        // Marginals are distributions on tagged characters, zero on line breaks.
        let n = engine.meta().tags.len();
        for (i, t) in a.tags.iter().enumerate() {
            let s: f32 = a.marginals[i * n..(i + 1) * n].iter().sum();
            if t.is_some() {
                assert!((s - 1.0).abs() < 1e-3, "row {i} sums to {s}")
            } else {
                assert_eq!(s, 0.0)
            }
        }
        assert_eq!(
            a.embeddings.len(),
            a.embedded_chars.len() * engine.meta().model.hyper.d_model
        );
        assert_eq!(a.embedded_chars.len(), a.tags.iter().flatten().count());
    }

    #[test]
    fn empty_and_whitespace_input_is_fine() {
        let (meta, bytes, device) = model();
        let engine = block_on(Engine::load(meta, bytes, device)).unwrap();
        for text in ["", "\n", "   ", "🙂🙂"] {
            let a = block_on(engine.analyse(text, true)).unwrap();
            assert_eq!(a.chars.len(), text.chars().count());
            assert!(a.entities.iter().all(|e| e.end <= a.chars.len()));
        }
    }
}
