//! `nerco bench`: the speed figures of `docs/BENCHMARKS.md`, each measured side by side in one
//! run (interleaved repetitions, median of at least five).
//!
//! Suites:
//! - `infonce`: the vectorised InfoNCE against the reference's per-class `P × (P−1) × (1+N)` form,
//!   both written in Burn, forward + backward on the autodiff CPU device.
//! - `crf`: CRF NLL by the autodiff forward algorithm, by host forward–backward (`nll_fast`), and
//!   host Viterbi, against sequence length.
//! - `inference`: `Pipeline::tags` sentences/s on the MSRA test set, by batch size, and peak RSS;
//!   the same model and batches in PyTorch (`bench/torch_tagger.py --infer`), alternating.
//! - `train`: stage 1 (InfoNCE) and stage 2 (CRF) training tokens/s on Resume batches, against
//!   the same model in PyTorch (`bench/torch_tagger.py`), alternating runs.
//! - `bert`: a BERT-base-sized character encoder, forward and forward + backward tokens/s.
//! - `binder`: tagging with Binder's span head against the CRF head, same encoder and sentences.
//!
//! Each suite rewrites its own section of the report, between `<!-- BEGIN name -->` and
//! `<!-- END name -->` markers, and leaves the others alone.

mod bert;
mod binder;
mod crf;
mod inference;
mod infonce;
mod section;
mod timing;
mod train;

pub use infonce::info_nce_per_class;

use crate::machine::load_avg;
use anyhow::{Result, bail};
use burn::prelude::*;
use std::path::Path;

const SUITES: [&str; 6] = ["inference", "infonce", "crf", "train", "bert", "binder"];

/// Runs one suite (`None` or `all`: every suite) and rewrites its section of `report`. `gpu`:
/// the device is a GPU's, so training steps take the GPU path (the CRF on the device).
pub fn run(suite: Option<&str>, report: &Path, device: &Device, gpu: bool) -> Result<()> {
    let suites: Vec<&str> = match suite {
        None | Some("all") => SUITES.to_vec(),
        Some(s) if SUITES.contains(&s) => vec![s],
        Some(s) => bail!("unknown bench suite `{s}`; one of {}", SUITES.join(", ")),
    };
    // Inference first: its peak-memory figure should not inherit the other suites' peaks.
    for s in suites {
        eprintln!("== bench {s} (load {})", load_avg());
        let head = section::header(s);
        let body = match s {
            "inference" => inference::run(device)?,
            "infonce" => infonce::run(device)?,
            "crf" => crf::run(device)?,
            "train" => train::run(device, gpu)?,
            "bert" => bert::run(device)?,
            "binder" => binder::run(device)?,
            _ => unreachable!("suite names are checked above"),
        };
        let section = format!("{head}\n{body}");
        println!("{section}");
        section::write_section(report, s, &section)?;
        eprintln!("wrote section `{s}` of {}", report.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_suite_is_an_error_listing_the_suites() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("B.md");
        let err = run(Some("gpu"), &report, &Device::flex(), false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown bench suite `gpu`; one of inference, infonce, crf, train, bert, binder"
        );
        assert!(!report.exists());
    }
}
