//! The Binder head end to end: the `binder` and `nerco+binder` recipes fit the tiny flat data
//! (plain and FLAT encoders), a Binder model predicts overlapping entities on the tiny nested
//! set, a CRF recipe refuses nested data with the file and line, and Binder run directories and
//! bundles load through `Pipeline`.

mod common;
use common::*;

use burn::prelude::*;
use model_core::pipeline::{ModelMeta, Pipeline};
use serde_json::Value;
use std::collections::BTreeSet;

/// A run's test F1 (the tiny configs test on their training sentences), after checking that
/// metrics.json carries the span metrics.
fn fitted_f1(run: &std::path::Path) -> f64 {
    let metrics = read_json(&run.join("metrics.json"));
    let test = &metrics["test"];
    for key in ["span", "overall"] {
        assert!(test[key]["f1"].as_f64().is_some(), "{key}: {test}");
    }
    assert!(test["type_accuracy"].as_f64().is_some());
    assert!(test["per_type"].as_object().is_some_and(|t| !t.is_empty()));
    test["overall"]["f1"].as_f64().unwrap()
}

#[test]
fn the_binder_recipe_fits_the_tiny_data_and_its_run_tags_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(
        "configs/tiny.toml",
        &run,
        &["--recipe", "binder", "--seed", "1"],
    );
    let f1 = fitted_f1(&run);
    assert!(f1 >= 90.0, "Binder fits its 20 training sentences, F1 {f1}");
    let metrics = read_json(&run.join("metrics.json"));
    assert_eq!(phases(&metrics), ["tagging"]);
    // The recipe picked the head: the resolved config and the metadata record it.
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("head = \"binder\""), "{config}");
    let meta = read_json(&run.join("meta.json"));
    assert_eq!(meta["model"]["hyper"]["head"], "binder");
    assert_eq!(meta["model"]["binder"]["n_types"], 7);
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert!(log.contains("spans up to K = "), "{log}");

    // eval reproduces the run's score; the pipeline tags like predict.
    let report = dir.path().join("report.json");
    let run_s = run.to_str().unwrap();
    ok(nerco(&[
        "eval",
        "--run",
        run_s,
        "--json",
        report.to_str().unwrap(),
    ]));
    let ours = read_json(&report)["overall"]["f1"].as_f64().unwrap();
    assert!((ours - f1).abs() < 1e-9, "eval reproduces metrics.json");
    let text = "高勇：男，中国国籍，无境外居留权，1966年出生，汉族，中共党员，本科学历。";
    let p = Pipeline::load(&run, &Device::flex()).unwrap();
    let found = p.tag(text).unwrap();
    assert!(
        found.iter().any(|e| e.text == "高勇" && e.label == "NAME"),
        "{found:?}"
    );
    let input = dir.path().join("in.txt");
    std::fs::write(&input, text).unwrap();
    let line: Value = serde_json::from_str(
        ok(nerco(&["predict", "--run", run_s, input.to_str().unwrap()])).trim(),
    )
    .unwrap();
    assert_eq!(line["entities"], serde_json::to_value(&found).unwrap());
}

#[test]
fn nerco_plus_binder_fits_the_tiny_data_on_the_flat_lattice() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let recipe = ["--recipe", "nerco+binder", "--seed", "1"];
    train("configs/tiny-flat.toml", &run, &recipe);
    let f1 = fitted_f1(&run);
    assert!(f1 >= 90.0, "NerCo's stage 1 then Binder fits, F1 {f1}");
    let metrics = read_json(&run.join("metrics.json"));
    assert_eq!(phases(&metrics), ["contrast", "tagging"]);
    assert_eq!(metrics["recipe"], "nerco+binder");
    let p = Pipeline::load(&run, &Device::flex()).unwrap();
    assert!(p.tagger().words.is_some() && p.is_binder());
}

/// A sentence's entities as (start, end, type).
type Entities = BTreeSet<(u64, u64, String)>;

/// The training sentences of the nested fixture, and the entities of each.
fn nested_gold() -> Vec<(String, Entities)> {
    std::fs::read_to_string(root().join("tests/fixtures/nested/train.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let spans = v["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let n = |k: &str| s[k].as_u64().unwrap();
                    (
                        n("start"),
                        n("end"),
                        s["type"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (v["text"].as_str().unwrap().to_string(), spans)
        })
        .collect()
}

fn entity_set(line: &Value) -> Entities {
    line["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap();
            (
                n("start"),
                n("end"),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn overlapping(spans: &Entities) -> bool {
    spans
        .iter()
        .any(|a| spans.iter().any(|b| a != b && a.0 < b.1 && b.0 < a.1))
}

#[test]
fn a_nested_binder_model_predicts_overlapping_entities_and_its_bundle_does_too() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    train(
        "configs/tiny-nested.toml",
        &run,
        &["--recipe", "binder", "--seed", "1"],
    );
    let f1 = fitted_f1(&run);
    assert!(
        f1 >= 95.0,
        "Binder fits the nested training set, span F1 {f1}"
    );

    // predict (JSON Lines) lists overlapping entities: 北京大学 ORG around 北京 LOC.
    let gold = nested_gold();
    let texts: Vec<&str> = gold.iter().map(|(t, _)| t.as_str()).collect();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, texts.join("\n")).unwrap();
    let out = ok(nerco(&["predict", "--run", run_s, input.to_str().unwrap()]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), gold.len());
    let (mut nested, mut right) = (0, 0);
    for ((_, want), line) in gold.iter().zip(&lines) {
        let got = entity_set(line);
        nested += usize::from(overlapping(want) && overlapping(&got));
        right += usize::from(got == *want);
    }
    assert!(overlapping(&entity_set(&lines[0])), "{}", lines[0]);
    assert!(
        entity_set(&lines[0]).contains(&(3, 7, "ORG".into()))
            && entity_set(&lines[0]).contains(&(3, 5, "LOC".into())),
        "{}",
        lines[0]
    );
    let with_nesting = gold.iter().filter(|(_, w)| overlapping(w)).count();
    assert!(
        nested + 2 >= with_nesting,
        "{nested} of {with_nesting} nested sentences"
    );
    assert!(
        right + 2 >= gold.len(),
        "{right} of {} sentences exact",
        gold.len()
    );

    // CoNLL output holds the flat decoding: one tag per char, no overlap possible.
    let conll = ok(nerco(&[
        "predict",
        "--run",
        run_s,
        "--output",
        "conll",
        input.to_str().unwrap(),
    ]));
    let first: Vec<&str> = conll.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(first.len(), texts[0].chars().count());
    assert_eq!(first[3], "北 B-ORG", "{first:?}");

    // eval on the span file scores the spans the same way the run did.
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

    // The run directory and its (f16) bundle load through Pipeline and find the nested pair.
    let bundle = dir.path().join("bundle");
    export(&run, &bundle, &["--sample-tokens", "100"]);
    let info = read_json(&bundle.join("bundle.json"));
    assert!(info["test_f1_bundle"].as_f64().unwrap() >= 90.0, "{info}");
    let meta =
        ModelMeta::from_json(&std::fs::read_to_string(bundle.join("meta.json")).unwrap()).unwrap();
    let weights = std::fs::read(bundle.join("weights.bpk")).unwrap();
    let device = Device::flex();
    for p in [
        Pipeline::from_bytes(meta, weights, &device).unwrap(),
        Pipeline::load(&run, &device).unwrap(),
    ] {
        let found = p.tag("刘洋在北京大学工作。\n张伟去了上海。").unwrap();
        let has =
            |text: &str, label: &str| found.iter().any(|e| e.text == text && e.label == label);
        assert!(
            has("北京大学", "ORG") && has("北京", "LOC") && has("上海", "LOC"),
            "{found:?}"
        );
        let a = p.analyse("刘洋在北京大学工作。", false).unwrap();
        assert_eq!(a.entities, p.tag("刘洋在北京大学工作。").unwrap());
        assert_eq!(a.tags.len(), a.chars.len());
        let n = p.meta().tags.len();
        for row in a.marginals.chunks(n) {
            assert_eq!(
                row.iter().sum::<f32>(),
                1.0,
                "one-hot rows at the flat decoding's tag"
            );
        }
    }
}

#[test]
fn a_crf_recipe_refuses_nested_data_and_a_binder_config_refuses_a_crf_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let err = train_fails(
        &root().join("configs/tiny-nested.toml"),
        &dir.path().join("crf"),
    );
    assert!(
        err.contains("tests/fixtures/nested/train.jsonl:1:") && err.contains("overlap"),
        "{err}"
    );
    assert!(err.contains("--recipe binder"), "{err}");
    let cfg = dir.path().join("binder.toml");
    let text = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    std::fs::write(&cfg, text.replace("[model]", "[model]\nhead = \"binder\"")).unwrap();
    let err = train_fails(&cfg, &dir.path().join("run"));
    assert!(
        err.contains("model.head is \"binder\"") && err.contains("nerco recipe"),
        "{err}"
    );
    std::fs::write(
        &cfg,
        text.replace("[model]", "[model.binder]\ndecodng = \"flat\"\n[model]"),
    )
    .unwrap();
    let err = train_fails(&cfg, &dir.path().join("run2"));
    assert!(err.contains("decodng"), "{err}");

    // Without the nested LOCs the same span file trains a CRF: spans become BIOES tags.
    let flat = dir.path().join("flat.jsonl");
    let records: Vec<String> = nested_gold()
        .iter()
        .map(|(text, spans)| {
            let outer: Vec<Value> = spans
                .iter()
                .filter(|a| !spans.iter().any(|b| b != *a && b.0 <= a.0 && a.1 <= b.1))
                .map(|(s, e, t)| serde_json::json!({"start": s, "end": e, "type": t}))
                .collect();
            serde_json::json!({"text": text, "spans": outer}).to_string()
        })
        .collect();
    std::fs::write(&flat, records.join("\n")).unwrap();
    let nested = std::fs::read_to_string(root().join("configs/tiny-nested.toml")).unwrap();
    let flat_cfg = nested
        .replace("tests/fixtures/nested/train.jsonl", flat.to_str().unwrap())
        .replace("epochs = 40", "epochs = 5");
    std::fs::write(&cfg, flat_cfg).unwrap();
    let run = dir.path().join("crf");
    train(cfg.to_str().unwrap(), &run, &["--recipe", "no-contrast"]);
    let meta = read_json(&run.join("meta.json"));
    assert_eq!(meta["model"]["hyper"]["head"], "crf");
    assert!(meta["model"]["binder"].is_null());
    let tags = meta["tags"]["tags"].as_array().unwrap();
    assert!(
        ["B-ORG", "E-LOC", "S-PER"]
            .iter()
            .all(|t| tags.iter().any(|x| x == t))
    );
    assert!(
        read_json(&run.join("metrics.json"))["test"]["token_accuracy"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn a_binder_head_trains_on_a_pretrained_character_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let bert = root().join("tests/fixtures/bert-tiny");
    let cfg = dir.path().join("tiny-bert.toml");
    let text = tiny
        .replace(
            "[model]",
            &format!("[model]\nchar_encoder = \"{}\"", bert.display()),
        )
        .replace("epochs = 60", "epochs = 30");
    std::fs::write(&cfg, text).unwrap();
    let run = dir.path().join("run");
    train(
        cfg.to_str().unwrap(),
        &run,
        &["--recipe", "binder", "--seed", "1"],
    );
    let f1 = fitted_f1(&run);
    assert!(f1 >= 90.0, "Binder on the tiny BERT fits, F1 {f1}");
    let p = Pipeline::load(&run, &Device::flex()).unwrap();
    assert!(p.tagger().bert.is_some() && p.is_binder());
    assert!(!p.tag("高勇：男，中国国籍。").unwrap().is_empty());
}
