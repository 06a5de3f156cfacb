//! The FLAT lattice encoder end to end: a tiny FLAT model trains through both stages from the
//! CLI, then evaluates, predicts and exports a bundle that carries its word vocabulary; config
//! errors name the lexicon; bundles from before the lattice still load.

mod common;
use common::*;

use burn::prelude::*;
use model_core::pipeline::{ModelMeta, Pipeline};
use serde_json::Value;

#[test]
fn a_flat_model_trains_both_stages_then_evaluates_predicts_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    train("configs/tiny-flat.toml", &run, &["--seed", "1"]);
    let metrics = read_json(&run.join("metrics.json"));
    assert_eq!(phases(&metrics), ["contrast", "tagging"]);
    let f1 = metrics["test"]["overall"]["f1"].as_f64().unwrap();
    assert!(
        f1 >= 90.0,
        "a tiny FLAT model fits its training data, F1 {f1}"
    );

    // The run's metadata holds the lattice and the words of the lexicon seen in training.
    let meta = read_json(&run.join("meta.json"));
    let words = meta["vocabs"]["words"]["words"].as_array().unwrap();
    assert_eq!(
        meta["model"]["lattice"]["n_words"].as_u64().unwrap() as usize,
        words.len()
    );
    assert!(words.iter().any(|w| w == "有限公司"), "{words:?}");
    assert!(
        std::fs::read_to_string(run.join("train.log"))
            .unwrap()
            .contains("FLAT lattice")
    );

    let report = dir.path().join("report.json");
    ok(nerco(&[
        "eval",
        "--run",
        run_s,
        "--json",
        report.to_str().unwrap(),
    ]));
    let ours = read_json(&report)["overall"]["f1"].as_f64().unwrap();
    assert!((ours - f1).abs() < 1e-9, "eval reproduces metrics.json");

    let input = dir.path().join("in.txt");
    std::fs::write(&input, "高勇：男，中国国籍，无境外居留权。\n\nhello 😀\n").unwrap();
    let jsonl = ok(nerco(&["predict", "--run", run_s, input.to_str().unwrap()]));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == "高勇" && e["type"] == "NAME"),
        "{}",
        lines[0]
    );

    // The bundle carries the word vocabulary and tags like the run.
    let bundle = dir.path().join("bundle");
    export(&run, &bundle, &["--sample-tokens", "200"]);
    let info = read_json(&bundle.join("bundle.json"));
    let (run_f1, bundle_f1) = (
        info["test_f1_run"].as_f64().unwrap(),
        info["test_f1_bundle"].as_f64().unwrap(),
    );
    assert!((run_f1 - bundle_f1).abs() < 2.0, "{run_f1} vs {bundle_f1}");
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(bundle.join("meta.json")).unwrap()).unwrap();
    let words = meta
        .vocabs
        .words
        .as_ref()
        .expect("the bundle's word vocabulary");
    assert!(words.vocab().id("有限公司") > 1);
    let weights = std::fs::read(bundle.join("weights.bpk")).unwrap();
    let p = Pipeline::from_bytes(meta, weights, &Device::flex()).unwrap();
    assert!(p.tagger().words.is_some());
    assert_eq!(info["words"], info["words_in_run"]);

    // A smaller bundle: only the most frequent words.
    let small = dir.path().join("small");
    export(
        &run,
        &small,
        &["--sample-tokens", "50", "--max-words", "52"],
    );
    let info_small = read_json(&small.join("bundle.json"));
    assert_eq!(info_small["words"], 50);
    assert!(info_small["test_f1_bundle"].as_f64().is_some());
    let meta_small =
        ModelMeta::from_json(&std::fs::read_to_string(small.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta_small.vocabs.words.as_ref().unwrap().len(), 52);
    let index = read_json(&bundle.join("embeddings.json"));
    let tokens = index["tokens"].as_array().unwrap().len();
    let stage2 = std::fs::metadata(bundle.join("emb-stage2.f16"))
        .unwrap()
        .len() as usize;
    assert_eq!(stage2, tokens * 64 * 2, "one f16 vector per character");
}

#[test]
fn flat_config_errors_name_the_lexicon() {
    let dir = tempfile::tempdir().unwrap();
    let flat = std::fs::read_to_string(root().join("configs/tiny-flat.toml")).unwrap();
    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        flat.replace("data/lexicon/jieba.txt.gz", "no/such/words.txt"),
    )
    .unwrap();
    let err = train_fails(&missing, &dir.path().join("run1"));
    assert!(err.contains("no/such/words.txt"), "{err}");

    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, flat.replace("encoder = \"flat\"\n", "")).unwrap();
    let err = train_fails(&plain, &dir.path().join("run2"));
    assert!(
        err.contains("model.lexicon") && err.contains("flat"),
        "{err}"
    );

    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        flat.replace("encoder = \"flat\"", "encoder = \"lattice\""),
    )
    .unwrap();
    let err = train_fails(&typo, &dir.path().join("run3"));
    assert!(err.contains("lattice") && err.contains("flat"), "{err}");
}

#[test]
fn bundles_from_before_the_lattice_still_load() {
    let dir = root().join("static/models/tiny");
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert!(meta.model.lattice.is_none() && meta.vocabs.words.is_none());
    let weights = std::fs::read(dir.join("weights.bpk")).unwrap();
    let p = Pipeline::from_bytes(meta, weights, &Device::flex()).unwrap();
    assert!(p.tagger().words.is_none());
    let chars: Vec<char> = "高勇：男，中国国籍，无境外居留权。".chars().collect();
    assert_eq!(
        p.tags(std::slice::from_ref(&chars), 8)[0].len(),
        chars.len()
    );
}

#[test]
fn a_flat_model_takes_a_pretrained_character_encoder_too() {
    // BERT features join the characters' embeddings; the words have their own.
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(root().join("configs/tiny-flat.toml"))
        .unwrap()
        .replace(
            "[model]",
            &format!(
                "[model]\nchar_encoder = {:?}",
                root().join("tests/fixtures/bert-tiny").to_str().unwrap()
            ),
        )
        .replace("epochs = 60", "epochs = 3")
        .replace("epochs = 3\nbatch_size = 10", "epochs = 1\nbatch_size = 10");
    let path = dir.path().join("flat-bert.toml");
    std::fs::write(&path, cfg).unwrap();
    let run = dir.path().join("run");
    train(path.to_str().unwrap(), &run, &[]);
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
    assert!(meta.model.char_encoder.is_some() && meta.model.lattice.is_some());
    let out = ok(nerco(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--output",
        "conll",
        "tests/fixtures/resume-tiny.char.bmes",
        "--format",
        "conll",
    ]));
    assert!(out.lines().filter(|l| !l.is_empty()).count() > 100);
}
