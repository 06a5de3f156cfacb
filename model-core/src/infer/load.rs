//! Reading a trained model from disk (native only): a run directory or export bundle holds
//! `meta.json` ([`ModelMeta`]) and burnpack weights (`model.bpk` in a run, `weights.bpk` in a
//! bundle; f32 or f16).

use crate::error::{Error, Result};
use crate::meta::ModelMeta;
use crate::model::Tagger;
use burn::prelude::*;
use std::path::Path;

/// The checked `meta.json` of a run directory (or bundle) `dir`.
pub fn read_meta(dir: &Path) -> Result<ModelMeta> {
    let path = dir.join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|error| Error::NotARun {
        dir: dir.to_path_buf(),
        error,
    })?;
    ModelMeta::from_json(&text).map_err(|error| Error::MetaFile { path, error })
}

/// A tagger of `meta`'s config with the weights of the burnpack file `path`.
pub fn load_tagger(meta: &ModelMeta, path: &Path, device: &Device) -> Result<Tagger> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    crate::weights::load(&meta.model, bytes, device).map_err(|error| Error::WeightFile {
        path: path.to_path_buf(),
        error,
    })
}

/// The metadata and final tagger of a run directory (`meta.json` + `model.bpk`); an unfinished
/// run (no `model.bpk` yet) is an error that says how to continue it.
pub(crate) fn load_run(dir: &Path, device: &Device) -> Result<(ModelMeta, Tagger)> {
    let meta = read_meta(dir)?;
    let weights = dir.join("model.bpk");
    if !weights.exists() {
        return Err(Error::Unfinished {
            dir: dir.to_path_buf(),
        });
    }
    let tagger = load_tagger(&meta, &weights, device)?;
    Ok((meta, tagger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pipeline;
    use crate::pipeline::api_tests::tiny;

    fn run_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nerco-load-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_run_directory_loads_and_predicts_like_the_model_it_was_saved_from() {
        let device = Device::flex();
        let (meta, tagger) = tiny(&device);
        let dir = run_dir("ok");
        std::fs::write(dir.join("meta.json"), serde_json::to_string(&meta).unwrap()).unwrap();
        let loaded = Pipeline::load(&dir, &device);
        assert!(matches!(loaded, Err(Error::Unfinished { .. })));
        assert!(
            loaded
                .err()
                .unwrap()
                .to_string()
                .contains("has not finished")
        );
        let bytes = crate::weights::to_bytes(&tagger, false).unwrap();
        std::fs::write(dir.join("model.bpk"), bytes).unwrap();
        let p = Pipeline::load(&dir, &device).unwrap();
        let q = Pipeline::new(meta, &tagger, &device);
        let text = "张三在北京大学读书，李四去了上海";
        assert_eq!(
            p.analyse(text, false).unwrap().tags,
            q.analyse(text, false).unwrap().tags
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_and_broken_files_are_errors_that_name_the_file() {
        let device = Device::flex();
        let (meta, _) = tiny(&device);
        let dir = run_dir("bad");
        let err = Pipeline::load(dir.join("nothing"), &device).err().unwrap();
        assert!(err.to_string().contains("a run directory?"), "{err}");
        std::fs::write(dir.join("meta.json"), "{\"format_version\": 1").unwrap();
        let err = read_meta(&dir).unwrap_err().to_string();
        assert!(err.contains("meta.json"), "{err}");
        std::fs::write(dir.join("meta.json"), serde_json::to_string(&meta).unwrap()).unwrap();
        std::fs::write(dir.join("model.bpk"), [1, 2, 3]).unwrap();
        let err = Pipeline::load(&dir, &device).err().unwrap().to_string();
        assert!(
            err.contains("model.bpk is not a valid weight file"),
            "{err}"
        );
        let mut other = meta.clone();
        other.model.hyper.d_model = 32;
        other.model.hyper.n_heads = 4;
        let bytes = crate::weights::to_bytes(&other.model.init(&device), false).unwrap();
        std::fs::write(dir.join("model.bpk"), bytes).unwrap();
        let err = Pipeline::load(&dir, &device).err().unwrap().to_string();
        assert!(err.contains("does not fit this model"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
