//! `nerco`: train, evaluate and apply NerCo Chinese NER models.

use clap::Parser;
use trainer::cli::Cli;

fn main() -> anyhow::Result<()> {
    trainer::alloc::tune();
    Cli::parse().run()
}
