//! The optimiser of a phase and its step, with the pretrained character encoder at its own rate.

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

/// Back-propagate `loss` and step the tagger at `lr`. When `encoder_lr` is given, the pretrained
/// character encoder's gradients are taken out first and stepped at that rate by the same
/// optimiser (its state is per parameter).
pub fn apply_step(
    model: Tagger,
    optim: &mut ModuleOptimizer,
    loss: Tensor<1>,
    lr: f64,
    encoder_lr: Option<f64>,
) -> Tagger {
    let mut grads = loss.backward();
    let bert_grads = match (&model.bert, encoder_lr) {
        (Some(b), Some(_)) => Some(GradientsParams::from_module(&mut grads, b)),
        _ => None,
    };
    let grads = GradientsParams::from_grads(grads, &model);
    let mut model = optim.step(lr, model, grads);
    if let (Some(g), Some(r)) = (bert_grads, encoder_lr) {
        model = optim.step(r, model, g);
    }
    model
}
