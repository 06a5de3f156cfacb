//! The tiny Hugging Face BERT of `tests/fixtures/bert-tiny` (made by
//! `scripts/make_bert_fixture.py`) and `transformers`' outputs on it, for the unit tests.

use crate::host::tensor_values;
use burn::prelude::*;
use serde::Deserialize;

pub(crate) const CONFIG: &str = include_str!("../../../../tests/fixtures/bert-tiny/config.json");
pub(crate) const WEIGHTS: &[u8] =
    include_bytes!("../../../../tests/fixtures/bert-tiny/model.safetensors");
pub(crate) const VOCAB: &str = include_str!("../../../../tests/fixtures/bert-tiny/vocab.txt");
const REFERENCE: &str = include_str!("../../../../tests/fixtures/bert-tiny/reference.json");

#[derive(Deserialize)]
pub(crate) struct Reference {
    pub(crate) texts: Vec<String>,
    pub(crate) input_ids: Vec<Vec<i64>>,
    pub(crate) attention_mask: Vec<Vec<u8>>,
    pub(crate) last_hidden_state: Vec<Vec<Vec<f32>>>,
}

impl Reference {
    pub(crate) fn load() -> Self {
        serde_json::from_str(REFERENCE).unwrap()
    }
}

pub(crate) fn inputs(r: &Reference, device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let (b, l) = (r.input_ids.len(), r.input_ids[0].len());
    let ids: Vec<i64> = r.input_ids.concat();
    let pad: Vec<bool> = r.attention_mask.concat().iter().map(|&m| m == 0).collect();
    (
        Tensor::from_data(TensorData::new(ids, [b, l]), device),
        Tensor::from_data(TensorData::new(pad, [b, l]), device),
    )
}

/// Max |ours − reference| over the real (unpadded) positions, and over all positions.
pub(crate) fn max_diff(out: Tensor<3>, r: &Reference) -> (f32, f32) {
    let [_, l, h] = out.dims();
    let v = tensor_values(out);
    let (mut real, mut all) = (0f32, 0f32);
    for (s, rows) in r.last_hidden_state.iter().enumerate() {
        for (t, row) in rows.iter().enumerate() {
            for (k, x) in row.iter().enumerate() {
                let d = (v[(s * l + t) * h + k] - x).abs();
                all = all.max(d);
                if r.attention_mask[s][t] == 1 {
                    real = real.max(d);
                }
            }
        }
    }
    (real, all)
}
