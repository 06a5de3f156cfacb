//! Helpers shared by the `nerco` integration tests: run the binary from the repository root.
#![allow(dead_code)] // each test target uses its own subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the trainer crate's parent), where configs and data paths resolve.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the trainer crate sits in the workspace")
        .to_path_buf()
}

/// Runs `nerco` with `args` in the repository root.
pub fn nerco(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nerco"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run nerco")
}

/// Asserts success and returns standard output.
pub fn ok(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nerco failed: {err}");
    String::from_utf8(out.stdout).unwrap()
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Runs `nerco train --config CONFIG --out OUT`, asserts that it fails, and returns its stderr.
pub fn train_fails(config: &Path, out: &Path) -> String {
    let o = nerco(&[
        "train",
        "--config",
        config.to_str().expect("a UTF-8 path"),
        "--out",
        out.to_str().expect("a UTF-8 path"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "nerco train should have failed: {err}");
    err
}

/// The phases a run went through, from its `metrics.json`.
pub fn phases(metrics: &Value) -> Vec<String> {
    metrics["phases"]
        .as_array()
        .expect("metrics.json lists its phases")
        .iter()
        .map(|p| p["phase"].as_str().expect("a phase name").to_string())
        .collect()
}

/// `nerco train --config CONFIG --out OUT EXTRA…`, asserted to succeed; returns its stdout.
pub fn train(config: &str, out: &Path, extra: &[&str]) -> String {
    let out = out.to_str().expect("a UTF-8 path");
    let mut args = vec!["train", "--config", config, "--out", out];
    args.extend_from_slice(extra);
    ok(nerco(&args))
}

/// `nerco export --run RUN --out OUT EXTRA…`, asserted to succeed; returns its stdout.
pub fn export(run: &Path, out: &Path, extra: &[&str]) -> String {
    let (run, out) = (
        run.to_str().expect("a UTF-8 path"),
        out.to_str().expect("a UTF-8 path"),
    );
    let mut args = vec!["export", "--run", run, "--out", out];
    args.extend_from_slice(extra);
    ok(nerco(&args))
}
