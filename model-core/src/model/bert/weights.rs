//! Hugging Face `model.safetensors` bytes ↔ BERT parameters, through the `safetensors` crate
//! (bytes only, no file system, so the web build can load Hugging Face weights too). F32, F16
//! and BF16 tensors read as f32, each checked against the shape of the parameter it fills;
//! writing stores F32.

use super::names::{self, HfName, Visitor};
use super::{Bert, BertConfig, BertError, TensorError};
use crate::host::tensor_values;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

impl BertConfig {
    /// A BERT with the weights of a Hugging Face `model.safetensors` (f32, f16 or bf16), with or
    /// without the `bert.` prefix of `BertFor*` checkpoints.
    pub fn load(&self, safetensors: &[u8], device: &Device) -> Result<Bert, BertError> {
        self.validate()?;
        let mut reader = Reader::new(safetensors, device)?;
        let prefix = names::encoder_prefix(|n| reader.contains(n));
        let mut bert = self.init(device);
        names::encoder(&mut reader, prefix, &mut bert)?;
        Ok(bert)
    }
}

impl Bert {
    /// The weights as the `model.safetensors` of a Hugging Face `BertModel` (no name prefix).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, BertError> {
        let mut writer = Writer::default();
        // The walk takes parameters mutably (loading fills them); a clone shares their storage.
        names::encoder(&mut writer, "", &mut self.clone())?;
        Ok(writer.finish()?)
    }
}

/// Fills each visited parameter from a parsed file.
pub(crate) struct Reader<'a> {
    st: SafeTensors<'a>,
    device: &'a Device,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], device: &'a Device) -> Result<Self, TensorError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| TensorError::Format(e.to_string()))?;
        Ok(Self { st, device })
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    /// The stored shape of `name`, if it is there.
    #[cfg(test)]
    pub(crate) fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.st.tensor(name).ok().map(|t| t.shape().to_vec())
    }

    /// The tensor `name` as f32 values, checked against `expected` shape.
    pub(crate) fn f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, TensorError> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| TensorError::Missing(name.to_string()))?;
        if t.shape() != expected {
            return Err(TensorError::Shape {
                name: name.to_string(),
                found: t.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        let two = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
        // The crate has checked that the byte range holds exactly shape × dtype width.
        let raw = t.data();
        Ok(match t.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| f16::from_bits(two(c)).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| bf16::from_bits(two(c)).to_f32())
                .collect(),
            other => {
                return Err(TensorError::DType {
                    name: name.to_string(),
                    dtype: other.to_string(),
                });
            }
        })
    }
}

impl Visitor for Reader<'_> {
    fn visit<const D: usize>(
        &mut self,
        hf: &HfName,
        param: &mut Param<Tensor<D>>,
    ) -> Result<(), TensorError> {
        let name = match &hf.legacy {
            Some(old) if !self.contains(&hf.name) && self.contains(old) => old,
            _ => &hf.name,
        };
        // The shape the parameter was initialised with, read without initialising it.
        let mut shape = param.lazy_shape().to_vec();
        if hf.transposed {
            shape.reverse();
        }
        let values = self.f32(name, &shape)?;
        let t = Tensor::<D>::from_data(TensorData::new(values, shape), self.device);
        *param = Param::from_tensor(if hf.transposed { t.transpose() } else { t });
        Ok(())
    }
}

/// Collects each visited parameter as an F32 tensor.
#[derive(Default)]
pub(crate) struct Writer {
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
}

impl Visitor for Writer {
    fn visit<const D: usize>(
        &mut self,
        hf: &HfName,
        param: &mut Param<Tensor<D>>,
    ) -> Result<(), TensorError> {
        let t = param.val();
        let t = if hf.transposed { t.transpose() } else { t };
        let shape = t.dims().to_vec();
        let bytes = tensor_values(t)
            .into_iter()
            .flat_map(f32::to_le_bytes)
            .collect();
        self.tensors.push((hf.name.clone(), shape, bytes));
        Ok(())
    }
}

impl Writer {
    /// The safetensors file: tensors in name order, `{"format": "pt"}` metadata as PyTorch
    /// writes it (`transformers` checks it).
    pub(crate) fn finish(self) -> Result<Vec<u8>, TensorError> {
        let err = |e: safetensors::SafeTensorError| TensorError::Write(e.to_string());
        let views = self
            .tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        // `collect` builds whichever map the crate's build (std or no-std) expects.
        let metadata = [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect();
        safetensors::serialize(views, Some(metadata)).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{CONFIG, Reference, WEIGHTS, inputs};
    use super::*;

    fn write(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
        let tensors = tensors
            .iter()
            .map(|(n, s, v)| {
                let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                (n.to_string(), s.clone(), bytes)
            })
            .collect();
        Writer { tensors }.finish().unwrap()
    }

    #[test]
    fn half_precision_tensors_read_as_f32() {
        let device = Device::flex();
        let vals = [1.5f32, -0.25];
        let mut data = Vec::new();
        for v in vals {
            data.extend(f16::from_f32(v).to_le_bytes());
        }
        for v in vals {
            data.extend(bf16::from_f32(v).to_le_bytes());
        }
        data.extend([0u8; 8]);
        let head = br#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#;
        let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(head);
        bytes.extend(data);
        let st = Reader::new(&bytes, &device).unwrap();
        assert_eq!(st.f32("h", &[2]).unwrap(), vals);
        assert_eq!(st.f32("b", &[2]).unwrap(), vals);
        let e = st.f32("i", &[1]).unwrap_err().to_string();
        assert!(e.contains("`i`") && e.contains("I64"), "{e}");
    }

    #[test]
    fn written_files_read_back_and_bad_input_is_named() {
        let device = Device::flex();
        let bytes = write(&[
            ("b", vec![2], vec![3.0, 4.0]),
            ("a", vec![1, 2], vec![1.0, -2.5]),
        ]);
        let st = Reader::new(&bytes, &device).unwrap();
        assert_eq!(st.f32("a", &[1, 2]).unwrap(), vec![1.0, -2.5]);
        assert_eq!(st.f32("b", &[2]).unwrap(), vec![3.0, 4.0]);
        let shape = st.f32("a", &[2]).unwrap_err().to_string();
        assert!(shape.contains("`a`") && shape.contains("[1, 2]"), "{shape}");
        assert!(
            st.f32("c", &[1])
                .unwrap_err()
                .to_string()
                .contains("`c` is missing")
        );
        assert!(Reader::new(&bytes[..5], &device).is_err());
        assert!(Reader::new(&bytes[..bytes.len() - 4], &device).is_err());
        let mut bad = bytes.clone();
        bad[8] = b'!';
        assert!(Reader::new(&bad, &device).is_err());
        // Written as PyTorch writes it: `transformers` refuses files without the format.
        let (n, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        assert!(n % 8 == 0);
        let format = meta.metadata().as_ref().and_then(|m| m.get("format"));
        assert_eq!(format.map(String::as_str), Some("pt"));
    }

    #[test]
    fn written_weights_load_back_identically_without_the_prefix() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        let bert = cfg.load(WEIGHTS, &device).unwrap();
        let bytes = bert.to_safetensors().unwrap();
        let written = Reader::new(&bytes, &device).unwrap();
        assert!(!written.contains("bert.embeddings.word_embeddings.weight"));
        assert!(written.contains("embeddings.word_embeddings.weight"));
        let again = cfg.load(&bytes, &device).unwrap();
        let r = Reference::load();
        let (ids, pad) = inputs(&r, &device);
        let a = tensor_values(bert.forward(ids.clone(), pad.clone()));
        let b = tensor_values(again.forward(ids, pad));
        assert_eq!(a, b);
    }

    #[test]
    fn tensorflow_layer_norm_names_load_as_the_pytorch_ones() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        let bert = cfg.load(WEIGHTS, &device).unwrap();
        let mut writer = Writer::default();
        names::encoder(&mut writer, "bert.", &mut bert.clone()).unwrap();
        for (name, _, _) in &mut writer.tensors {
            if name.contains("LayerNorm") {
                *name = name.replace(".weight", ".gamma").replace(".bias", ".beta");
            }
        }
        let bytes = writer.finish().unwrap();
        let again = cfg.load(&bytes, &device).unwrap();
        let r = Reference::load();
        let (ids, pad) = inputs(&r, &device);
        let a = tensor_values(bert.forward(ids.clone(), pad.clone()));
        assert_eq!(a, tensor_values(again.forward(ids, pad)));
    }

    #[test]
    fn bad_weights_are_reported_by_name() {
        let device = Device::flex();
        let cfg = BertConfig::from_json(CONFIG).unwrap();
        // Wrong shape: a config with a wider intermediate layer than the weights.
        let mut wide = cfg.clone();
        wide.intermediate_size = 65;
        let e = wide.load(WEIGHTS, &device).unwrap_err().to_string();
        assert!(
            e.contains("bert.encoder.layer.0.intermediate.dense.weight") && e.contains("[64, 32]"),
            "{e}"
        );
        // Missing tensor: one layer more than stored.
        let mut deep = cfg.clone();
        deep.num_hidden_layers = 3;
        let e = deep.load(WEIGHTS, &device).unwrap_err().to_string();
        assert!(
            e.contains("bert.encoder.layer.2.attention.self.query.weight"),
            "{e}"
        );
        assert!(cfg.load(&WEIGHTS[..100], &device).is_err());
    }
}
