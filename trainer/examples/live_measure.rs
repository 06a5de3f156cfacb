//! What the page's live trainer shows, measured natively: the demo config (`LiveConfig::demo`)
//! on the Resume live sample (`nerco export`'s rule: the first 300 training and 100 test
//! sentences of at most 60 characters with an entity), NerCo stage 1 and no-contrast from one
//! seed: held-out kNN purity and silhouette at the start and after each epoch, ms per step.
//!   cargo run --release -p trainer --example live_measure [-- SEED [N_TRAIN [OUT]]]
//! With OUT it also writes the sample there (how `static/models/resume/live-sample.json` was made
//! without re-exporting the committed bundle; `nerco export` writes the same file).

use burn::prelude::*;
use model_core::data::{Scheme, read_conll};
use model_core::train::Recipe;
use nerco_web::live::{LiveConfig, LiveSample, LiveTrainer};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).map_or(Ok(42), |s| s.parse())?;
    let n_train: usize = args.get(2).map_or(Ok(300), |s| s.parse())?;
    let train = read_conll("data/resume/train.char.bmes".as_ref())?;
    let test = read_conll("data/resume/test.char.bmes".as_ref())?;
    let json = trainer::export::live_sample(&train, &test, (n_train, 100), Scheme::Bmes);
    let sample: LiveSample = serde_json::from_value(json.clone())?;
    if let Some(out) = args.get(3) {
        std::fs::write(out, serde_json::to_string(&json)?)?;
    }
    println!(
        "sample: {} train, {} held-out sentences, {} bytes of JSON",
        sample.train.len(),
        sample.held_out.len(),
        serde_json::to_string(&json)?.len()
    );
    for recipe in [Recipe::Nerco, Recipe::NoContrast] {
        let mut t = LiveTrainer::new(&sample, LiveConfig::demo(), recipe, seed, &Device::flex())?;
        let q = t.points(false).held_out_quality()?;
        println!(
            "{}: {} parameters, {} steps; start kNN {:.3} silhouette {:.3} ({} entity tokens)",
            recipe.name(),
            t.num_params(),
            t.total_steps(),
            q.knn_purity,
            q.silhouette,
            q.entity_tokens
        );
        let per_epoch = t.total_steps() / 5;
        let (mut train_s, mut frame_s) = (0.0, 0.0);
        for epoch in 1..=5 {
            let t0 = Instant::now();
            let r = t.step(per_epoch)?;
            train_s += t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let q = t.points(false).held_out_quality()?;
            frame_s += t1.elapsed().as_secs_f64();
            let loss: Vec<f64> = r.iter().filter_map(|s| s.loss).collect();
            println!(
                "  epoch {epoch}: loss {:.3}, kNN {:.3}, silhouette {:.3}",
                loss.iter().sum::<f64>() / loss.len().max(1) as f64,
                q.knn_purity,
                q.silhouette
            );
        }
        println!(
            "  {:.1} ms per step, {:.0} ms per frame (points + quality), stage wall {:.1} s",
            1000.0 * train_s / t.steps() as f64,
            1000.0 * frame_s / 5.0,
            train_s
        );
    }
    Ok(())
}
