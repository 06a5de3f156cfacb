//! `nerco experiment`: a grid of data set × recipe × seed, resumable (finished runs are skipped,
//! interrupted ones resumed), then one results file and a Markdown report.

use crate::backend::Backend;
use crate::plan::{Cell, Plan};
use crate::report;
use crate::run_dir::read_json;
use crate::train::{self, Metrics};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct ExperimentArgs<'a> {
    pub plan: &'a Path,
    pub report_only: bool,
    pub report: &'a Path,
    pub results: &'a Path,
    pub backend: Backend,
    pub jobs: usize,
}

pub fn run(a: ExperimentArgs) -> Result<()> {
    let plan = Plan::load(a.plan)?;
    let cells = plan.cells();
    if !a.report_only {
        let todo = unfinished(&cells);
        if a.jobs <= 1 {
            run_in_process(&todo, a.backend)?;
        } else {
            run_parallel(&todo, a.jobs, a.backend)?;
        }
    }
    let finished = read_finished(&cells)?;
    report::write(&plan, &finished, cells.len(), a.report, a.results)
}

/// The cells without a `metrics.json`; the others are said to be skipped.
fn unfinished(cells: &[Cell]) -> Vec<&Cell> {
    cells
        .iter()
        .filter(|c| {
            let done = c.dir.join("metrics.json").exists();
            if done {
                eprintln!("{} done, skipped", c.dir.display());
            }
            !done
        })
        .collect()
}

/// Trains the cells one after another in this process, resuming those with a checkpoint.
fn run_in_process(todo: &[&Cell], backend: Backend) -> Result<()> {
    for (k, c) in todo.iter().enumerate() {
        eprintln!("[{}/{}] {}", k + 1, todo.len(), c.dir.display());
        train::train(train::TrainArgs {
            config: Some(c.config.clone()),
            recipe: c.recipe,
            seed: c.seed,
            out: c.dir.clone(),
            resume: c.dir.join("checkpoint/state.json").exists(),
            device: backend.device()?,
            backend,
        })?;
    }
    Ok(())
}

/// The metrics of the cells that have finished, in plan order.
fn read_finished(cells: &[Cell]) -> Result<Vec<(PathBuf, Metrics)>> {
    let mut finished = Vec::new();
    for c in cells {
        let p = c.dir.join("metrics.json");
        if p.exists() {
            finished.push((c.dir.clone(), read_json(&p)?));
        }
    }
    Ok(finished)
}

/// Runs the cells as child `nerco train` processes, `jobs` at a time, each with an equal share of
/// the cores (unless RAYON_NUM_THREADS is set) and its output in `<run dir>.log`. A failed run is
/// reported and the others go on; the command fails at the end if any did.
fn run_parallel(todo: &[&Cell], jobs: usize, backend: Backend) -> Result<()> {
    let exe = std::env::current_exe().context("locating the nerco executable")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads =
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| (cores / jobs).max(1).to_string());
    let mut queue = todo.iter().enumerate();
    let mut running: Vec<(&Cell, Child)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    loop {
        while running.len() < jobs {
            let Some((k, c)) = queue.next() else { break };
            eprintln!(
                "[{}/{}] {} (log: {}, {threads} threads)",
                k + 1,
                todo.len(),
                c.dir.display(),
                c.dir.with_extension("log").display()
            );
            running.push((c, spawn_train(&exe, c, backend, &threads)?));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        failed.extend(reap_finished(&mut running)?);
    }
    if !failed.is_empty() {
        anyhow::bail!("{} run(s) failed:\n{}", failed.len(), failed.join("\n"));
    }
    Ok(())
}

/// Starts `nerco train` for one cell (resuming it when it has a checkpoint), its output in
/// `<run dir>.log`.
fn spawn_train(exe: &Path, c: &Cell, backend: Backend, threads: &str) -> Result<Child> {
    if let Some(parent) = c.dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let log_path = c.dir.with_extension("log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(["--backend", backend.arg(), "train", "--config"])
        .arg(&c.config)
        .args(["--recipe", c.recipe.name(), "--seed", &c.seed.to_string()])
        .arg("--out")
        .arg(&c.dir)
        .env("RAYON_NUM_THREADS", threads)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if c.dir.join("checkpoint/state.json").exists() {
        cmd.arg("--resume");
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

/// Removes the children that have exited from `running`, saying how each ended; returns a line
/// for each that failed.
fn reap_finished(running: &mut Vec<(&Cell, Child)>) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    let mut i = 0;
    while i < running.len() {
        if let Some(status) = running[i].1.try_wait()? {
            let (c, _) = running.remove(i);
            if status.success() {
                eprintln!("finished {}", c.dir.display());
            } else {
                let msg = format!(
                    "{} failed ({status}); see {}",
                    c.dir.display(),
                    c.dir.with_extension("log").display()
                );
                eprintln!("{msg}");
                failed.push(msg);
            }
        } else {
            i += 1;
        }
    }
    Ok(failed)
}
