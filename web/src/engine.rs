//! The demo's inference engine, free of JavaScript types so it also runs (and is tested) natively.
//!
//! It mirrors [`model_core::pipeline::Pipeline`] (same splitting, batching and decoding, so the
//! browser shows what `nerco predict` prints) but reads every tensor back with
//! `into_data_async().await`: on WebGPU a synchronous read panics, on the CPU backend the future
//! is ready at once.

use burn::module::Module;
use burn::prelude::*;
use model_core::batch::{Batch, Example, length_buckets};
use model_core::data::tags_to_spans;
use model_core::decode::CrfScores;
use model_core::model::{CrfConstraints, Tagger};
use model_core::pipeline::{Entity, ModelMeta, spans_to_entities, split_long};
use serde::Serialize;

/// Sentences per forward pass.
pub const BATCH: usize = 16;

pub struct Engine {
    pub meta: ModelMeta,
    pub tagger: Tagger,
    pub crf: CrfScores,
    pub device: Device,
}

/// One line of input (the unit `nerco predict` tags), with offsets into the whole text's chars.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub start: usize,
    pub end: usize,
    /// Entities with offsets relative to the line, exactly as `nerco predict` prints them.
    pub entities: Vec<Entity>,
}

/// Everything the page shows for a text.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// The text's characters (Unicode scalar values, like `Array.from(text)` in JavaScript).
    pub chars: Vec<String>,
    /// Tag per character; `None` for line breaks.
    pub tags: Vec<Option<String>>,
    /// Entities with offsets into `chars`.
    pub entities: Vec<Entity>,
    pub lines: Vec<Line>,
    /// Per-character tag marginals `P(y_t = k | x)` (CRF forward–backward), `chars × tagset`;
    /// zero rows for line breaks.
    pub marginals: Vec<f32>,
    /// Pieces the model saw (lines longer than `max_len` are split).
    pub pieces: usize,
    /// Encoder outputs of the tagged characters (line breaks skipped), `tokens × d_model`, when
    /// asked for. Not serialised: handed to JavaScript as a `Float32Array`.
    #[serde(skip)]
    pub embeddings: Vec<f32>,
    /// Indices into `chars` of the rows of `embeddings`.
    pub embedded_chars: Vec<usize>,
}

async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| format!("reading a tensor back: {e:?}"))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("tensor data: {e:?}"))
}

impl Engine {
    /// Load a bundle's weights (burnpack bytes) onto `device`. The CRF scores are computed on the
    /// device and read back asynchronously, so this also works on WebGPU.
    pub async fn load(meta: ModelMeta, weights: Vec<u8>, device: Device) -> Result<Self, String> {
        // f32 or f16 files alike (bundles are exported in f16).
        let tagger = model_core::weights::load(&meta.model, weights, &device)
            .map_err(|e| format!("model weights: {e}"))?
            .valid();
        let constraints = CrfConstraints::new(&meta.tags, &device);
        let (t, s, e) = tagger.crf.effective(&constraints);
        let crf = CrfScores {
            n_tags: meta.tags.len(),
            transitions: read_f32(t).await?,
            start: read_f32(s).await?,
            end: read_f32(e).await?,
        };
        Ok(Self {
            meta,
            tagger,
            crf,
            device,
        })
    }

    /// Tag `text` line by line (each line as `nerco predict` tags it: pieces of at most
    /// `max_len` characters), with marginals, and optionally the characters' encoder outputs.
    pub async fn analyse(&self, text: &str, with_embeddings: bool) -> Result<Analysis, String> {
        let chars: Vec<char> = text.chars().collect();
        let n = self.meta.tags.len();
        let d = self.meta.model.d_model;
        // Lines: split at '\n', a trailing '\r' is not part of the line (like `str::lines`).
        let mut line_ranges = Vec::new();
        let mut start = 0;
        for (i, &c) in chars.iter().enumerate() {
            if c == '\n' {
                line_ranges.push((start, i));
                start = i + 1;
            }
        }
        line_ranges.push((start, chars.len()));
        let line_ranges: Vec<(usize, usize)> = line_ranges
            .into_iter()
            .map(|(s, mut e)| {
                if e > s && chars[e - 1] == '\r' {
                    e -= 1;
                }
                (s, e)
            })
            .collect();
        // Pieces with their offsets into `chars`.
        let mut pieces: Vec<(usize, &[char])> = Vec::new();
        for &(s, e) in &line_ranges {
            let mut off = s;
            for p in split_long(&chars[s..e], self.meta.max_len) {
                if !p.is_empty() {
                    pieces.push((off, p));
                }
                off += p.len();
            }
        }
        let examples: Vec<Example> = pieces
            .iter()
            .map(|(_, p)| Example::unlabelled(p, &self.meta.vocabs))
            .collect();
        let lens: Vec<usize> = examples.iter().map(Example::len).collect();
        let mut emissions: Vec<Vec<f32>> = vec![Vec::new(); pieces.len()];
        let mut reps: Vec<Vec<f32>> = vec![Vec::new(); pieces.len()];
        for group in length_buckets(&lens, BATCH) {
            let refs: Vec<&Example> = group.iter().map(|&i| &examples[i]).collect();
            let batch = Batch::new(&refs, &self.device);
            let l = batch.max_len();
            let h = self.tagger.encode(&batch);
            let em = read_f32(self.tagger.emissions(h.clone())).await?;
            let hv = if with_embeddings {
                read_f32(batch.gather_tokens(h)).await?
            } else {
                Vec::new()
            };
            let mut row = 0;
            for (k, &i) in group.iter().enumerate() {
                let len = examples[i].len();
                emissions[i] = em[k * l * n..(k * l + len) * n].to_vec();
                if with_embeddings {
                    reps[i] = hv[row * d..(row + len) * d].to_vec();
                }
                row += len;
            }
        }
        let mut tags: Vec<Option<String>> = vec![None; chars.len()];
        let mut tag_ids: Vec<Option<usize>> = vec![None; chars.len()];
        let mut marginals = vec![0f32; chars.len() * n];
        let mut embeddings = Vec::new();
        let mut embedded_chars = Vec::new();
        for (k, &(off, p)) in pieces.iter().enumerate() {
            let path = self.crf.viterbi(&emissions[k]);
            let m = self.crf.marginals(&emissions[k]);
            marginals[off * n..(off + p.len()) * n].copy_from_slice(&m);
            for (t, &id) in path.iter().enumerate() {
                tag_ids[off + t] = Some(id);
                tags[off + t] = Some(self.meta.tags.tags[id].clone());
            }
            if with_embeddings {
                embeddings.extend_from_slice(&reps[k]);
                embedded_chars.extend(off..off + p.len());
            }
        }
        let mut lines = Vec::new();
        let mut entities = Vec::new();
        for &(s, e) in &line_ranges {
            let line_tags: Vec<String> = tags[s..e]
                .iter()
                .map(|t| t.clone().unwrap_or_default())
                .collect();
            let ents = spans_to_entities(&tags_to_spans(&line_tags), &chars[s..e]);
            entities.extend(ents.iter().map(|x| Entity {
                start: x.start + s,
                end: x.end + s,
                ..x.clone()
            }));
            lines.push(Line {
                start: s,
                end: e,
                entities: ents,
            });
        }
        Ok(Analysis {
            chars: chars.iter().map(|c| c.to_string()).collect(),
            tags,
            entities,
            lines,
            marginals,
            pieces: pieces.len(),
            embeddings,
            embedded_chars,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            .with_d_model(16)
            .with_n_heads(2)
            .with_char_dim(8)
            .with_bigram_dim(8);
        if flat {
            let list: Vec<String> = ["北京", "北京大学", "大学", "读书", "上海"]
                .map(String::from)
                .to_vec();
            let lexicon = Lexicon::build(&list, texts.iter().map(Vec::as_slice), 1, 0);
            cfg = cfg.with_lattice(Some(LatticeConfig::new(lexicon.len()).with_word_dim(4)));
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
        let n = engine.meta.tags.len();
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
            a.embedded_chars.len() * engine.meta.model.d_model
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
