//! A Hugging Face model directory on disk (`config.json`, `model.safetensors`, `vocab.txt`):
//! reading it, and writing the weights file. Native builds only.

use super::{Bert, BertConfig, BertError};
use crate::vocab::BertVocab;
use burn::prelude::*;
use std::path::Path;

fn read(path: &Path) -> Result<Vec<u8>, BertError> {
    std::fs::read(path).map_err(|error| BertError::Io {
        path: path.display().to_string(),
        error,
    })
}

fn text(path: &Path) -> Result<String, BertError> {
    String::from_utf8(read(path)?).map_err(|_| BertError::Io {
        path: path.display().to_string(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })
}

/// `error`, said to be in the file `path`.
fn in_file(path: &Path, error: BertError) -> BertError {
    BertError::In {
        path: path.display().to_string(),
        error: Box::new(error),
    }
}

/// The config and vocabulary of the model in `dir`, checked against each other.
pub fn read_config(dir: &Path) -> Result<(BertConfig, BertVocab), BertError> {
    let cpath = dir.join("config.json");
    let cfg = BertConfig::from_json(&text(&cpath)?).map_err(|e| in_file(&cpath, e))?;
    let vpath = dir.join("vocab.txt");
    let vocab = BertVocab::from_vocab_txt(&text(&vpath)?)
        .map_err(|m| BertError::Vocab(format!("{}: {m}", vpath.display())))?;
    if vocab.len() != cfg.vocab_size {
        return Err(BertError::Vocab(format!(
            "{} has {} tokens but {} says vocab_size {}",
            vpath.display(),
            vocab.len(),
            cpath.display(),
            cfg.vocab_size
        )));
    }
    Ok((cfg, vocab))
}

/// The weights in `dir/model.safetensors` for `cfg`.
pub fn load_weights(dir: &Path, cfg: &BertConfig, device: &Device) -> Result<Bert, BertError> {
    let wpath = dir.join("model.safetensors");
    let bytes = read(&wpath)?;
    cfg.load(&bytes, device).map_err(|e| in_file(&wpath, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bert-tiny")
    }

    #[test]
    fn a_model_directory_loads_and_its_errors_name_the_file() {
        let device = Device::flex();
        let (cfg, vocab) = read_config(&fixture()).unwrap();
        assert_eq!(vocab.len(), cfg.vocab_size);
        load_weights(&fixture(), &cfg, &device).unwrap();
        let mut deep = cfg.clone();
        deep.num_hidden_layers = 3;
        let e = load_weights(&fixture(), &deep, &device)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model.safetensors")
                && e.contains("bert.encoder.layer.2.attention.self.query.weight"),
            "{e}"
        );
        let e = read_config(Path::new("/nowhere")).unwrap_err().to_string();
        assert!(e.contains("/nowhere/config.json"), "{e}");
    }
}
