//! `nerco`: train, evaluate and apply NerCo Chinese NER models.

mod alloc;
mod backend;
mod bench;
mod config;
mod data_prep;
mod experiment;
mod export;
mod infer;
mod pretrain;
mod report;
mod run_dir;
mod train;

use anyhow::Result;
use backend::Backend;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "nerco",
    version,
    about = "NerCo: contrastive two-stage Chinese NER (Zhang et al., IJCAI 2023)"
)]
struct Cli {
    /// Compute backend.
    #[arg(long, global = true, value_enum, default_value = "cpu")]
    backend: Backend,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (stage 1 contrastive, then stage 2 CRF) and evaluate it.
    Train {
        /// Run configuration (TOML); default: the embedded configs/resume.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "nerco", value_parser = recipe_arg())]
        recipe: train::Recipe,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run directory (config, log, checkpoints, metrics.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue an interrupted run in --out.
        #[arg(long)]
        resume: bool,
    },
    /// Score a trained run on a split (or any CoNLL file).
    Eval {
        #[arg(long)]
        run: PathBuf,
        #[arg(long, default_value = "test")]
        split: String,
        /// A CoNLL file to score instead of the config's split.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Write `char gold pred` lines (conlleval input).
        #[arg(long)]
        write_conll: Option<PathBuf>,
        /// Write the full report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Tag text from a file or standard input.
    Predict {
        #[arg(long)]
        run: PathBuf,
        /// Input file (default: standard input).
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: infer::InputFormat,
        #[arg(long, value_enum, default_value = "jsonl")]
        output: infer::OutputFormat,
    },
    /// Write the web bundle of a run (weights, vocabularies, metrics, viewer embeddings).
    Export {
        #[arg(long)]
        run: PathBuf,
        /// Bundle directory, e.g. static/models/resume.
        #[arg(long)]
        out: PathBuf,
        /// A no-contrast run of the same data, for the viewer's baseline view.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Test-set tokens to embed for the viewer.
        #[arg(long, default_value_t = 1500)]
        sample_tokens: usize,
        /// Store the weights in f32 (default: f16, half the size).
        #[arg(long)]
        full_precision: bool,
        /// Keep only the N most frequent bigrams (smaller page weight; bundle.json reports the
        /// test F1 it costs).
        #[arg(long)]
        max_bigrams: Option<usize>,
        /// FLAT models: keep only the N most frequent lexicon words (the others are no longer
        /// matched).
        #[arg(long)]
        max_words: Option<usize>,
    },
    /// Run a grid of data set × recipe × seed (resumable) and write the report.
    Experiment {
        /// Plan, e.g. experiments/paper.toml.
        #[arg(long)]
        plan: PathBuf,
        /// Only regenerate the report from finished runs.
        #[arg(long)]
        report_only: bool,
        #[arg(long, default_value = "docs/RESULTS.md")]
        report: PathBuf,
        #[arg(long, default_value = "docs/results.json")]
        results: PathBuf,
        /// Runs at a time, each a child `nerco train` with cores/jobs threads: on 2 cores two
        /// 1-thread runs finish a grid sooner than one 2-thread run (docs/BENCHMARKS.md).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// Benchmarks: training throughput, InfoNCE forms, inference, CRF cost vs length.
    Bench {
        /// One suite (train, infonce, inference, crf); default: all.
        #[arg(long)]
        suite: Option<String>,
        /// Where the Markdown results go.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        report: PathBuf,
    },
    /// Pretrain a BERT character encoder by masked-character modelling on unlabelled text; the
    /// output directory is what `[model] char_encoder` loads (Hugging Face layout).
    Pretrain {
        /// Output directory, e.g. runs/pretrain/zh-chars.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        settings: pretrain::PretrainSettings,
        /// Continue an interrupted run in --out from its last save, with its own settings.
        #[arg(long)]
        resume: bool,
    },
    /// Print token embeddings (encoder outputs) of a CoNLL file as JSON Lines.
    Embed {
        #[arg(long)]
        run: PathBuf,
        /// Weights in the run directory: model.bpk (final) or stage1.bpk.
        #[arg(long, default_value = "model.bpk")]
        model: String,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 2000)]
        max_tokens: usize,
    },
}

/// `--recipe`: the names of model-core's recipes, listed in `--help` and in clap's errors.
fn recipe_arg() -> impl clap::builder::TypedValueParser<Value = train::Recipe> {
    let names = train::Recipe::ALL.map(|r| r.name());
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names)
        .map(|s| s.parse::<train::Recipe>().expect("a listed recipe name parses"))
}

fn main() -> Result<()> {
    alloc::tune();
    let cli = Cli::parse();
    let device = cli.backend.device()?;
    match cli.command {
        Command::Train {
            config,
            recipe,
            seed,
            out,
            resume,
        } => {
            let out = match (out, &config) {
                (Some(o), _) => o,
                (None, Some(c)) => {
                    let stem = c
                        .file_stem()
                        .map_or("run".into(), |s| s.to_string_lossy().to_string());
                    PathBuf::from("runs").join(format!("{stem}-{}-{seed}", recipe.name()))
                }
                (None, None) => {
                    PathBuf::from("runs").join(format!("resume-{}-{seed}", recipe.name()))
                }
            };
            train::train(train::TrainArgs {
                config,
                recipe,
                seed,
                out,
                resume,
                device,
                backend_name: cli.backend.name().to_string(),
            })?;
        }
        Command::Eval {
            run,
            split,
            data,
            write_conll,
            json,
        } => infer::eval(
            infer::EvalArgs {
                run: &run,
                split: &split,
                data: data.as_deref(),
                write_conll: write_conll.as_deref(),
                json: json.as_deref(),
            },
            &device,
        )?,
        Command::Predict {
            run,
            file,
            format,
            output,
        } => infer::predict(&run, file.as_deref(), format, output, &device)?,
        Command::Export {
            run,
            out,
            baseline,
            sample_tokens,
            full_precision,
            max_bigrams,
            max_words,
        } => export::export(
            export::ExportArgs {
                run: &run,
                out: &out,
                baseline: baseline.as_deref(),
                sample_tokens,
                half: !full_precision,
                max_bigrams,
                max_words,
            },
            &device,
        )?,
        Command::Experiment {
            plan,
            report_only,
            report,
            results,
            jobs,
        } => experiment::run(experiment::ExperimentArgs {
            plan: &plan,
            report_only,
            report: &report,
            results: &results,
            jobs,
            backend: cli.backend,
        })?,
        Command::Bench { suite, report } => bench::run(suite.as_deref(), &report, &device)?,
        Command::Pretrain {
            out,
            settings,
            resume,
        } => pretrain::pretrain(pretrain::PretrainArgs {
            out,
            resume,
            settings,
            device,
        })?,
        Command::Embed {
            run,
            model,
            data,
            max_tokens,
        } => export::embed_cmd(&run, &model, &data, max_tokens, &device)?,
    }
    Ok(())
}
