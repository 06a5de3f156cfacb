//! The NerCo trainer as a library: run directories, training with checkpoints and resume,
//! evaluation and prediction, the web bundle, experiment grids and their reports, benchmarks and
//! character-encoder pretraining. The `nerco` binary (`main.rs`) only parses its command line
//! ([`cli::Cli`]) and calls [`cli::Cli::run`].

pub mod alloc;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod experiment;
pub mod export;
pub mod infer;
pub mod machine;
pub mod plan;
pub mod pretrain;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod train;
