//! Inference over raw text on native backends: a trained tagger with its vocabularies and tag
//! set, from text or sentences to tags, entities and marginals. Used by `nerco eval/predict`,
//! by the trainer's scoring and by third parties; the browser's engine wraps the same
//! [`crate::infer`] core with asynchronous reads.

use crate::batch::Example;
use crate::data::{Sentence, Span, SpanSentence, tags_to_spans};
use crate::decode::CrfScores;
use crate::error::Result;
use crate::host::try_tensor_values;
use crate::infer::assemble::{analyses, tag_ids, text_entities, unit_spans};
use crate::infer::{Outputs, Plan, Run, ScoreLayout, TEXT_BATCH, TextPlan, forward};
use crate::metrics::{Report, evaluate, evaluate_spans};
use crate::model::Tagger;
use burn::module::Module;
use burn::prelude::*;

pub use crate::infer::{Analysis, Entity, spans_to_entities, split_long};
pub use crate::meta::{FORMAT_VERSION, ModelMeta};

/// Sentences per forward pass when scoring a split (what training's model selection used).
pub(crate) const SCORE_BATCH: usize = 64;

pub struct Pipeline {
    meta: ModelMeta,
    /// The tagger in inference mode (`Tagger::valid`).
    tagger: Tagger,
    crf: CrfScores,
    device: Device,
}

impl Pipeline {
    /// The model's metadata: its config, vocabularies and tag set.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The tagger, in inference mode.
    pub fn tagger(&self) -> &Tagger {
        &self.tagger
    }

    /// The device the tagger's weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A pipeline over a trained tagger (moved to inference mode). Reads the CRF scores back
    /// synchronously: on WebGPU build it with [`Pipeline::from_parts`].
    pub fn new(meta: ModelMeta, tagger: &Tagger, device: &Device) -> Self {
        let tagger = tagger.valid();
        let crf = tagger
            .crf
            .host_scores(&crate::model::CrfConstraints::new(&meta.tags, device));
        Self::from_parts(meta, tagger, crf, device)
    }

    /// A pipeline from a tagger already in inference mode and its CRF scores read back.
    pub fn from_parts(meta: ModelMeta, tagger: Tagger, crf: CrfScores, device: &Device) -> Self {
        Self {
            meta,
            tagger,
            crf,
            device: device.clone(),
        }
    }

    /// Rebuild from metadata and burnpack weight bytes (f32 or f16).
    pub fn from_bytes(meta: ModelMeta, weights: Vec<u8>, device: &Device) -> Result<Self> {
        let tagger = crate::weights::load(&meta.model, weights, device)?;
        Ok(Self::new(meta, &tagger, device))
    }

    /// The final model of a run directory (`meta.json` + `model.bpk`).
    #[cfg(feature = "native")]
    pub fn load(dir: impl AsRef<std::path::Path>, device: &Device) -> Result<Self> {
        let (meta, tagger) = crate::infer::load::load_run(dir.as_ref(), device)?;
        Ok(Self::new(meta, &tagger, device))
    }

    /// The driving loop over `plan` for this model; the caller reads each batch back its own way
    /// ([`Pipeline::run`] synchronously, the web engine by awaiting).
    pub fn start_run<'p>(&self, plan: &'p Plan, with_reps: bool) -> Run<'p> {
        Run::new(
            plan,
            ScoreLayout::of(&self.meta.model),
            self.meta.model.hyper.d_model,
            with_reps,
        )
    }

    /// The [`Analysis`] of a one-text plan ([`Pipeline::text_plan`] of one text) from its outputs.
    pub fn analysis(&self, plan: &TextPlan, out: &Outputs) -> Analysis {
        let mut all = analyses(plan, out, &self.crf, &self.meta.tags);
        debug_assert_eq!(all.len(), 1, "a one-text plan");
        all.swap_remove(0)
    }

    /// Run `plan` through the model, reading every batch back synchronously.
    pub fn run(&self, plan: &Plan, with_reps: bool) -> Result<Outputs> {
        let mut run = self.start_run(plan, with_reps);
        while let Some(batch) = run.next_batch(&self.device) {
            let out = forward(&self.tagger, &batch, with_reps);
            let scores = try_tensor_values(out.scores)?;
            let reps = out.reps.map(try_tensor_values).transpose()?;
            run.accept(scores, reps);
        }
        Ok(run.finish())
    }

    /// Entities in `text` (one or more lines), with character offsets into the whole text.
    pub fn tag(&self, text: &str) -> Result<Vec<Entity>> {
        Ok(self.tag_batch(&[text])?.pop().unwrap_or_default())
    }

    /// [`Pipeline::tag`] for several texts, batched together.
    pub fn tag_batch(&self, texts: &[&str]) -> Result<Vec<Vec<Entity>>> {
        let plan = self.text_plan(texts);
        let out = self.run(&plan.plan, false)?;
        Ok(text_entities(&plan, &out, &self.crf, &self.meta.tags))
    }

    /// Everything the web page shows for `text`: tags, entities per line, marginals and,
    /// when `with_embeddings`, the characters' encoder outputs.
    pub fn analyse(&self, text: &str, with_embeddings: bool) -> Result<Analysis> {
        let plan = self.text_plan(&[text]);
        let out = self.run(&plan.plan, with_embeddings)?;
        Ok(self.analysis(&plan, &out))
    }

    /// The plan of `texts` for this model, line by line.
    pub fn text_plan<S: AsRef<str>>(&self, texts: &[S]) -> TextPlan {
        TextPlan::new(texts, &self.meta.vocabs, self.meta.max_len, TEXT_BATCH)
    }

    /// Whether the model's head is Binder's (entities may overlap under nested decoding).
    pub fn is_binder(&self) -> bool {
        self.meta.model.binder.is_some()
    }

    /// Emissions for sentences of at most `max_len` characters, `[len * n_tags]` each (empty
    /// for a Binder model, which has none).
    pub fn emissions(&self, sentences: &[&[char]], batch_size: usize) -> Vec<Vec<f32>> {
        let plan = Plan::pieces(sentences, &self.meta.vocabs, batch_size);
        self.run_or_panic(&plan).emissions
    }

    /// Tag ids for sentences of any length (long ones are split into pieces and re-joined).
    pub fn tag_ids(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<usize>> {
        self.predict(sentences, batch_size).0
    }

    /// Tag ids and entity spans of sentences of any length, from one run: the CRF's tags and
    /// their spans, or a Binder model's decoded spans (overlapping under nested decoding) and
    /// the tags of their flat decoding.
    fn predict(
        &self,
        sentences: &[Vec<char>],
        batch_size: usize,
    ) -> (Vec<Vec<usize>>, Vec<Vec<Span>>) {
        let plan = Plan::sentences(sentences, &self.meta.vocabs, self.meta.max_len, batch_size);
        let out = self.run_or_panic(&plan);
        let ids = tag_ids(&plan, &out, &self.crf, &self.meta.tags);
        let types = &self.meta.tags.types;
        let spans = if out.binder {
            unit_spans(&plan, &out)
                .iter()
                .map(|found| found.iter().map(|s| s.to_span(types)).collect())
                .collect()
        } else {
            ids.iter()
                .map(|ids| tags_to_spans(&self.tag_names(ids)))
                .collect()
        };
        (ids, spans)
    }

    fn tag_names(&self, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .map(|&t| self.meta.tags.tags[t].clone())
            .collect()
    }

    /// The examples of each forward pass [`Pipeline::tags`] makes for `sentences`, in its order
    /// (empty pieces are never run): for benchmarks that replay the same batches elsewhere.
    pub fn planned_batches(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<Example>> {
        let plan = Plan::sentences(sentences, &self.meta.vocabs, self.meta.max_len, batch_size);
        plan.batches
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|&i| &plan.examples[i])
                    .filter(|e| !e.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .filter(|b| !b.is_empty())
            .collect()
    }

    pub fn tags(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<String>> {
        self.tag_ids(sentences, batch_size)
            .iter()
            .map(|ids| self.tag_names(ids))
            .collect()
    }

    /// Entity spans for sentences of any length: a Binder model's decoded spans (overlapping
    /// under nested decoding), or the spans of the CRF's tags.
    pub fn spans(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<Span>> {
        self.predict(sentences, batch_size).1
    }

    /// Entities of sentences of any length ([`Pipeline::spans`] with their text).
    pub fn entities(&self, sentences: &[Vec<char>], batch_size: usize) -> Vec<Vec<Entity>> {
        self.spans(sentences, batch_size)
            .iter()
            .zip(sentences)
            .map(|(spans, chars)| spans_to_entities(spans, chars))
            .collect()
    }

    /// Score gold sentences: their own tags against the predictions (returned too, in the tag
    /// set's scheme). A Binder model is scored on its decoded spans ([`Pipeline::score_spans`]);
    /// the tags it returns are its flat decoding's.
    pub fn score(&self, sentences: &[Sentence]) -> Result<(Report, Vec<Vec<String>>)> {
        let chars: Vec<Vec<char>> = sentences.iter().map(|s| s.chars.clone()).collect();
        if self.is_binder() {
            let (ids, spans) = self.predict(&chars, SCORE_BATCH);
            let gold: Vec<Vec<Span>> = sentences.iter().map(|s| tags_to_spans(&s.tags)).collect();
            let lengths: Vec<usize> = chars.iter().map(Vec::len).collect();
            let report = evaluate_spans(&gold, &spans, &lengths)?;
            return Ok((report, ids.iter().map(|i| self.tag_names(i)).collect()));
        }
        let pred = self.tags(&chars, SCORE_BATCH);
        let gold: Vec<Vec<String>> = sentences.iter().map(|s| s.tags.clone()).collect();
        Ok((evaluate(&gold, &pred)?, pred))
    }

    /// Score sentences with gold spans (nested ones included) against [`Pipeline::spans`]
    /// (returned too), exact type and boundaries.
    pub fn score_spans(&self, sentences: &[SpanSentence]) -> Result<(Report, Vec<Vec<Span>>)> {
        let chars: Vec<Vec<char>> = sentences.iter().map(|s| s.chars.clone()).collect();
        let pred = self.spans(&chars, SCORE_BATCH);
        let gold: Vec<Vec<Span>> = sentences.iter().map(|s| s.spans.clone()).collect();
        let lengths: Vec<usize> = chars.iter().map(Vec::len).collect();
        Ok((evaluate_spans(&gold, &pred, &lengths)?, pred))
    }

    /// The sentence-level methods predate the error type and return plain values: a failed read
    /// on a native backend is a backend fault, not bad input.
    fn run_or_panic(&self, plan: &Plan) -> Outputs {
        self.run(plan, false)
            .unwrap_or_else(|e| panic!("native inference: {e}"))
    }
}

#[cfg(test)]
mod roundtrip_tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::data::Scheme;
    use crate::model::TaggerConfig;
    use crate::tags::TagSet;
    use crate::vocab::Vocabs;
    use burn::module::Module;

    #[test]
    fn saved_and_loaded_models_predict_identically() {
        let device = Device::flex();
        device.seed(11);
        let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四", "我们今天去上海参加会议了"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_hyper(ModelConfig::sized(16, 2, 8));
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            model: model.clone(),
            vocabs,
            tags,
            max_len: 5,
        };
        let tagger = model.init(&device);
        let bytes = tagger.clone().into_record().into_bytes().unwrap().to_vec();
        let a = Pipeline::new(meta.clone(), &tagger, &device);
        let json = serde_json::to_string(&meta).unwrap();
        let b = Pipeline::from_bytes(ModelMeta::from_json(&json).unwrap(), bytes, &device).unwrap();
        let refs: Vec<&[char]> = texts.iter().map(Vec::as_slice).collect();
        assert_eq!(a.emissions(&refs, 2), b.emissions(&refs, 2));
        assert_eq!(a.tag_ids(&texts, 2), b.tag_ids(&texts, 2));
        // Long input is split (max_len 5) but every character gets a tag.
        assert_eq!(a.tag_ids(&texts, 2)[2].len(), texts[2].len());
        // The planned batches hold every character once (long ones split at max_len 5), at most
        // 2 pieces each, and the same ids `emissions` runs.
        let planned = a.planned_batches(&texts, 2);
        assert!(planned.iter().all(|b| (1..=2).contains(&b.len())));
        let mut lens: Vec<usize> = planned.iter().flatten().map(|e| e.chars.len()).collect();
        lens.sort();
        assert_eq!(lens, vec![2, 2, 4, 5, 5, 5]);
    }
}

#[cfg(test)]
mod flat_tests {
    use super::*;
    use crate::config::EncoderKind;
    use crate::config::ModelConfig;
    use crate::data::Scheme;
    use crate::lexicon::Lexicon;
    use crate::model::LatticeConfig;
    use crate::model::TaggerConfig;
    use crate::tags::TagSet;
    use crate::vocab::Vocabs;
    use burn::module::Module;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A random FLAT model with a 6-character window, saved and loaded back.
    fn pipelines() -> &'static (Pipeline, Pipeline) {
        static P: OnceLock<(Pipeline, Pipeline)> = OnceLock::new();
        P.get_or_init(|| {
            let device = Device::flex();
            device.seed(13);
            let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去上海市长宁区"]
                .iter()
                .map(|s| s.chars().collect())
                .collect();
            let mut vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
            let list: Vec<String> = [
                "北京",
                "北京大学",
                "大学",
                "上海",
                "上海市",
                "市长",
                "长宁区",
            ]
            .map(String::from)
            .to_vec();
            let lexicon = Lexicon::build(&list, texts.iter().map(Vec::as_slice), 1, 3);
            let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
            let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
                .with_hyper(ModelConfig {
                    encoder: EncoderKind::Flat,
                    word_dim: 4,
                    ..ModelConfig::sized(16, 2, 8)
                })
                .with_lattice(Some(LatticeConfig::new(lexicon.len())));
            vocabs.words = Some(lexicon);
            let meta = ModelMeta {
                format_version: FORMAT_VERSION,
                model: model.clone(),
                vocabs,
                tags,
                max_len: 6,
            };
            let tagger = model.init(&device);
            let bytes = tagger.clone().into_record().into_bytes().unwrap().to_vec();
            let json = serde_json::to_string(&meta).unwrap();
            let loaded = ModelMeta::from_json(&json).unwrap();
            (
                Pipeline::new(meta, &tagger, &device),
                Pipeline::from_bytes(loaded, bytes, &device).unwrap(),
            )
        })
    }

    #[test]
    fn a_flat_bundle_with_a_mismatched_lexicon_is_refused() {
        let (p, _) = pipelines();
        let mut meta = p.meta.clone();
        meta.vocabs.words = None;
        let err = ModelMeta::from_json(&serde_json::to_string(&meta).unwrap()).unwrap_err();
        assert!(err.to_string().contains("lexicon"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn flat_models_tag_any_text_and_reload_identically(
            text in "[张三李四北京大学上海市长宁区在去读书。a ]{0,40}"
        ) {
            let (a, b) = pipelines();
            let s: Vec<char> = text.chars().collect();
            let sentences = vec![s.clone(), s.iter().rev().copied().collect()];
            let ta = a.tag_ids(&sentences, 2);
            prop_assert_eq!(ta[0].len(), s.len());
            prop_assert_eq!(&ta, &b.tag_ids(&sentences, 2));
        }
    }
}

#[cfg(test)]
pub(crate) mod api_tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::data::Scheme;
    use crate::model::TaggerConfig;
    use crate::tags::TagSet;
    use crate::vocab::Vocabs;

    /// A small random model (its tags are untrained, so entities appear) with a 6-character
    /// window, so long lines are split and re-joined.
    pub(crate) fn tiny(device: &Device) -> (ModelMeta, Tagger) {
        device.seed(7);
        let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去了上海"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_hyper(ModelConfig::sized(16, 2, 8));
        let tagger = model.init(device);
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            model,
            vocabs,
            tags,
            max_len: 6,
        };
        (meta, tagger)
    }

    fn pipeline() -> Pipeline {
        let device = Device::flex();
        let (meta, tagger) = tiny(&device);
        Pipeline::new(meta, &tagger, &device)
    }

    #[test]
    fn tag_finds_each_lines_entities_with_offsets_into_the_whole_text() {
        let p = pipeline();
        let text = "张三在北京大学读书，李四去了上海。\r\n\n王五 北京";
        let chars: Vec<char> = text.chars().collect();
        let ranges = crate::infer::plan::line_ranges(&chars);
        let lines: Vec<Vec<char>> = ranges.iter().map(|&(s, e)| chars[s..e].to_vec()).collect();
        assert_eq!(lines.len(), text.lines().count());
        let mut expected = Vec::new();
        for (&(start, _), ents) in ranges.iter().zip(p.entities(&lines, 64)) {
            expected.extend(ents.into_iter().map(|e| Entity {
                start: e.start + start,
                end: e.end + start,
                ..e
            }));
        }
        let found = p.tag(text).unwrap();
        assert_eq!(found, expected);
        for e in &found {
            assert_eq!(e.text, chars[e.start..e.end].iter().collect::<String>());
        }
        let batch = p.tag_batch(&[text, "", "李四"]).unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[0], found);
        assert!(batch[1].is_empty());
        assert_eq!(batch[2], p.tag("李四").unwrap());
    }

    #[test]
    fn analyse_covers_every_character_and_agrees_with_tag() {
        let p = pipeline();
        let text = "张三在北京大学读书，李四去了上海\n\n😀";
        let a = p.analyse(text, true).unwrap();
        assert_eq!(a.chars.len(), text.chars().count());
        assert_eq!(a.entities, p.tag(text).unwrap());
        assert_eq!(a.tags.iter().filter(|t| t.is_none()).count(), 2);
        assert_eq!(a.pieces, 4);
        assert_eq!(
            a.embeddings.len(),
            a.embedded_chars.len() * p.meta.model.hyper.d_model
        );
        assert_eq!(a.embedded_chars.len(), a.tags.iter().flatten().count());
        let json: serde_json::Value = serde_json::to_value(&a).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "chars",
                "embedded_chars",
                "entities",
                "lines",
                "marginals",
                "pieces",
                "tags"
            ]
        );
        assert!(p.analyse(text, false).unwrap().embeddings.is_empty());
    }

    #[test]
    fn score_compares_gold_tags_with_the_predictions() {
        let p = pipeline();
        let chars: Vec<char> = "张三在北京大学读书".chars().collect();
        let pred = p.tags(&[chars.clone()], 64).remove(0);
        let gold = Sentence {
            chars,
            tags: pred.clone(),
            line: 1,
        };
        let (report, predictions) = p.score(std::slice::from_ref(&gold)).unwrap();
        assert_eq!(predictions, vec![pred]);
        assert_eq!(
            report.overall.f1,
            if report.overall.predicted > 0 {
                100.0
            } else {
                0.0
            }
        );
        let short = Sentence {
            tags: vec!["O".into()],
            ..gold
        };
        assert!(matches!(p.score(&[short]), Err(crate::Error::Metrics(_))));
    }
}

#[cfg(test)]
mod binder_tests {
    use super::*;
    use crate::config::{Decoding, HeadKind};

    /// [`api_tests::tiny`] with a Binder head (K = 3) decoding `decoding`.
    fn binder(decoding: Decoding) -> Pipeline {
        let device = Device::flex();
        let (mut meta, _) = api_tests::tiny(&device);
        meta.model.hyper.head = HeadKind::Binder;
        meta.model.hyper.binder.decoding = decoding;
        meta.model.binder = meta.model.hyper.binder_head(meta.tags.types.len(), 3);
        let tagger = meta.model.init(&device);
        let bytes = crate::weights::to_bytes(&tagger, false).unwrap();
        let json = serde_json::to_string(&meta).unwrap();
        Pipeline::from_bytes(ModelMeta::from_json(&json).unwrap(), bytes, &device).unwrap()
    }

    #[test]
    fn a_binder_pipeline_tags_and_analyses_text_with_well_formed_output() {
        let text = "张三在北京大学读书，李四去了上海\n\n王五";
        for decoding in [Decoding::Flat, Decoding::Nested] {
            let p = binder(decoding);
            assert!(p.is_binder());
            let a = p.analyse(text, true).unwrap();
            let chars: Vec<char> = text.chars().collect();
            assert_eq!(a.chars.len(), chars.len());
            assert_eq!(a.entities, p.tag(text).unwrap());
            assert_eq!(a.tags.iter().filter(|t| t.is_none()).count(), 2);
            let n = p.meta().tags.len();
            for (row, tag) in a.marginals.chunks(n).zip(&a.tags) {
                let want = f32::from(tag.is_some());
                assert_eq!(
                    row.iter().sum::<f32>(),
                    want,
                    "one-hot rows, zero at breaks"
                );
            }
            for e in &a.entities {
                assert!(e.end - e.start <= 3, "no span wider than K");
                assert_eq!(e.text, chars[e.start..e.end].iter().collect::<String>());
            }
            // The tags are the flat decoding: their entities never overlap, and are all found
            // among the decoded entities.
            let sentences = vec![chars[..16].to_vec()];
            let tagged = tags_to_spans(&p.tags(&sentences, 4)[0]);
            let spans = &p.spans(&sentences, 4)[0];
            assert!(
                tagged.iter().all(|s| spans.contains(s)),
                "{tagged:?} {spans:?}"
            );
            let overlaps = spans.iter().enumerate().any(|(i, a)| {
                spans[i + 1..]
                    .iter()
                    .any(|b| a.start < b.end && b.start < a.end)
            });
            if decoding == Decoding::Flat {
                assert!(!overlaps, "{spans:?}");
                assert_eq!(&tagged, spans);
            }
            // Scoring its own predictions as gold gives 100.
            let gold = vec![SpanSentence {
                chars: sentences[0].clone(),
                spans: spans.clone(),
                line: 1,
            }];
            let (report, _) = p.score_spans(&gold).unwrap();
            assert!(spans.is_empty() || report.overall.f1 == 100.0);
        }
    }
}
