//! What a pretraining run writes: the Hugging Face directory (`config.json`, `vocab.txt`,
//! `model.safetensors`), the checkpoint it resumes from, and the final `pretrain.json`.

use super::PretrainSettings;
use crate::checkpoint::save_optimizer;
use crate::run_dir::{write_atomic, write_json};
use anyhow::Result;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use model_core::model::BertConfig;
use model_core::model::mlm::BertMlm;
use model_core::vocab::BertVocab;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Progress, written after each save; `checkpoint/state.json` names a complete directory.
#[derive(Serialize, Deserialize)]
pub(super) struct PretrainState {
    pub settings: PretrainSettings,
    pub step: usize,
    pub seconds: f64,
    pub chars_seen: usize,
    pub log: Vec<LogPoint>,
}

/// One line of the training log.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct LogPoint {
    pub step: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub held_out_loss: Option<f64>,
    pub held_out_accuracy: Option<f64>,
    pub lr: f64,
    pub seconds: f64,
}

/// `pretrain.json`: the settings, the data and model sizes, speed and the log.
#[derive(Serialize)]
pub(super) struct PretrainReport {
    pub settings: PretrainSettings,
    pub characters: usize,
    pub pieces: usize,
    pub held_out_pieces: usize,
    pub vocab_size: usize,
    pub parameters: usize,
    pub steps: usize,
    pub seconds: f64,
    pub characters_per_second: f64,
    pub log: Vec<LogPoint>,
}

pub(super) fn state_path(out: &Path) -> PathBuf {
    out.join("checkpoint").join("state.json")
}

pub(super) fn optimizer_path(out: &Path) -> PathBuf {
    out.join("checkpoint").join("optim.bpk")
}

/// `config.json` as `transformers` writes it for a `BertForMaskedLM`.
fn hf_config(cfg: &BertConfig) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(cfg)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "architectures".into(),
            serde_json::json!(["BertForMaskedLM"]),
        );
        o.insert("pad_token_id".into(), serde_json::json!(0));
        o.insert("initializer_range".into(), serde_json::json!(0.02));
        o.insert("tie_word_embeddings".into(), serde_json::json!(true));
    }
    Ok(v)
}

/// The Hugging Face directory: what `[model] char_encoder` loads.
fn save_model(out: &Path, cfg: &BertConfig, vocab: &BertVocab, model: &BertMlm) -> Result<()> {
    write_json(&out.join("config.json"), &hf_config(cfg)?)?;
    let mut text = vocab.tokens().join("\n");
    text.push('\n');
    write_atomic(&out.join("vocab.txt"), text.as_bytes())?;
    write_atomic(
        &out.join("model.safetensors"),
        &model.valid().to_safetensors()?,
    )
}

/// The model directory, then the optimiser, then the state that names them (written last, so a
/// state always points at complete files).
pub(super) fn save_checkpoint(
    out: &Path,
    (cfg, vocab): (&BertConfig, &BertVocab),
    model: &BertMlm,
    optim: &ModuleOptimizer,
    state: &PretrainState,
) -> Result<()> {
    save_model(out, cfg, vocab, model)?;
    save_optimizer(optim, &optimizer_path(out))?;
    write_json(&state_path(out), state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_json_is_a_transformers_bert_for_masked_lm() {
        let cfg = BertConfig::new(40, 32, 2, 4, 64, 18);
        let v = hf_config(&cfg).unwrap();
        assert_eq!(v["architectures"], serde_json::json!(["BertForMaskedLM"]));
        assert_eq!(v["tie_word_embeddings"], true);
        assert_eq!(v["hidden_size"], 32);
        assert_eq!(v["vocab_size"], 40);
        assert_eq!(v["max_position_embeddings"], 18);
    }
}
