//! A pretrained character encoder (the tiny random BERT fixture) through `nerco train`: frozen in
//! stage 1, fine-tuned in stage 2, carried in the run's checkpoints so `eval`, `predict` and
//! `export` work without the original directory; bad encoder directories are reported by file.

mod common;
use common::*;

use burn::prelude::*;
use model_core::host::tensor_values;
use model_core::model::bert::BertConfig;
use model_core::pipeline::ModelMeta;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fails(out: Output) -> String {
    assert!(!out.status.success(), "nerco should have failed");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `configs/tiny.toml` with the encoder in `dir` (and a shorter stage 2).
fn config(dir: &Path, encoder: &Path) -> PathBuf {
    let tiny = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let cfg = tiny
        .replace(
            "[model]",
            &format!(
                "[model]\nchar_encoder = \"{}\"\nchar_encoder_lr_scale = 0.5",
                encoder.display()
            ),
        )
        .replace("epochs = 60", "epochs = 40");
    assert_ne!(cfg, tiny);
    let path = dir.join("tiny-bert.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn copy_fixture(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["config.json", "model.safetensors", "vocab.txt"] {
        std::fs::copy(root().join("tests/fixtures/bert-tiny").join(f), to.join(f)).unwrap();
    }
}

/// The word-embedding table of the BERT inside a run's weight file.
fn bert_words(run: &Path, file: &str) -> Vec<f32> {
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
    let bytes = std::fs::read(run.join(file)).unwrap();
    let tagger = model_core::weights::load(&meta.model, bytes, &Device::flex()).unwrap();
    tensor_values(tagger.bert.expect("a BERT in the tagger").word.weight.val())
}

#[test]
fn a_bert_run_freezes_it_in_stage1_tunes_it_in_stage2_and_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = dir.path().join("bert");
    copy_fixture(&encoder);
    let cfg = config(dir.path(), &encoder);
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    train(cfg.to_str().unwrap(), &run, &["--seed", "3"]);
    let metrics = read_json(&run.join("metrics.json"));
    assert_eq!(phases(&metrics), ["contrast", "tagging"]);
    let f1 = metrics["test"]["overall"]["f1"].as_f64().unwrap();
    assert!(
        f1 >= 90.0,
        "the tiny BERT tagger should fit its data, F1 {f1}"
    );

    // Frozen in stage 1: the stage-1 weights hold the pretrained table exactly; stage 2 moved it.
    let device = Device::flex();
    let pretrained =
        BertConfig::from_json(&std::fs::read_to_string(encoder.join("config.json")).unwrap())
            .unwrap()
            .load(
                &std::fs::read(encoder.join("model.safetensors")).unwrap(),
                &device,
            )
            .unwrap();
    let original = tensor_values(pretrained.word.weight.val());
    assert_eq!(bert_words(&run, "stage1.bpk"), original);
    let tuned = bert_words(&run, "model.bpk");
    let moved = tuned
        .iter()
        .zip(&original)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        moved > 1e-4,
        "stage 2 fine-tunes the encoder (moved {moved})"
    );

    // The run no longer needs the encoder directory.
    std::fs::remove_dir_all(&encoder).unwrap();
    let report = dir.path().join("report.json");
    let out = ok(nerco(&[
        "eval",
        "--run",
        run_s,
        "--json",
        report.to_str().unwrap(),
    ]));
    assert!(out.contains("20 sentences"), "{out}");
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!((again["overall"]["f1"].as_f64().unwrap() - f1).abs() < 1e-9);
    let input = dir.path().join("in.txt");
    // Characters outside BERT's vocabulary (魑魅) go to [UNK] rather than failing.
    std::fs::write(&input, "高勇：男，中国国籍，无境外居留权。\n魑魅\n").unwrap();
    let jsonl = ok(nerco(&["predict", "--run", run_s, input.to_str().unwrap()]));
    assert_eq!(jsonl.lines().count(), 2);
    let bundle = dir.path().join("bundle");
    export(&run, &bundle, &["--sample-tokens", "100"]);
    let meta = std::fs::read_to_string(bundle.join("meta.json")).unwrap();
    let meta = ModelMeta::from_json(&meta).unwrap();
    assert!(meta.vocabs.bert.is_some() && meta.model.char_encoder.is_some());
    let weights = std::fs::read(bundle.join("weights.bpk")).unwrap();
    let p = model_core::pipeline::Pipeline::from_bytes(meta, weights, &device).unwrap();
    let chars: Vec<char> = "高勇：男，中国国籍".chars().collect();
    assert_eq!(p.tags(&[chars.clone()], 8)[0].len(), chars.len());
}

#[test]
fn bad_encoder_directories_are_reported_by_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = |name: &str, encoder: &Path| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let cfg = config(&d, encoder);
        fails(nerco(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            d.join("run").to_str().unwrap(),
        ]))
    };
    let missing = dir.path().join("nowhere");
    let e = tiny("missing", &missing);
    assert!(e.contains("nowhere/config.json"), "{e}");

    let bad_json = dir.path().join("bad-json");
    copy_fixture(&bad_json);
    std::fs::write(bad_json.join("config.json"), "{\"vocab_size\": 3").unwrap();
    let e = tiny("json", &bad_json);
    assert!(e.contains("bad-json/config.json"), "{e}");

    // One layer more in the config than in the weights: the missing tensor is named.
    let deep = dir.path().join("deep");
    copy_fixture(&deep);
    let c = std::fs::read_to_string(deep.join("config.json"))
        .unwrap()
        .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    std::fs::write(deep.join("config.json"), c).unwrap();
    let e = tiny("deep", &deep);
    assert!(
        e.contains("model.safetensors")
            && e.contains("bert.encoder.layer.2.attention.self.query.weight"),
        "{e}"
    );

    // A vocabulary that does not match the embedding table.
    let short = dir.path().join("short");
    copy_fixture(&short);
    let v = std::fs::read_to_string(short.join("vocab.txt")).unwrap();
    std::fs::write(
        short.join("vocab.txt"),
        v.lines().take(50).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let e = tiny("short", &short);
    assert!(e.contains("vocab.txt") && e.contains("vocab_size"), "{e}");
}

#[test]
fn pretrain_writes_a_directory_that_transformers_layout_loaders_and_training_accept() {
    let dir = tempfile::tempdir().unwrap();
    // People's Daily style: GB18030, CRLF, line IDs, word/POS tokens, bracketed compounds.
    let pku = "19980101-01-001-001/m  迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t  新年/t  讲话/n\r\n\r\n19980101-01-001-002/m  中共中央/nt  总书记/n  、/w  [国家/n 主席/n]nt  江/nr  泽民/nr\r\n";
    let text = pku.repeat(20);
    let (gb, _, bad) = encoding_rs::GB18030.encode(&text);
    assert!(!bad);
    let pd = dir.path().join("pd.txt");
    std::fs::write(&pd, &gb).unwrap();
    let out = dir.path().join("pretrained");
    ok(nerco(&[
        "pretrain",
        "--out",
        out.to_str().unwrap(),
        "--corpus",
        "tests/fixtures/resume-tiny.char.bmes",
        "--corpus",
        pd.to_str().unwrap(),
        "--hidden",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--max-len",
        "64",
        "--min-freq",
        "1",
        "--batch-size",
        "16",
        "--steps",
        "200",
        "--lr",
        "2e-3",
        "--save-every",
        "100",
    ]));
    let vocab = std::fs::read_to_string(out.join("vocab.txt")).unwrap();
    let tokens: Vec<&str> = vocab.lines().collect();
    assert_eq!(&tokens[..5], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    // Text of both sources is in; the PKU annotations are not.
    for want in ["泽", "迈", "勇"] {
        assert!(tokens.contains(&want), "{want} missing from the vocabulary");
    }
    for unwanted in ["/", "[", "]", "n", "nr", "v", "w", "t"] {
        assert!(
            !tokens.contains(&unwanted),
            "`{unwanted}` leaked from the annotations"
        );
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pretrain.json")).unwrap()).unwrap();
    let log = report["log"].as_array().unwrap();
    let first = log[0]["train_loss"].as_f64().unwrap();
    let last = log[log.len() - 1]["train_loss"].as_f64().unwrap();
    assert!(last < first - 0.5, "masked-char loss {first} → {last}");
    assert!(log[log.len() - 1]["held_out_loss"].as_f64().is_some());

    // The directory loads as a character encoder, and a tagger trains on it.
    let cfg = config(dir.path(), &out);
    let run = dir.path().join("run");
    train(cfg.to_str().unwrap(), &run, &["--recipe", "no-contrast"]);
    let f1 = read_json(&run.join("metrics.json"))["test"]["overall"]["f1"]
        .as_f64()
        .unwrap();
    assert!(f1 >= 90.0, "F1 {f1}");

    // An existing output is never overwritten.
    let again = fails(nerco(&[
        "pretrain",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "1",
    ]));
    assert!(again.contains("already holds"), "{again}");
}

#[test]
fn bundles_from_before_the_encoder_option_still_load() {
    // static/models/resume was exported before `char_encoder` existed: no `bert` anywhere.
    let dir = root().join("static/models/resume");
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert!(meta.model.char_encoder.is_none() && meta.vocabs.bert.is_none());
    let weights = std::fs::read(dir.join("weights.bpk")).unwrap();
    let p = model_core::pipeline::Pipeline::from_bytes(meta, weights, &Device::flex()).unwrap();
    assert!(p.tagger().bert.is_none());
    let chars: Vec<char> = "高勇：男，中国国籍，无境外居留权。".chars().collect();
    let ents = p.entities(&[chars], 8);
    assert!(ents[0].iter().any(|e| e.text == "高勇"), "{:?}", ents[0]);
}

#[test]
fn a_negative_encoder_rate_scale_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &root().join("tests/fixtures/bert-tiny"));
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("char_encoder_lr_scale = 0.5", "char_encoder_lr_scale = -1");
    std::fs::write(&cfg, text).unwrap();
    let e = fails(nerco(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]));
    assert!(e.contains("char_encoder_lr_scale"), "{e}");
}

#[test]
fn an_interrupted_pretraining_resumes_from_its_last_save() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pretrained");
    let out_s = out.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nerco"))
        .args([
            "pretrain",
            "--out",
            out_s,
            "--corpus",
            "tests/fixtures/resume-tiny.char.bmes",
            "--hidden",
            "16",
            "--layers",
            "1",
            "--heads",
            "2",
            "--max-len",
            "64",
            "--min-freq",
            "1",
            "--steps",
            "400",
            "--save-every",
            "20",
        ])
        .current_dir(root())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = out.join("checkpoint/state.json");
    let t0 = std::time::Instant::now();
    while !state.exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let at = saved["step"].as_u64().unwrap();
    assert!(at < 400, "killed before the end (step {at})");
    assert!(!out.join("pretrain.json").exists());

    // The command line's settings are ignored on resume: the run keeps its own.
    ok(nerco(&[
        "pretrain", "--out", out_s, "--resume", "--hidden", "64",
    ]));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pretrain.json")).unwrap()).unwrap();
    assert_eq!(report["steps"], 400);
    assert_eq!(report["settings"]["hidden"], 16);
    let steps: Vec<u64> = report["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_u64().unwrap())
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert_eq!(steps.last(), Some(&400));
    let log = std::fs::read_to_string(out.join("pretrain.log")).unwrap();
    assert!(log.contains(&format!("resumed after step {at}")), "{log}");
    BertConfig::from_json(&std::fs::read_to_string(out.join("config.json")).unwrap())
        .unwrap()
        .load(
            &std::fs::read(out.join("model.safetensors")).unwrap(),
            &Device::flex(),
        )
        .unwrap();
}
