//! The training step with a Binder head: the same `phase_loss` and optimiser step as the CRF,
//! through the head interface.

use super::step::{Frozen, LossSetup, phase_loss};
use super::{Phase, StageConfig, StepRates, apply_step, make_optimizer};
use crate::batch::{Batch, Example};
use crate::config::{HeadKind, ModelConfig};
use crate::data::{Scheme, SpanSentence, parse_span_jsonl};
use crate::loss::Queries;
use crate::model::{CrfConstraints, Tagger, TaggerConfig};
use crate::tags::TagSet;
use crate::vocab::Vocabs;
use burn::module::Module;
use burn::prelude::*;

/// A tiny Binder tagger on the autodiff CPU device and one batch with nested gold and a
/// sentence without entities.
fn setup() -> (Tagger, Batch, CrfConstraints) {
    let device = Device::flex().autodiff();
    device.seed(5);
    let data: Vec<SpanSentence> = parse_span_jsonl(
        r#"{"text": "张三在北京大学", "label": [[0, 2, "PER"], [3, 5, "LOC"], [3, 7, "ORG"]]}
{"text": "李四去上海", "label": [[0, 2, "PER"], [3, 5, "LOC"]]}
{"text": "天气很好", "label": []}"#,
        "t.jsonl",
    )
    .unwrap();
    let vocabs = Vocabs::build(data.iter().map(|s| s.chars.as_slice()), 1, 1);
    let tags = TagSet::new(Scheme::Bioes, ["LOC", "ORG", "PER"].map(String::from));
    let hyper = ModelConfig {
        d_model: 16,
        n_heads: 2,
        char_dim: 8,
        bigram_dim: 8,
        head: HeadKind::Binder,
        ..Default::default()
    };
    let binder = hyper.binder_head(3, 4);
    let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
        .with_hyper(hyper)
        .with_binder(binder)
        .init(&device);
    let examples: Vec<Example> = data
        .iter()
        .map(|s| Example::with_gold(&s.chars, &s.spans, &vocabs, &tags).unwrap())
        .collect();
    let batch = Batch::new(&examples.iter().collect::<Vec<_>>(), &device);
    (model, batch, CrfConstraints::new(&tags, &device))
}

fn loss_setup(phase: Phase, constraints: &CrfConstraints) -> LossSetup<'_> {
    LossSetup {
        phase,
        tau: 0.1,
        queries: Queries::Entities,
        // The joint weight; stage 2 (Tagging) without the auxiliary term.
        contrast_weight: if phase == Phase::Joint { 0.5 } else { 0.0 },
        constraints,
        crf_on_host: true,
    }
}

#[test]
fn binder_steps_fit_a_nested_batch_through_the_head_interface() {
    let (mut model, batch, c) = setup();
    let s = StageConfig {
        lr: 1e-2,
        ..StageConfig::stage2()
    };
    let mut optim = make_optimizer(&s);
    let setup = loss_setup(Phase::Tagging, &c);
    let mut values = Vec::new();
    for _ in 0..40 {
        let frozen = Frozen::new(&model, false, false);
        let loss = phase_loss(&model, &batch, &frozen, &setup).unwrap();
        values.push(loss.value());
        model = apply_step(model, &mut optim, loss.tensor, StepRates::uniform(s.lr));
    }
    let last = *values.last().unwrap();
    assert!(
        values[0].is_finite() && last < 0.3 * values[0],
        "loss {} → {last}",
        values[0]
    );
}

#[test]
fn the_binder_joint_value_is_its_loss_plus_the_weighted_infonce() {
    let (model, batch, c) = setup();
    let model = model.valid();
    let batch = batch.without_autodiff();
    let frozen = Frozen::new(&model, false, true);
    let value = |p| {
        phase_loss(&model, &batch, &frozen, &loss_setup(p, &c))
            .unwrap()
            .value()
    };
    let (one, two, joint) = (
        value(Phase::Contrast),
        value(Phase::Tagging),
        value(Phase::Joint),
    );
    assert!(one > 0.0 && two > 0.0);
    assert!(
        (joint - (two + 0.5 * one)).abs() < 1e-4 * joint,
        "{joint} vs {two} + 0.5 · {one}"
    );
}
