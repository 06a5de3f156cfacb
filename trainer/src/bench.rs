//! `nerco bench` (being written).

use anyhow::{Result, bail};
use burn::prelude::*;
use std::path::Path;

pub fn run(_suite: Option<&str>, _report: &Path, _device: &Device) -> Result<()> {
    bail!("nerco bench is not available in this build yet")
}
