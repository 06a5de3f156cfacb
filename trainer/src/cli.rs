//! The `nerco` command line: its subcommands and flags (clap), and for each subcommand the
//! library call that does the work.

use crate::backend::Backend;
use crate::{bench, experiment, export, infer, pretrain, train};
use anyhow::Result;
use burn::prelude::Device;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "nerco",
    version,
    about = "NerCo: contrastive two-stage Chinese NER (Zhang et al., IJCAI 2023)"
)]
pub struct Cli {
    /// Compute backend.
    #[arg(long, global = true, value_enum, default_value = "cpu")]
    pub backend: Backend,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a model (stage 1 contrastive, then stage 2 CRF) and evaluate it.
    Train(TrainCmd),
    /// Score a trained run on a split (or any CoNLL file).
    Eval(EvalCmd),
    /// Tag text from a file or standard input.
    Predict(PredictCmd),
    /// Write the web bundle of a run (weights, vocabularies, metrics, viewer embeddings).
    Export(ExportCmd),
    /// Run a grid of data set × recipe × seed (resumable) and write the report.
    Experiment(ExperimentCmd),
    /// Benchmarks: training throughput, InfoNCE forms, inference, CRF cost vs length.
    Bench(BenchCmd),
    /// Pretrain a BERT character encoder by masked-character modelling on unlabelled text; the
    /// output directory is what `[model] char_encoder` loads (Hugging Face layout).
    Pretrain(PretrainCmd),
    /// Print token embeddings (encoder outputs) of a CoNLL file as JSON Lines.
    Embed(EmbedCmd),
}

impl Cli {
    /// Runs the subcommand on the chosen backend's device.
    pub fn run(self) -> Result<()> {
        let device = self.backend.device()?;
        match self.command {
            Command::Train(c) => c.run(self.backend, device),
            Command::Eval(c) => c.run(&device),
            Command::Predict(c) => {
                infer::predict(&c.run, c.file.as_deref(), c.format, c.output, &device)
            }
            Command::Export(c) => c.run(&device),
            Command::Experiment(c) => c.run(self.backend),
            Command::Bench(c) => bench::run(
                c.suite.as_deref(),
                &c.report,
                &device,
                self.backend.is_gpu(),
            ),
            Command::Pretrain(c) => pretrain::pretrain(pretrain::PretrainArgs {
                out: c.out,
                resume: c.resume,
                settings: c.settings,
                device,
            }),
            Command::Embed(c) => {
                export::embed_cmd(&c.run, &c.model, &c.data, c.max_tokens, &device)
            }
        }
    }
}

#[derive(Args)]
pub struct TrainCmd {
    /// Run configuration (TOML); default: the embedded configs/resume.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "nerco", value_parser = recipe_arg())]
    pub recipe: train::Recipe,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run directory (config, log, checkpoints, metrics.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run in --out.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args)]
pub struct EvalCmd {
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// A CoNLL file to score instead of the config's split.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write `char gold pred` lines (conlleval input).
    #[arg(long)]
    pub write_conll: Option<PathBuf>,
    /// Write the full report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args)]
pub struct PredictCmd {
    #[arg(long)]
    pub run: PathBuf,
    /// Input file (default: standard input).
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: infer::InputFormat,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub output: infer::OutputFormat,
}

#[derive(Args)]
pub struct ExportCmd {
    #[arg(long)]
    pub run: PathBuf,
    /// Bundle directory, e.g. static/models/resume.
    #[arg(long)]
    pub out: PathBuf,
    /// A no-contrast run of the same data, for the viewer's baseline view.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Test-set tokens to embed for the viewer.
    #[arg(long, default_value_t = 1500)]
    pub sample_tokens: usize,
    /// Store the weights in f32 (default: f16, half the size).
    #[arg(long)]
    pub full_precision: bool,
    /// Keep only the N most frequent bigrams (smaller page weight; bundle.json reports the
    /// test F1 it costs).
    #[arg(long)]
    pub max_bigrams: Option<usize>,
    /// FLAT models: keep only the N most frequent lexicon words (the others are no longer
    /// matched).
    #[arg(long)]
    pub max_words: Option<usize>,
    /// Training sentences (at most 60 characters, from the run's training split) in the page's
    /// live-training sample, `live-sample.json` (0: no sample).
    #[arg(long, default_value_t = 300)]
    pub live_train: usize,
    /// Held-out sentences of the live sample (from the test split; the tokens it plots).
    #[arg(long, default_value_t = 100)]
    pub live_held_out: usize,
}

#[derive(Args)]
pub struct ExperimentCmd {
    /// Plan, e.g. experiments/paper.toml.
    #[arg(long)]
    pub plan: PathBuf,
    /// Only regenerate the report from finished runs.
    #[arg(long)]
    pub report_only: bool,
    #[arg(long, default_value = "docs/RESULTS.md")]
    pub report: PathBuf,
    #[arg(long, default_value = "docs/results.json")]
    pub results: PathBuf,
    /// Runs at a time, each a child `nerco train` with cores/jobs threads: on 2 cores two
    /// 1-thread runs finish a grid sooner than one 2-thread run (docs/BENCHMARKS.md).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

#[derive(Args)]
pub struct BenchCmd {
    /// One suite (train, infonce, inference, crf); default: all.
    #[arg(long)]
    pub suite: Option<String>,
    /// Where the Markdown results go.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub report: PathBuf,
}

#[derive(Args)]
pub struct PretrainCmd {
    /// Output directory, e.g. runs/pretrain/zh-chars.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: pretrain::PretrainSettings,
    /// Continue an interrupted run in --out from its last save, with its own settings.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args)]
pub struct EmbedCmd {
    #[arg(long)]
    pub run: PathBuf,
    /// Weights in the run directory: model.bpk (final) or stage1.bpk.
    #[arg(long, default_value = "model.bpk")]
    pub model: String,
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 2000)]
    pub max_tokens: usize,
}

/// `--recipe`: the names of model-core's recipes, listed in `--help` and in clap's errors.
fn recipe_arg() -> impl clap::builder::TypedValueParser<Value = train::Recipe> {
    use clap::builder::TypedValueParser;
    let names = train::Recipe::ALL.map(|r| r.name());
    clap::builder::PossibleValuesParser::new(names).map(|s| {
        s.parse::<train::Recipe>()
            .expect("a listed recipe name parses")
    })
}

/// Where `nerco train` writes when `--out` is not given: `runs/<config stem>-<recipe>-<seed>`,
/// with `resume` as the stem when no config is given (the embedded default).
pub fn default_out_dir(config: Option<&Path>, recipe: train::Recipe, seed: u64) -> PathBuf {
    let stem = config.map_or("resume".to_string(), |c| {
        c.file_stem()
            .map_or("run".into(), |s| s.to_string_lossy().to_string())
    });
    PathBuf::from("runs").join(format!("{stem}-{}-{seed}", recipe.name()))
}

impl TrainCmd {
    fn run(self, backend: Backend, device: Device) -> Result<()> {
        let out = self
            .out
            .unwrap_or_else(|| default_out_dir(self.config.as_deref(), self.recipe, self.seed));
        train::train(train::TrainArgs {
            config: self.config,
            recipe: self.recipe,
            seed: self.seed,
            out,
            resume: self.resume,
            device,
            backend,
        })?;
        Ok(())
    }
}

impl EvalCmd {
    fn run(self, device: &Device) -> Result<()> {
        let args = infer::EvalArgs {
            run: &self.run,
            split: &self.split,
            data: self.data.as_deref(),
            write_conll: self.write_conll.as_deref(),
            json: self.json.as_deref(),
        };
        infer::eval(args, device)
    }
}

impl ExportCmd {
    fn run(self, device: &Device) -> Result<()> {
        let args = export::ExportArgs {
            run: &self.run,
            out: &self.out,
            baseline: self.baseline.as_deref(),
            sample_tokens: self.sample_tokens,
            half: !self.full_precision,
            max_bigrams: self.max_bigrams,
            max_words: self.max_words,
            live: (self.live_train, self.live_held_out),
        };
        export::export(args, device)
    }
}

impl ExperimentCmd {
    fn run(self, backend: Backend) -> Result<()> {
        experiment::run(experiment::ExperimentArgs {
            plan: &self.plan,
            report_only: self.report_only,
            report: &self.report,
            results: &self.results,
            jobs: self.jobs,
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn train_defaults_its_run_directory_from_config_recipe_and_seed() {
        assert_eq!(
            default_out_dir(
                Some(Path::new("configs/weibo.toml")),
                train::Recipe::NoContrast,
                3
            ),
            PathBuf::from("runs/weibo-no-contrast-3")
        );
        assert_eq!(
            default_out_dir(None, train::Recipe::Nerco, 42),
            PathBuf::from("runs/resume-nerco-42")
        );
    }

    #[test]
    fn subcommand_flags_and_the_global_backend_parse() {
        let cli = Cli::try_parse_from(["nerco", "bench", "--suite", "crf", "--backend", "cpu"])
            .expect("valid command line");
        assert_eq!(cli.backend, Backend::Cpu);
        assert!(matches!(
            cli.command,
            Command::Bench(BenchCmd { suite: Some(ref s), .. }) if s == "crf"
        ));
        let cli = Cli::try_parse_from(["nerco", "export", "--run", "r", "--out", "o"]).unwrap();
        let Command::Export(e) = cli.command else {
            panic!("export parsed as another subcommand")
        };
        assert_eq!(
            (e.sample_tokens, e.full_precision, e.max_bigrams),
            (1500, false, None)
        );
        assert!(Cli::try_parse_from(["nerco", "train", "--recipe", "crf"]).is_err());
    }
}
