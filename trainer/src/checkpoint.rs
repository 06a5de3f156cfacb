//! Optimiser state in a checkpoint: written as Burn's burnpack bytes, read back into a freshly
//! configured optimiser so a resumed run continues with the same moments.

use crate::run_dir::write_atomic;
use anyhow::{Context, Result, anyhow};
use burn::optim::ModuleOptimizer;
use std::path::Path;

/// Writes `optim`'s state to `path` atomically.
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    let bytes = optim
        .into_bytes()
        .map_err(|e| anyhow!("cannot encode the optimizer: {e:?}"))?;
    write_atomic(path, &bytes)
}

/// `optim` (configured as when the state was saved) with the state stored at `path`.
pub fn restore_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow!("{} is not a valid optimizer state: {e:?}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::prelude::*;

    fn step(model: Linear, optim: &mut ModuleOptimizer, device: &Device) -> Linear {
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), device);
        let loss = model.forward(x).square().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-2, model, grads)
    }

    fn weights(m: &Linear) -> Vec<f32> {
        model_core::host::tensor_values(m.weight.val())
    }

    #[test]
    fn a_restored_optimizer_steps_like_the_original() {
        let device = Device::flex().autodiff();
        device.seed(1);
        let mut model = LinearConfig::new(3, 2).init(&device);
        let mut optim = AdamWConfig::new().init();
        model = step(model, &mut optim, &device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optim.bpk");
        save_optimizer(&optim, &path).unwrap();

        let mut restored = restore_optimizer(AdamWConfig::new().init(), &path).unwrap();
        let mut fresh = AdamWConfig::new().init();
        let continued = weights(&step(model.clone(), &mut optim, &device));
        assert_eq!(
            weights(&step(model.clone(), &mut restored, &device)),
            continued
        );
        // Without the moments the second step differs: the state really was carried over.
        assert_ne!(weights(&step(model, &mut fresh, &device)), continued);
    }

    #[test]
    fn missing_or_corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.bpk");
        let err = format!(
            "{:#}",
            restore_optimizer(AdamWConfig::new().init(), &missing)
                .err()
                .unwrap()
        );
        assert!(
            err.contains("cannot read") && err.contains("none.bpk"),
            "{err}"
        );
        let bad = dir.path().join("bad.bpk");
        std::fs::write(&bad, b"not a burnpack").unwrap();
        let err = format!(
            "{:#}",
            restore_optimizer(AdamWConfig::new().init(), &bad)
                .err()
                .unwrap()
        );
        assert!(
            err.contains("bad.bpk") && err.contains("not a valid optimizer state"),
            "{err}"
        );
    }
}
