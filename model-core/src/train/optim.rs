//! The optimiser of a phase and its step, with the encoder and the pretrained character encoder
//! at rates of their own.

use super::stage::{OptimizerKind, StageConfig};
use crate::model::Tagger;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

pub fn make_optimizer(s: &StageConfig) -> ModuleOptimizer {
    let clip = (s.clip > 0.0).then(|| GradientClippingConfig::Value(s.clip as f32));
    match s.optimizer {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(s.momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(
                (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32)),
            )
            .with_gradient_clipping(clip)
            .init(),
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_weight_decay(s.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

/// Back-propagate `loss` and step all of `model`'s parameters at `lr` (any module: the tagger,
/// or the masked-character model that pretraining trains).
pub fn backward_step<M: Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    loss: Tensor<1>,
    lr: f64,
) -> M {
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(lr, model, grads)
}

/// The learning rates of one step: the head (linear layer + CRF) at `lr`, the rest of the encoder
/// at `encoder` and the pretrained character encoder at `bert`; `None` means "with the part
/// around it" (`encoder` → `lr`, `bert` → the encoder's rate), and then its gradients are not
/// split off, so the defaults step exactly as one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRates {
    pub lr: f64,
    pub encoder: Option<f64>,
    pub bert: Option<f64>,
}

impl StepRates {
    /// Everything at `lr`.
    pub fn uniform(lr: f64) -> Self {
        Self {
            lr,
            encoder: None,
            bert: None,
        }
    }
}

/// Back-propagate `loss` and step the tagger at `rates`. Burn's optimiser takes one rate per
/// `step`, so the gradients of each part with its own rate are taken out first and stepped by
/// the same optimiser (its state is per parameter).
pub fn apply_step(
    model: Tagger,
    optim: &mut ModuleOptimizer,
    loss: Tensor<1>,
    rates: StepRates,
) -> Tagger {
    let mut grads = loss.backward();
    let bert_grads = match (&model.bert, rates.bert) {
        (Some(b), Some(_)) => Some(GradientsParams::from_module(&mut grads, b)),
        _ => None,
    };
    let head_grads = rates.encoder.map(|_| {
        (
            GradientsParams::from_module(&mut grads, &model.head),
            GradientsParams::from_module(&mut grads, &model.crf),
        )
    });
    let rest = GradientsParams::from_grads(grads, &model);
    let mut model = optim.step(rates.encoder.unwrap_or(rates.lr), model, rest);
    if let Some((linear, crf)) = head_grads {
        model = optim.step(rates.lr, model, linear);
        model = optim.step(rates.lr, model, crf);
    }
    if let (Some(g), Some(r)) = (bert_grads, rates.bert) {
        model = optim.step(r, model, g);
    }
    model
}
