//! What a long-running loop shows while it runs: an indicatif progress bar, and log lines that go
//! both to standard error and to the run's log file.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::Write;
use std::path::Path;

const TEMPLATE: &str = "{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}";

/// A bar of `len` steps labelled `prefix`: `prefix [=====>    ] pos/len message eta …`.
pub fn bar(len: u64, prefix: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new(len).with_prefix(prefix.into());
    // The template is a constant, checked by this module's tests.
    bar.set_style(
        ProgressStyle::with_template(TEMPLATE)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// A log file opened for appending (a resumed run adds to it); every line is echoed to stderr.
pub struct Log {
    file: File,
}

impl Log {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Log { file })
    }

    /// `line` to stderr and the file; a failed write to the file does not stop the run.
    pub fn line(&mut self, line: &str) {
        eprintln!("{line}");
        let _ = writeln!(self.file, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_counts_steps_under_its_prefix() {
        ProgressStyle::with_template(TEMPLATE).expect("the template parses");
        let b = bar(10, "pretrain");
        b.set_position(3);
        b.inc(1);
        assert_eq!((b.position(), b.length()), (4, Some(10)));
        assert_eq!(b.prefix(), "pretrain");
    }

    #[test]
    fn log_appends_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        Log::open(&path).unwrap().line("first");
        let mut again = Log::open(&path).unwrap();
        again.line("second");
        drop(again);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\nsecond\n");
        let err = Log::open(&dir.path().join("no/such/dir/x.log"))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("cannot open"), "{err:#}");
    }
}
