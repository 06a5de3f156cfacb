//! Masked-character language modelling: BERT's pretraining objective over single characters, to
//! pretrain the character encoder on unlabelled text (`nerco pretrain`). The head is BERT's own
//! (dense → GELU → LayerNorm → logits tied to the word embeddings + bias), so the result saves as
//! a Hugging Face `BertForMaskedLM` checkpoint.

use super::bert::names::{self, FOR_HEADS_PREFIX};
use super::bert::weights::{Reader, Writer};
use super::bert::{Bert, BertConfig, BertError};
use burn::module::Param;
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, log_softmax};
use rand::Rng;

#[derive(Module, Debug)]
pub struct BertMlm {
    pub(crate) bert: Bert,
    pub(crate) transform: Linear,
    pub(crate) norm: LayerNorm,
    pub(crate) bias: Param<Tensor<1>>,
}

impl BertConfig {
    /// A randomly initialised BERT with a masked-LM head.
    pub fn init_mlm(&self, device: &Device) -> BertMlm {
        BertMlm {
            bert: self.init(device),
            transform: LinearConfig::new(self.hidden_size, self.hidden_size)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            norm: LayerNormConfig::new(self.hidden_size)
                .with_epsilon(self.layer_norm_eps)
                .init(device),
            bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
        }
    }
}

impl BertConfig {
    /// A BERT with its masked-LM head from a `BertForMaskedLM` safetensors file (what
    /// [`BertMlm::to_safetensors`] writes), to continue pretraining.
    pub fn load_mlm(&self, safetensors: &[u8], device: &Device) -> Result<BertMlm, BertError> {
        let mut mlm = self.init_mlm(device);
        mlm.bert = self.load(safetensors, device)?;
        let mut reader = Reader::new(safetensors, device)?;
        names::mlm_head(
            &mut reader,
            &mut mlm.transform,
            &mut mlm.norm,
            &mut mlm.bias,
        )?;
        Ok(mlm)
    }
}

/// A masked batch: inputs `[batch, len]` with padding mask, and the masked positions (flat row
/// indices into `batch × len`) with their original ids.
pub struct MaskedBatch {
    pub(crate) ids: Tensor<2, Int>,
    pub(crate) pad: Tensor<2, Bool>,
    pub(crate) rows: Tensor<1, Int>,
    pub(crate) targets: Tensor<1, Int>,
    pub n_masked: usize,
}

/// Which ids masking may draw from and write.
#[derive(Clone, Copy, Debug)]
pub struct MaskingSpec {
    pub mask_id: usize,
    /// Random replacements are drawn from `random_from..vocab_size` (the non-special tokens).
    pub random_from: usize,
    pub vocab_size: usize,
    /// Fraction of positions to predict (BERT: 0.15).
    pub prob: f64,
}

/// BERT's masking of one sequence. Positions `0` and `len - 1` (`[CLS]`, `[SEP]`) are never
/// chosen; each inner position is chosen with probability `prob` (at least one per sequence);
/// a chosen position becomes `[MASK]` 80 % of the time, a random token 10 %, itself 10 %.
/// Returns the input ids and the chosen `(position, original id)` pairs.
pub(crate) fn mask_sequence(
    ids: &[usize],
    spec: &MaskingSpec,
    rng: &mut impl Rng,
) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut input = ids.to_vec();
    let mut chosen: Vec<usize> = Vec::new();
    if ids.len() < 3 {
        return (input, Vec::new());
    }
    let inner = 1..ids.len() - 1;
    for p in inner.clone() {
        if rng.random_bool(spec.prob) {
            chosen.push(p);
        }
    }
    if chosen.is_empty() {
        chosen.push(rng.random_range(inner));
    }
    let targets: Vec<(usize, usize)> = chosen.iter().map(|&p| (p, ids[p])).collect();
    for p in chosen {
        let r: f64 = rng.random();
        if r < 0.8 {
            input[p] = spec.mask_id;
        } else if r < 0.9 && spec.random_from < spec.vocab_size {
            input[p] = rng.random_range(spec.random_from..spec.vocab_size);
        }
    }
    (input, targets)
}

impl MaskedBatch {
    /// Mask and pad `sequences` (each `[CLS] … [SEP]`); padding id 0 is masked out.
    pub fn new(
        sequences: &[&[usize]],
        spec: &MaskingSpec,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        let b = sequences.len();
        let l = sequences.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
        let mut ids = vec![0i64; b * l];
        let mut pad = vec![true; b * l];
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (i, s) in sequences.iter().enumerate() {
            let (input, chosen) = mask_sequence(s, spec, rng);
            for (t, id) in input.into_iter().enumerate() {
                ids[i * l + t] = id as i64;
                pad[i * l + t] = false;
            }
            for (p, target) in chosen {
                rows.push((i * l + p) as i64);
                targets.push(target as i64);
            }
        }
        let m = rows.len();
        Self {
            ids: Tensor::from_data(TensorData::new(ids, [b, l]), device),
            pad: Tensor::from_data(TensorData::new(pad, [b, l]), device),
            rows: Tensor::from_data(TensorData::new(rows, [m]), device),
            targets: Tensor::from_data(TensorData::new(targets, [m]), device),
            n_masked: m,
        }
    }
}

impl BertMlm {
    /// Vocabulary logits `[masked, vocab]` at the batch's masked positions.
    pub(crate) fn logits(&self, batch: &MaskedBatch) -> Tensor<2> {
        let h = self.bert.forward(batch.ids.clone(), batch.pad.clone());
        let [b, l, d] = h.dims();
        let picked = h.reshape([b * l, d]).select(0, batch.rows.clone());
        let x = self.norm.forward(gelu(self.transform.forward(picked)));
        x.matmul(self.bert.word.weight.val().transpose()) + self.bias.val().unsqueeze_dim(0)
    }

    /// Mean cross-entropy over the masked positions, and how many were predicted right.
    pub fn loss(&self, batch: &MaskedBatch) -> (Tensor<1>, usize) {
        let logits = self.logits(batch);
        let m = batch.n_masked;
        let correct = logits
            .clone()
            .argmax(1)
            .reshape([m])
            .equal(batch.targets.clone())
            .int()
            .sum()
            .into_scalar::<i64>() as usize;
        let nll = log_softmax(logits, 1)
            .gather(1, batch.targets.clone().reshape([m, 1]))
            .neg()
            .mean();
        (nll, correct)
    }

    /// A Hugging Face `BertForMaskedLM` safetensors file (`bert.` encoder, `cls.predictions`
    /// head; the decoder is tied to the word embeddings, as `transformers` saves it).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, BertError> {
        let mut writer = Writer::default();
        // The walks take parameters mutably (loading fills them); a clone shares their storage.
        let mut m = self.clone();
        names::encoder(&mut writer, FOR_HEADS_PREFIX, &mut m.bert)?;
        names::mlm_head(&mut writer, &mut m.transform, &mut m.norm, &mut m.bias)?;
        Ok(writer.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tensor_values;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn spec() -> MaskingSpec {
        MaskingSpec {
            mask_id: 4,
            random_from: 5,
            vocab_size: 30,
            prob: 0.15,
        }
    }

    #[test]
    fn masking_follows_bert_proportions_and_spares_the_ends() {
        let mut rng = StdRng::seed_from_u64(1);
        let seq: Vec<usize> = std::iter::once(2)
            .chain((0..200).map(|i| 5 + i % 25))
            .chain(std::iter::once(3))
            .collect();
        let (mut chosen, mut masked, mut kept) = (0usize, 0usize, 0usize);
        for _ in 0..200 {
            let (input, targets) = mask_sequence(&seq, &spec(), &mut rng);
            assert_eq!((input[0], input[201]), (2, 3));
            for (p, t) in targets {
                assert!((1..201).contains(&p));
                assert_eq!(t, seq[p]);
                chosen += 1;
                masked += usize::from(input[p] == 4);
                kept += usize::from(input[p] == seq[p]);
            }
        }
        let rate = chosen as f64 / (200.0 * 200.0);
        assert!((rate - 0.15).abs() < 0.01, "masking rate {rate}");
        let m = masked as f64 / chosen as f64;
        // Kept = the 10 % left alone plus random draws that hit the original (1/25 of 10 %).
        let k = kept as f64 / chosen as f64;
        assert!((m - 0.8).abs() < 0.02, "[MASK] share {m}");
        assert!((k - 0.104).abs() < 0.02, "unchanged share {k}");
        // A short sequence still gets one target; one without inner tokens gets none.
        assert_eq!(mask_sequence(&[2, 7, 3], &spec(), &mut rng).1.len(), 1);
        assert!(mask_sequence(&[2, 3], &spec(), &mut rng).1.is_empty());
    }

    #[test]
    fn an_untrained_mlm_is_near_uniform_and_saves_as_huggingface() {
        let device = Device::flex();
        device.seed(5);
        let cfg = BertConfig::new(30, 16, 1, 2, 32, 16);
        let model = cfg.init_mlm(&device);
        let mut rng = StdRng::seed_from_u64(2);
        let seqs: Vec<Vec<usize>> = (0..8)
            .map(|k| [2, 5 + k, 6 + k, 7 + k, 8 + k, 3].to_vec())
            .collect();
        let refs: Vec<&[usize]> = seqs.iter().map(Vec::as_slice).collect();
        let batch = MaskedBatch::new(&refs, &spec(), &mut rng, &device);
        assert!(batch.n_masked >= 8);
        let (loss, correct) = model.loss(&batch);
        // Small initial weights: close to the uniform cross-entropy ln(30).
        let loss = loss.into_scalar::<f32>();
        assert!((loss - 30f32.ln()).abs() < 0.5, "initial loss {loss}");
        assert!(correct <= batch.n_masked);

        let bytes = model.to_safetensors().unwrap();
        let st = Reader::new(&bytes, &device).unwrap();
        assert!(st.contains("bert.encoder.layer.0.attention.self.query.weight"));
        assert_eq!(st.shape("cls.predictions.bias"), Some(vec![30usize]));
        let loaded = cfg.load(&bytes, &device).unwrap();
        let again = cfg.load_mlm(&bytes, &device).unwrap();
        let (a, _) = model.loss(&batch);
        let (b, _) = again.loss(&batch);
        // Same weights; the parallel reductions may sum in another order, so not bit for bit.
        let (a, b) = (a.into_scalar::<f32>(), b.into_scalar::<f32>());
        assert!((a - b).abs() <= 1e-5 * a.abs(), "{a} vs {b}");
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![2i64, 5, 6, 3], [1, 4]), &device);
        let pad = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; 4], [1, 4]), &device);
        let x = tensor_values(model.bert.forward(ids.clone(), pad.clone()));
        let y = tensor_values(loaded.forward(ids, pad));
        assert_eq!(x.len(), y.len());
        assert!(
            x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-5),
            "reloaded encoder differs"
        );
    }
}
