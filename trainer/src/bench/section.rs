//! The report file (`docs/BENCHMARKS.md`): each suite's section, with a header saying when and on
//! what it was measured, rewritten between `<!-- BEGIN name -->` and `<!-- END name -->` markers.

use crate::machine;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// The report's opening when the file does not exist yet.
const PREAMBLE: &str = "# Benchmarks\n\nProduced by `nerco bench` (trainer/src/bench/) and `bench/torch_tagger.py`; \
     run everything with `bench/run.sh`. Every ratio is measured side by side in one run: the \
     two sides alternate, each figure is the median of the repetitions, and the load average \
     is given because the machine is shared.\n";

/// "CPU model, N logical cores", as the section headers give the machine.
fn machine() -> String {
    let cores = machine::logical_cores().unwrap_or(0);
    format!("{}, {cores} logical cores", machine::cpu_model())
}

fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The section's title and how it was measured: command, time, machine and load.
pub fn header(suite: &str) -> String {
    format!(
        "## `{suite}`\n\nCommand: `cargo build --release && target/release/nerco bench --suite {suite}` \
         (or `bench/run.sh`). Measured {}, {}; load average at start {} (other jobs shared the machine).\n",
        now_utc(),
        machine(),
        machine::load_avg()
    )
}

/// `old` with the section `name` replaced by `section`, or the section appended when absent.
fn with_section(old: &str, name: &str, section: &str) -> String {
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let block = format!("{begin}\n{section}\n{end}");
    match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &old[..a], block, &old[b + end.len()..]),
        _ => format!("{}\n{}\n", old.trim_end(), block),
    }
}

/// Rewrites section `name` of the report (created with a preamble if missing); the other
/// sections are left as they are.
pub fn write_section(report: &Path, name: &str, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(report).unwrap_or_else(|_| PREAMBLE.into());
    let new = with_section(&old, name, section);
    if let Some(dir) = report.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(report, new).with_context(|| format!("cannot write {}", report.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_or_appended() {
        let old = "# B\n\n<!-- BEGIN crf -->\nold crf\n<!-- END crf -->\n\ntail\n";
        assert_eq!(
            with_section(old, "crf", "new crf"),
            "# B\n\n<!-- BEGIN crf -->\nnew crf\n<!-- END crf -->\n\ntail\n"
        );
        assert_eq!(
            with_section(old, "train", "t"),
            "# B\n\n<!-- BEGIN crf -->\nold crf\n<!-- END crf -->\n\ntail\n<!-- BEGIN train -->\nt\n<!-- END train -->\n"
        );
    }

    #[test]
    fn a_new_report_starts_with_the_preamble_and_keeps_other_sections() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("docs/B.md");
        write_section(&report, "crf", "first crf table").unwrap();
        write_section(&report, "infonce", "two").unwrap();
        write_section(&report, "crf", "three").unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.starts_with("# Benchmarks\n\nProduced by `nerco bench`"));
        assert!(text.contains("<!-- BEGIN crf -->\nthree\n<!-- END crf -->"));
        assert!(text.contains("<!-- BEGIN infonce -->\ntwo\n<!-- END infonce -->"));
        assert!(!text.contains("first crf table"));
    }

    #[test]
    fn header_names_the_suite_and_its_command() {
        let h = header("crf");
        assert!(h.starts_with(
            "## `crf`\n\nCommand: `cargo build --release && target/release/nerco bench --suite crf`"
        ));
        assert!(h.contains("logical cores; load average at start"));
    }
}
