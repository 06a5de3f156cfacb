//! End-to-end tests of the `nerco` binary on a tiny model: training, evaluation against an
//! independent conlleval scorer, prediction, resuming, and errors on bad input.

mod common;
use common::*;

use serde_json::Value;
use std::process::Command;

#[test]
fn tiny_run_fits_its_data_and_eval_agrees_with_an_independent_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    train("configs/tiny.toml", &run, &["--seed", "1"]);

    let metrics = read_json(&run.join("metrics.json"));
    let f1 = metrics["test"]["overall"]["f1"].as_f64().unwrap();
    assert!(
        f1 >= 95.0,
        "a tiny model should fit its 20 training sentences, F1 {f1}"
    );
    assert_eq!(phases(&metrics), ["contrast", "tagging"]);

    // eval --write-conll, re-scored by tests/conlleval.py.
    let conll = dir.path().join("pred.txt");
    let report = dir.path().join("report.json");
    ok(nerco(&[
        "eval",
        "--run",
        run_s,
        "--write-conll",
        conll.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
    ]));
    let ours = read_json(&report)["overall"]["f1"].as_f64().unwrap();
    assert!((ours - f1).abs() < 1e-9, "eval reproduces metrics.json");
    let py = Command::new("python3")
        .args(["tests/conlleval.py", "--json", conll.to_str().unwrap()])
        .current_dir(root())
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let theirs: Value = serde_json::from_slice(&py.stdout).unwrap();
    let theirs = theirs["f1"].as_f64().unwrap();
    assert_eq!(format!("{ours:.4}"), format!("{theirs:.4}"));

    // predict on the same sentences gives the same tags as eval wrote.
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/resume-tiny.char.bmes")).unwrap();
    let predicted = ok(nerco(&[
        "predict",
        "--run",
        run_s,
        "--format",
        "conll",
        "--output",
        "conll",
        "tests/fixtures/resume-tiny.char.bmes",
    ]));
    let pred_tags: Vec<String> = predicted
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    let eval_tags: Vec<String> = std::fs::read_to_string(&conll)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(' ').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(
        pred_tags.len(),
        text.lines().filter(|l| !l.is_empty()).count()
    );
    assert_eq!(pred_tags, eval_tags);

    // JSON Lines from plain text.
    let dir_txt = dir.path().join("in.txt");
    std::fs::write(&dir_txt, "高勇：男，中国国籍，无境外居留权。\n\nhello 😀\n").unwrap();
    let jsonl = ok(nerco(&[
        "predict",
        "--run",
        run_s,
        dir_txt.to_str().unwrap(),
    ]));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["entities"].as_array().unwrap().len(), 0);
    let first = &lines[0];
    assert!(
        first["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == "高勇" && e["type"] == "NAME"),
        "{first}"
    );
}

#[test]
fn an_interrupted_run_resumes_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nerco"))
        .args([
            "train",
            "--config",
            "configs/tiny.toml",
            "--out",
            run_s,
            "--recipe",
            "no-contrast",
        ])
        .current_dir(root())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = run.join("checkpoint/state.json");
    let t0 = std::time::Instant::now();
    while !state.exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(state.exists(), "a checkpoint appears after the first epoch");
    let done_before = read_json(&state)["epoch"].as_u64().unwrap();
    assert!(!run.join("metrics.json").exists() || done_before > 0);

    // Without --resume the run directory is protected.
    let again = nerco(&["train", "--config", "configs/tiny.toml", "--out", run_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    ok(nerco(&[
        "train",
        "--out",
        run_s,
        "--resume",
        "--recipe",
        "no-contrast",
    ]));
    let metrics = read_json(&run.join("metrics.json"));
    let epochs: Vec<u64> = metrics["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["epoch"].as_u64().unwrap())
        .collect();
    // Every epoch exactly once, in order, across the interruption.
    assert_eq!(epochs, (1..=epochs.len() as u64).collect::<Vec<_>>());
    assert!(metrics["test"]["overall"]["f1"].as_f64().unwrap() > 50.0);
}

#[test]
fn malformed_data_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bmes");
    std::fs::write(&bad, "高 B-NAME\n勇 E-NAME\n\n男 O\n， X-Y-\n").unwrap();
    let cfg = std::fs::read_to_string(root().join("configs/tiny.toml"))
        .unwrap()
        .replace(
            "train = \"tests/fixtures/resume-tiny.char.bmes\"",
            &format!("train = {:?}", bad.to_str().unwrap()),
        );
    let cfg_path = dir.path().join("bad.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let err = train_fails(&cfg_path, &dir.path().join("run"));
    assert!(
        err.contains("bad.bmes:5"),
        "error names file and line: {err}"
    );

    let cfg_path2 = dir.path().join("typo.toml");
    std::fs::write(
        &cfg_path2,
        "name = \"x\"\n[data]\ntrain = \"a\"\ndev = \"b\"\ntest = \"c\"\nschem = \"bio\"\n",
    )
    .unwrap();
    assert!(
        train_fails(&cfg_path2, &dir.path().join("run2")).contains("schem"),
        "unknown config keys are named"
    );
}

#[test]
fn the_independent_scorer_passes_its_own_tests() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "-q", "tests/test_conlleval.py"])
        .current_dir(root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_experiment_grid_runs_in_parallel_then_skips_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    // The tiny config with short schedules, so four runs take seconds.
    let tiny = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let short = tiny
        .replace("epochs = 60", "epochs = 4")
        .replace("epochs = 3", "epochs = 2");
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, short).unwrap();
    let runs = dir.path().join("runs");
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            "name = \"t\"\nseeds = [1, 2]\nruns = {:?}\n[[dataset]]\nconfig = {:?}\nrecipes = [\"nerco\", \"no-contrast\"]\n",
            runs.to_str().unwrap(),
            cfg.to_str().unwrap()
        ),
    )
    .unwrap();
    let report = dir.path().join("RESULTS.md");
    let results = dir.path().join("results.json");
    let args = [
        "experiment",
        "--plan",
        plan.to_str().unwrap(),
        "--jobs",
        "2",
        "--report",
        report.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ];
    ok(nerco(&args));
    for cell in [
        "tiny-nerco-1",
        "tiny-nerco-2",
        "tiny-no-contrast-1",
        "tiny-no-contrast-2",
    ] {
        let m = read_json(&runs.join(cell).join("metrics.json"));
        assert!(m["test"]["overall"]["f1"].as_f64().is_some(), "{cell}");
        // Each child's output went to its own log beside the run directory.
        let log = std::fs::read_to_string(runs.join(format!("{cell}.log"))).unwrap();
        assert!(log.contains("test P"), "{cell} log: {log}");
    }
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("no-contrast"), "{md}");

    // A second call finds every run finished and only rewrites the report.
    let again = nerco(&args);
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(again.status.success(), "{err}");
    assert_eq!(err.matches("done, skipped").count(), 4, "{err}");
}

/// Issue 16's options through `nerco train`: the stage-2 schedule shows in the log, the training
/// subset has its size, and the `no-contrast` baseline trains exactly as without the options.
#[test]
fn the_stage_2_options_train_through_the_cli_and_leave_the_baseline_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = |config: &str, recipe: &str, name: &str| {
        let out = dir.path().join(name);
        train(config, &out, &["--recipe", recipe, "--seed", "1"]);
        read_json(&out.join("metrics.json"))
    };
    let nerco = run("configs/search/tiny-robust.toml", "nerco", "nerco");
    let log = std::fs::read_to_string(dir.path().join("nerco/train.log")).unwrap();
    assert!(log.contains("dev silhouette"), "{log}");
    // Head-only epoch 0, then encoder 0.3 · 1/3, aux 0.5 · 0.7.
    assert!(log.contains("encoder ×0.100, aux InfoNCE ×0.350"), "{log}");
    assert_eq!(nerco["train_sentences"], 15);
    // The same data and schedule without the stage-2 options: the baseline is unchanged.
    let plain = dir.path().join("plain.toml");
    let tiny = common::root().join("configs/tiny.toml");
    std::fs::write(
        &plain,
        format!(
            "extends = {:?}\nname = \"plain\"\n[data]\ntrain_limit = 15\n[stage2]\nepochs = 8\nhead_only_epochs = 1\n",
            tiny.to_str().unwrap()
        ),
    )
    .unwrap();
    let losses = |m: &Value| -> Vec<f64> {
        let h = m["history"].as_array().unwrap();
        h.iter()
            .map(|e| e["train_loss"].as_f64().unwrap())
            .collect()
    };
    let with = run("configs/search/tiny-robust.toml", "no-contrast", "with");
    let without = run(plain.to_str().unwrap(), "no-contrast", "without");
    assert_eq!(losses(&with), losses(&without));
    assert_eq!(
        with["test"]["overall"]["f1"],
        without["test"]["overall"]["f1"]
    );
}
