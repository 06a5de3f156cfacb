//! Weight files: a tagger to burnpack bytes (f32, or f16 to halve a web bundle) and back. Loading
//! casts whatever was stored to the model's own dtype, so f16 and f32 files load alike.

use crate::model::{Tagger, TaggerConfig};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::FloatDType;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("not a valid weight file: {0}")]
    Format(String),
    #[error("the weights do not fit this model: {0}")]
    Mismatch(String),
}

struct CastFloats(FloatDType);

impl ModuleMapper for CastFloats {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| t.cast(dtype))
    }
}

/// Burnpack bytes of the tagger's weights, stored as f16 when `half`.
pub fn to_bytes(tagger: &Tagger, half: bool) -> Result<Vec<u8>, WeightsError> {
    let model = if half {
        tagger.clone().map(&mut CastFloats(FloatDType::F16))
    } else {
        tagger.clone()
    };
    let bytes = model
        .into_record()
        .into_bytes()
        .map_err(|e| WeightsError::Format(format!("{e:?}")))?;
    Ok(bytes.to_vec())
}

/// A tagger of `config` on `device` with the weights in `bytes` (f32 or f16).
pub fn load(
    config: &TaggerConfig,
    bytes: Vec<u8>,
    device: &Device,
) -> Result<Tagger, WeightsError> {
    let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| WeightsError::Format(format!("{e:?}")))?
        .cast_to_module_dtype();
    config
        .init(device)
        .try_load_record(record)
        .map_err(|e| WeightsError::Mismatch(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    #[test]
    fn half_precision_files_are_half_the_size_and_load_close_to_the_original() {
        let device = Device::flex();
        device.seed(4);
        let config = TaggerConfig::new(50, 80, 9).with_hyper(ModelConfig::sized(32, 4, 16));
        let tagger = config.init(&device);
        let full = to_bytes(&tagger, false).unwrap();
        let half = to_bytes(&tagger, true).unwrap();
        assert!(
            half.len() * 10 < full.len() * 6,
            "{} vs {}",
            half.len(),
            full.len()
        );
        let a = load(&config, full, &device).unwrap();
        let b = load(&config, half, &device).unwrap();
        let w = |t: &Tagger| {
            t.head
                .weight
                .val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&tagger));
        let (x, y) = (w(&a), w(&b));
        assert!(
            x.iter()
                .zip(&y)
                .all(|(p, q)| (p - q).abs() <= 1e-3 * p.abs().max(1e-2))
        );
        assert!(load(&config, vec![1, 2, 3], &device).is_err());
    }
}
