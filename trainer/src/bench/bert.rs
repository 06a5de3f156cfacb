//! Suite `bert`: a BERT-base-sized character encoder (12 layers × 768, 12 heads, feed-forward
//! 3072, the vocabulary of bert-base-chinese), random weights, forward and forward + backward
//! tokens/s on the run's device — what fine-tuning a pretrained Chinese BERT (the paper's
//! setting) costs per token here.

use super::timing::{REPS, median, ms};
use crate::machine::load_avg;
use anyhow::Result;
use burn::prelude::*;
use burn::tensor::Distribution;
use model_core::model::BertConfig;
use std::fmt::Write as _;
use std::time::Instant;

/// bert-base-chinese's shape.
const VOCAB: usize = 21128;
const HIDDEN: usize = 768;
const LAYERS: usize = 12;
const HEADS: usize = 12;
const FF: usize = 3072;
const POSITIONS: usize = 512;
/// Batch × length of each step: 8 sentences of 128 tokens (a GPU run may raise the batch with
/// `NERCO_BERT_BATCH`).
const LEN: usize = 128;

fn batch_size() -> usize {
    std::env::var("NERCO_BERT_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&b| b > 0)
        .unwrap_or(8)
}

pub fn run(device: &Device) -> Result<String> {
    let b = batch_size();
    let config = BertConfig::new(VOCAB, HIDDEN, LAYERS, HEADS, FF, POSITIONS);
    device.seed(1);
    let ids = |device: &Device| {
        Tensor::<2, Int>::random([b, LEN], Distribution::Uniform(0.0, VOCAB as f64), device)
    };
    let pad = |device: &Device| {
        Tensor::<2, Bool>::from_data(TensorData::new(vec![false; b * LEN], [b, LEN]), device)
    };
    let plain = config.init(device);
    let ad = device.clone().autodiff();
    let trained = config.init(&ad);
    let n_params: usize = burn::module::Module::num_params(&plain);
    let forward = || {
        let t = Instant::now();
        // One read waits for the device: the time is the whole pass, not its enqueueing.
        let out = plain.forward(ids(device), pad(device));
        model_core::host::tensor_values(out.sum());
        ms(t)
    };
    let backward = || {
        let t = Instant::now();
        let out = trained.forward(ids(&ad), pad(&ad));
        let grads = out.mean().backward();
        let w = trained
            .word
            .weight
            .grad(&grads)
            .expect("the word table trains");
        model_core::host::tensor_values(w.sum());
        ms(t)
    };
    // Warm-up (kernel compilation and autotuning on a GPU), then alternate the two passes.
    forward();
    backward();
    let (mut f, mut fb) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        f.push(forward());
        fb.push(backward());
    }
    let tokens = (b * LEN) as f64;
    let tps = |v: &[f64]| tokens / (median(v) / 1e3);
    let runs = |v: &[f64]| {
        v.iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    writeln!(
        out,
        "A BERT-base-sized encoder ({LAYERS} layers × {HIDDEN}, {HEADS} heads, feed-forward {FF}, \
         vocabulary {VOCAB}: {:.1} M parameters) with random weights on this run's device, batches \
         of {b} × {LEN} random token ids, no padding; the time of a pass includes reading one \
         scalar back (so the device has finished). Forward = inference mode; forward + backward = \
         autodiff, gradients of every weight. Warm-up pass first, then the two alternate; median of \
         {REPS}. Load after: {}.\n",
        n_params as f64 / 1e6,
        load_avg()
    )?;
    writeln!(
        out,
        "| pass | ms per batch (median) | tokens/s | runs (ms) |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    for (name, v) in [("forward", &f), ("forward + backward", &fb)] {
        writeln!(
            out,
            "| {name} | {:.0} | **{:.0}** | {} |",
            median(v),
            tps(v),
            runs(v)
        )?;
    }
    Ok(out)
}
