//! Hostile input and interrupted training: every failure is a clear error naming what and where,
//! and a killed run resumes to the same result as an uninterrupted one.

mod common;
use common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The tiny config with the training file replaced.
fn config_with_train(dir: &Path, train: &Path, extra: &str) -> PathBuf {
    let cfg = std::fs::read_to_string(root().join("configs/tiny.toml"))
        .unwrap()
        .replace(
            "train = \"tests/fixtures/resume-tiny.char.bmes\"",
            &format!("train = {:?}", train.to_str().unwrap()),
        )
        + extra;
    let p = dir.join(format!(
        "cfg-{}.toml",
        train.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&p, cfg).unwrap();
    p
}

fn train_fails_with(dir: &Path, name: &str, content: &[u8], expect: &[&str]) {
    let data = dir.join(name);
    std::fs::write(&data, content).unwrap();
    let cfg = config_with_train(dir, &data, "");
    let out = nerco(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.join(format!("run-{name}")).to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{name} should be refused");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{name}: no panic, got {err}");
    for e in expect {
        assert!(err.contains(e), "{name}: error should mention {e:?}: {err}");
    }
}

#[test]
fn bad_data_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_fails_with(d, "empty.bmes", b"", &["empty.bmes", "no sentences"]);
    train_fails_with(d, "blank.bmes", b"\n\n\n", &["blank.bmes"]);
    train_fails_with(
        d,
        "garbage.bmes",
        &[0xff, 0xfe, 0x00, 0x13, 0x88, 0x0a, 0xc3],
        &["garbage.bmes", "UTF-8"],
    );
    train_fails_with(
        d,
        "utf8.bmes",
        b"\xe9\xab\x98 B-NAME\n\xff E-NAME\n",
        &["utf8.bmes:2", "UTF-8"],
    );
    train_fails_with(
        d,
        "onecol.bmes",
        "高 B-NAME\n勇\n".as_bytes(),
        &["onecol.bmes:2"],
    );
    train_fails_with(
        d,
        "badtag.bmes",
        "高 B-NAME\n勇 Q-NAME\n".as_bytes(),
        &["badtag.bmes:2"],
    );
    train_fails_with(
        d,
        "noents.bmes",
        "高 O\n勇 O\n".as_bytes(),
        &["no entities"],
    );
    let long = format!("{} O\n", "字".repeat(1 << 20));
    train_fails_with(d, "oversized.bmes", long.as_bytes(), &["oversized.bmes:1"]);
    train_fails_with(d, "missing.bmes", b"x", &[]);
    let missing = nerco(&[
        "train",
        "--config",
        d.join("nope.toml").to_str().unwrap(),
        "--out",
        d.join("r").to_str().unwrap(),
    ]);
    assert!(stderr(&missing).contains("nope.toml"));
}

#[test]
fn bad_configs_and_run_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    for (name, text, expect) in [
        (
            "truncated.toml",
            full[..full.len() / 2].to_string(),
            "truncated.toml",
        ),
        (
            "scheme.toml",
            full.replace("scheme = \"bmes\"", "scheme = \"bilou\""),
            "scheme",
        ),
        (
            "heads.toml",
            full.replace("n_heads = 4", "n_heads = 5"),
            "n_heads",
        ),
        (
            "binary.toml",
            "\u{0}\u{1}\u{2}garbage".to_string(),
            "binary.toml",
        ),
    ] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        let out = nerco(&[
            "train",
            "--config",
            p.to_str().unwrap(),
            "--out",
            d.join(format!("run-{name}")).to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{name} should be refused");
        assert!(stderr(&out).contains(expect), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }

    // A finished tiny run, then damage it in the ways a user might.
    let run = d.join("run");
    let out = nerco(&[
        "train",
        "--config",
        "configs/tiny.toml",
        "--out",
        run.to_str().unwrap(),
        "--recipe",
        "no-contrast",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let predict = |run: &Path| {
        Command::new(env!("CARGO_BIN_EXE_nerco"))
            .args(["predict", "--run", run.to_str().unwrap()])
            .current_dir(root())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    assert!(predict(&run).status.success());

    let copy = |name: &str| {
        let to = d.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for f in ["meta.json", "model.bpk", "config.toml"] {
            std::fs::copy(run.join(f), to.join(f)).unwrap();
        }
        to
    };
    let truncated = copy("truncated");
    let w = std::fs::read(truncated.join("model.bpk")).unwrap();
    std::fs::write(truncated.join("model.bpk"), &w[..w.len() / 3]).unwrap();
    let o = predict(&truncated);
    assert!(
        !o.status.success() && stderr(&o).contains("model.bpk"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));

    let other_version = copy("version");
    let meta = std::fs::read_to_string(other_version.join("meta.json")).unwrap();
    let mut meta: Value = serde_json::from_str(&meta).unwrap();
    meta["format_version"] = 7.into();
    std::fs::write(other_version.join("meta.json"), meta.to_string()).unwrap();
    let o = predict(&other_version);
    assert!(
        !o.status.success() && stderr(&o).contains("format version"),
        "{}",
        stderr(&o)
    );

    let other_model = copy("mismatch");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(other_model.join("meta.json")).unwrap())
            .unwrap();
    let mut meta = meta;
    meta["model"]["hyper"]["d_model"] = Value::from(32);
    meta["model"]["hyper"]["n_heads"] = Value::from(4);
    std::fs::write(other_model.join("meta.json"), meta.to_string()).unwrap();
    let o = predict(&other_model);
    assert!(
        !o.status.success() && stderr(&o).contains("does not fit"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));

    let broken_meta = copy("brokenmeta");
    std::fs::write(
        broken_meta.join("meta.json"),
        "{\"format_version\": 1, \"model\"",
    )
    .unwrap();
    let o = predict(&broken_meta);
    assert!(
        !o.status.success() && stderr(&o).contains("meta.json"),
        "{}",
        stderr(&o)
    );

    // A state.json naming a phase its recipe does not have (no-contrast has no stage 1).
    let foreign = copy("foreign-state");
    std::fs::create_dir_all(foreign.join("checkpoint")).unwrap();
    let state = std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap();
    let state = state.replacen("\"phase\": \"done\"", "\"phase\": \"contrast\"", 1);
    assert!(state.contains("\"phase\": \"contrast\""), "{state}");
    std::fs::write(foreign.join("checkpoint/state.json"), state).unwrap();
    let o = nerco(&["train", "--out", foreign.to_str().unwrap(), "--resume"]);
    assert!(
        !o.status.success()
            && stderr(&o).contains("state.json")
            && stderr(&o).contains("not part of the `no-contrast` recipe"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));

    // Garbage and invalid UTF-8 on predict's text path.
    let bad = d.join("bad.txt");
    std::fs::write(&bad, b"ok line\n\xff\xfe\n").unwrap();
    let o = nerco(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("bad.txt:2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_diverging_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(root().join("configs/tiny.toml"))
        .unwrap()
        .replace(
            "[stage2]\nepochs = 60",
            "[stage2]\nepochs = 60\noptimizer = \"sgd\"\nclip = 0.0",
        )
        .replace("lr = 1e-2", "lr = 1e30");
    let p = dir.path().join("nan.toml");
    std::fs::write(&p, cfg).unwrap();
    let run = dir.path().join("run");
    let out = nerco(&[
        "train",
        "--config",
        p.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--recipe",
        "no-contrast",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the loss became"), "{err}");
    assert!(!err.contains("panicked"));
    assert!(!run.join("metrics.json").exists());
}

/// Kill a run at several points (between and during checkpoint writes), resume each, and compare
/// with an uninterrupted run of the same seed: the same epochs and the same scores.
#[test]
fn killed_runs_resume_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let o = nerco(&[
        "train",
        "--config",
        "configs/tiny.toml",
        "--out",
        full.to_str().unwrap(),
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("metrics.json")).unwrap()).unwrap();
    let scores = |m: &Value| -> Vec<(u64, String)> {
        m["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["epoch"].as_u64().unwrap(),
                    format!("{:.6}", h["dev_score"].as_f64().unwrap()),
                )
            })
            .collect()
    };
    for (k, delay_ms) in [150u64, 900, 2500].into_iter().enumerate() {
        let run = dir.path().join(format!("killed-{k}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_nerco"))
            .args([
                "train",
                "--config",
                "configs/tiny.toml",
                "--out",
                run.to_str().unwrap(),
                "--seed",
                "5",
            ])
            .current_dir(root())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if run.join("metrics.json").exists() {
            continue; // finished before the kill: nothing to resume
        }
        let args: Vec<String> = if run.join("checkpoint/state.json").exists() {
            vec![
                "train".into(),
                "--out".into(),
                run.to_str().unwrap().into(),
                "--resume".into(),
                "--seed".into(),
                "5".into(),
            ]
        } else {
            // Killed before the first checkpoint: a fresh start is the resume.
            vec![
                "train".into(),
                "--config".into(),
                "configs/tiny.toml".into(),
                "--out".into(),
                run.to_str().unwrap().into(),
                "--seed".into(),
                "5".into(),
                "--resume".into(),
            ]
        };
        let o = Command::new(env!("CARGO_BIN_EXE_nerco"))
            .args(&args)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "resume after {delay_ms} ms: {}",
            stderr(&o)
        );
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap())
                .unwrap();
        assert_eq!(scores(&m), scores(&reference), "killed after {delay_ms} ms");
        assert_eq!(m["test"]["overall"], reference["test"]["overall"]);
    }
}
