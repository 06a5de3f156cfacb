//! One training step's loss for each phase: Semantic-Class InfoNCE (stage 1), the head's loss
//! (stage 2), or both (joint), with what stays frozen in an epoch computed outside the graph.

use super::recipe::Phase;
use crate::batch::{Batch, Example};
use crate::loss::{Queries, info_nce};
use crate::model::bert::Bert;
use crate::model::tagger::char_features;
use crate::model::{CrfConstraints, CrfLoss, HeadLoss, OutputHead, Tagger};
use burn::module::Module;
use burn::prelude::*;
use rand::Rng;
use rand::rngs::StdRng;

/// What the loss of a phase needs besides the model and the batch.
pub struct LossSetup<'a> {
    pub phase: Phase,
    /// InfoNCE temperature.
    pub tau: f64,
    pub queries: Queries,
    /// Weight of the InfoNCE term added to the head's loss: `joint.weight` in the joint phase,
    /// stage 2's auxiliary weight this epoch in the tagging phase (0 there = no term, as before).
    pub contrast_weight: f64,
    pub constraints: &'a CrfConstraints,
    /// The CRF NLL by host forward–backward (the CPU's fast path, one read-back per step) or on
    /// the device (a GPU's: nothing in the step reads back).
    pub crf_on_host: bool,
}

impl LossSetup<'_> {
    fn crf(&self) -> CrfLoss<'_> {
        CrfLoss {
            constraints: self.constraints,
            on_host: self.crf_on_host,
        }
    }
}

/// The parts of the model that do not train this epoch, as inference copies: the whole encoder
/// in a head-only epoch, or the pretrained character encoder while it is frozen. Running them
/// without autodiff matters: a detached graph would still be recorded, and Burn's graph cleanup
/// then dominates the epoch.
pub struct Frozen {
    encoder: Option<Tagger>,
    bert: Option<Bert>,
}

impl Frozen {
    /// `head_only`: only the head trains; `bert_trains`: the pretrained encoder trains.
    pub fn new(model: &Tagger, head_only: bool, bert_trains: bool) -> Self {
        Self {
            encoder: head_only.then(|| model.valid()),
            bert: if bert_trains {
                None
            } else {
                model.bert.as_ref().map(|b| b.valid())
            },
        }
    }

    /// The batch's encoder states ([`Tagger::states`]: the characters, after a Binder model's
    /// sentence token), through the frozen parts where there are any.
    pub(crate) fn encode(&self, model: &Tagger, batch: &Batch) -> Tensor<3> {
        match (&self.encoder, &self.bert) {
            (Some(encoder), _) => Tensor::from_inner(encoder.states(&batch.without_autodiff())),
            (None, Some(bert)) => {
                let features =
                    char_features(bert, &batch.without_autodiff()).map(Tensor::from_inner);
                model.states_with(batch, features)
            }
            (None, None) => model.states(batch),
        }
    }
}

/// A step's loss: the tensor to differentiate and the parts its reported value is made of. The
/// value is read when asked for, so a caller on an asynchronous device can await it instead.
pub struct StepLoss {
    pub tensor: Tensor<1>,
    /// Already on the host (the CRF term, whose tensor is a surrogate with the NLL's gradient).
    pub(super) host: f64,
    /// A term still on the device, with its weight in the value.
    pub(super) device: Option<(f64, Tensor<1>)>,
}

impl StepLoss {
    /// A head's loss alone: its value on the host (the CRF) or read from its tensor (Binder).
    fn of_head(l: HeadLoss) -> Self {
        match l.host {
            Some(host) => StepLoss {
                tensor: l.tensor,
                host,
                device: None,
            },
            None => StepLoss {
                tensor: l.tensor.clone(),
                host: 0.0,
                device: Some((1.0, l.tensor)),
            },
        }
    }

    /// This loss plus `weight` × a device term (the joint recipe's InfoNCE).
    fn plus(self, weight: f64, term: Tensor<1>) -> Self {
        let tensor = self.tensor + term.clone().mul_scalar(weight);
        let device = match self.device {
            None => Some((weight, term)),
            // Only a head whose value lives on the device gets here: fold both into one term.
            Some((w, t)) => Some((1.0, t.mul_scalar(w) + term.mul_scalar(weight))),
        };
        StepLoss {
            tensor,
            host: self.host,
            device,
        }
    }

    /// The loss value (reads the device term back synchronously).
    pub fn value(&self) -> f64 {
        match &self.device {
            Some((w, t)) => self.host + w * crate::host::tensor_values(t.clone())[0] as f64,
            None => self.host,
        }
    }

    /// The loss value, read back asynchronously (WebGPU).
    pub async fn value_async(&self) -> Result<f64, crate::host::ReadError> {
        match &self.device {
            Some((w, t)) => {
                let v = crate::host::tensor_values_async(t.clone()).await?;
                Ok(self.host + w * v[0] as f64)
            }
            None => Ok(self.host),
        }
    }
}

/// The Semantic Class of each real token of the batch, in token order.
pub fn token_classes(batch: &Batch) -> Vec<usize> {
    batch.classes.iter().flatten().copied().collect()
}

/// The phase's loss on `batch`; `None` when it has nothing to learn from (no InfoNCE query in a
/// stage-1 batch).
pub fn phase_loss(
    model: &Tagger,
    batch: &Batch,
    frozen: &Frozen,
    s: &LossSetup,
) -> Option<StepLoss> {
    let reps = frozen.encode(model, batch);
    let contrast = |reps: Tensor<3>| {
        info_nce(
            batch.gather_tokens(model.char_states(reps)),
            &token_classes(batch),
            s.tau,
            s.queries,
        )
    };
    match s.phase {
        Phase::Contrast => contrast(reps).map(|l| StepLoss {
            tensor: l.clone(),
            host: 0.0,
            device: Some((1.0, l)),
        }),
        // Stage 2 with an auxiliary InfoNCE term is the joint loss with its own weight.
        Phase::Tagging | Phase::Joint => {
            let with_contrast = s.phase == Phase::Joint || s.contrast_weight > 0.0;
            let head = StepLoss::of_head(model.head().loss(reps.clone(), batch, s.crf()));
            Some(match with_contrast.then(|| contrast(reps)).flatten() {
                Some(c) => head.plus(s.contrast_weight, c),
                None => head,
            })
        }
        Phase::Done => None,
    }
}

/// A copy of `ex` with each character and bigram id replaced by UNK with probability `p`.
pub fn token_dropout(ex: &Example, p: f64, rng: &mut StdRng) -> Example {
    let mut out = ex.clone();
    for id in out.chars.iter_mut().chain(out.bigrams.iter_mut()) {
        if rng.random_bool(p) {
            *id = crate::vocab::UNK;
        }
    }
    out
}

/// The training batch of `idx`, with token dropout `p` drawn from `rng` (nothing drawn at 0).
pub fn train_batch(
    examples: &[Example],
    idx: &[usize],
    p: f64,
    rng: &mut StdRng,
    device: &Device,
) -> Batch {
    if p > 0.0 {
        let dropped: Vec<Example> = idx
            .iter()
            .map(|&i| token_dropout(&examples[i], p, rng))
            .collect();
        Batch::new(&dropped.iter().collect::<Vec<_>>(), device)
    } else {
        Batch::new(
            &idx.iter().map(|&i| &examples[i]).collect::<Vec<_>>(),
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::data::{Scheme, Sentence};
    use crate::model::TaggerConfig;
    use crate::tags::TagSet;
    use crate::train::{StageConfig, StepRates, apply_step, make_optimizer};
    use crate::vocab::Vocabs;

    fn sentence(text: &str, tags: &[&str]) -> Sentence {
        Sentence {
            chars: text.chars().collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            line: 1,
        }
    }

    /// A tiny tagger on the autodiff CPU device, two labelled sentences as one batch.
    fn setup() -> (Tagger, Batch, CrfConstraints, Device) {
        let device = Device::flex().autodiff();
        device.seed(3);
        let data = [
            sentence("张三在北京", &["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]),
            sentence("李四去上海", &["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]),
        ];
        let vocabs = Vocabs::build(data.iter().map(|s| s.chars.as_slice()), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into()]);
        let model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_hyper(ModelConfig::sized(16, 2, 8))
            .init(&device);
        let examples: Vec<Example> = data
            .iter()
            .map(|s| Example::labelled(s, &vocabs, &tags).unwrap())
            .collect();
        let batch = Batch::new(&examples.iter().collect::<Vec<_>>(), &device);
        (model, batch, CrfConstraints::new(&tags, &device), device)
    }

    fn loss_setup(phase: Phase, constraints: &CrfConstraints, w: f64) -> LossSetup<'_> {
        LossSetup {
            phase,
            tau: 0.1,
            queries: Queries::Entities,
            contrast_weight: w,
            constraints,
            crf_on_host: true,
        }
    }

    #[test]
    fn the_joint_and_aux_values_are_the_nll_plus_the_weighted_infonce() {
        let (model, batch, c, _) = setup();
        // Without dropout the phases see the same representations.
        let model = model.valid();
        let batch = batch.without_autodiff();
        let frozen = Frozen::new(&model, false, true);
        let value = |p, w| {
            phase_loss(&model, &batch, &frozen, &loss_setup(p, &c, w))
                .unwrap()
                .value()
        };
        let (one, two, joint) = (
            value(Phase::Contrast, 1.0),
            value(Phase::Tagging, 0.0),
            value(Phase::Joint, 0.5),
        );
        assert!(one > 0.0 && two > 0.0);
        assert!(
            (joint - (two + 0.5 * one)).abs() < 1e-4 * joint,
            "{joint} vs {two} + 0.5 · {one}"
        );
        // Stage 2 with an auxiliary weight is the same sum; the joint phase at weight 0 is the NLL.
        assert!((value(Phase::Tagging, 0.5) - joint).abs() < 1e-4 * joint);
        assert!((value(Phase::Joint, 0.0) - two).abs() < 1e-4 * two);
        assert!(phase_loss(&model, &batch, &frozen, &loss_setup(Phase::Done, &c, 0.0)).is_none());
    }

    #[test]
    fn a_zero_encoder_rate_steps_the_head_and_leaves_the_encoder() {
        let (mut model, batch, c, _) = setup();
        let mut optim = make_optimizer(&StageConfig::stage2());
        let embed = |m: &Tagger| crate::host::tensor_values(m.embed.chars.weight.val());
        let head = |m: &Tagger| crate::host::tensor_values(m.head.weight.val());
        let (e0, h0) = (embed(&model), head(&model));
        let rates = StepRates {
            lr: 1e-2,
            encoder: Some(0.0),
            bert: None,
        };
        let setup = loss_setup(Phase::Tagging, &c, 0.0);
        for _ in 0..2 {
            let frozen = Frozen::new(&model, false, false);
            let loss = phase_loss(&model, &batch, &frozen, &setup).unwrap();
            model = apply_step(model, &mut optim, loss.tensor, rates);
        }
        assert_eq!(embed(&model), e0, "the encoder moved at rate 0");
        assert_ne!(head(&model), h0, "the head did not move");
    }

    #[test]
    fn steps_fit_a_batch_and_head_only_steps_leave_the_encoder_alone() {
        let (mut model, batch, c, _) = setup();
        let s = StageConfig {
            lr: 1e-2,
            ..StageConfig::stage2()
        };
        let mut optim = make_optimizer(&s);
        let embed = |m: &Tagger| crate::host::tensor_values(m.embed.chars.weight.val());
        let before = embed(&model);
        let setup = loss_setup(Phase::Tagging, &c, 0.0);
        let mut values = Vec::new();
        for _ in 0..3 {
            let frozen = Frozen::new(&model, true, false);
            let loss = phase_loss(&model, &batch, &frozen, &setup).unwrap();
            values.push(loss.value());
            model = apply_step(model, &mut optim, loss.tensor, StepRates::uniform(s.lr));
        }
        assert_eq!(
            embed(&model),
            before,
            "a head-only step moved the embeddings"
        );
        for _ in 0..30 {
            let frozen = Frozen::new(&model, false, false);
            let loss = phase_loss(&model, &batch, &frozen, &setup).unwrap();
            values.push(loss.value());
            model = apply_step(model, &mut optim, loss.tensor, StepRates::uniform(s.lr));
        }
        assert_ne!(embed(&model), before);
        let last = *values.last().unwrap();
        assert!(last < 0.2 * values[0], "loss {} → {last}", values[0]);
    }

    #[test]
    fn token_dropout_replaces_ids_with_unk_at_its_rate_and_draws_nothing_at_zero() {
        use rand::SeedableRng;
        let ex = Example {
            chars: vec![5; 2000],
            bigrams: vec![7; 2000],
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        let d = token_dropout(&ex, 0.25, &mut rng);
        let unk = d
            .chars
            .iter()
            .chain(&d.bigrams)
            .filter(|&&i| i == crate::vocab::UNK)
            .count();
        assert!((800..1200).contains(&unk), "{unk} of 4000");
        let (mut a, b) = (StdRng::seed_from_u64(2), StdRng::seed_from_u64(2));
        let _ = train_batch(&[ex], &[0], 0.0, &mut a, &Device::flex());
        assert_eq!(
            a, b,
            "no dropout, no draws: the epoch's stream is unchanged"
        );
    }

    #[test]
    fn a_gpu_path_step_reads_nothing_back_and_learns_as_the_cpu_path_does() {
        // The GPU path forced on the CPU backend: every phase's loss, the backward pass and the
        // optimiser step, with the loss summed on the device (read every 10 steps).
        let (model, batch, c, _) = setup();
        let s = StageConfig {
            lr: 1e-2,
            ..StageConfig::stage2()
        };
        for phase in [Phase::Contrast, Phase::Tagging, Phase::Joint] {
            let mut model = model.clone();
            let mut optim = make_optimizer(&s);
            let mut meter = crate::train::LossMeter::new(10);
            let setup = LossSetup {
                crf_on_host: false,
                ..loss_setup(phase, &c, 0.5)
            };
            let before = crate::host::reads();
            for _ in 0..3 {
                let frozen = Frozen::new(&model, false, false);
                let loss = phase_loss(&model, &batch, &frozen, &setup).unwrap();
                assert!(meter.add(&loss).is_none());
                model = apply_step(model, &mut optim, loss.tensor, StepRates::uniform(s.lr));
            }
            assert_eq!(
                crate::host::reads(),
                before,
                "{phase:?}: a GPU-path step read back"
            );
        }
        // The CPU path reads back every step: the emissions and the CRF's three score tables
        // (host forward–backward).
        let before = crate::host::reads();
        let frozen = Frozen::new(&model, false, false);
        let cpu = phase_loss(
            &model,
            &batch,
            &frozen,
            &loss_setup(Phase::Tagging, &c, 0.0),
        );
        assert_eq!(crate::host::reads(), before + 4);
        // Both paths give the same NLL (value and gradient are tested in model::crf).
        let gpu = LossSetup {
            crf_on_host: false,
            ..loss_setup(Phase::Tagging, &c, 0.0)
        };
        let model = model.valid();
        let batch = batch.without_autodiff();
        let frozen = Frozen::new(&model, false, false);
        let on_device = phase_loss(&model, &batch, &frozen, &gpu).unwrap().value();
        let on_host = phase_loss(
            &model,
            &batch,
            &frozen,
            &loss_setup(Phase::Tagging, &c, 0.0),
        )
        .unwrap()
        .value();
        assert!(cpu.is_some());
        assert!(
            (on_device - on_host).abs() < 1e-3 * on_host,
            "{on_device} vs {on_host}"
        );
    }
}
