//! `nerco experiment`: a grid of data set × recipe × seed, resumable (finished runs are skipped,
//! interrupted ones resumed), then one results file and a Markdown report.

use crate::backend::Backend;
use crate::report;
use crate::run_dir::read_json;
use crate::train::{self, Metrics, Recipe};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Where the run directories go (default `runs/<name>`).
    #[serde(default)]
    pub runs: Option<PathBuf>,
    #[serde(rename = "dataset")]
    pub datasets: Vec<PlanDataset>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDataset {
    pub config: PathBuf,
    pub recipes: Vec<Recipe>,
    /// Overrides the plan's seeds for this data set.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}

pub struct Cell {
    pub config: PathBuf,
    pub recipe: Recipe,
    pub seed: u64,
    pub dir: PathBuf,
}

impl Plan {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plan {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid plan {}", path.display()))
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.runs
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&self.name))
    }

    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for d in &self.datasets {
            let stem = d
                .config
                .file_stem()
                .map_or("data".into(), |s| s.to_string_lossy().to_string());
            for &recipe in &d.recipes {
                for &seed in d.seeds.as_ref().unwrap_or(&self.seeds) {
                    let r = serde_json::to_value(recipe)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    out.push(Cell {
                        config: d.config.clone(),
                        recipe,
                        seed,
                        dir: self.runs_dir().join(format!("{stem}-{r}-{seed}")),
                    });
                }
            }
        }
        out
    }
}

pub struct ExperimentArgs<'a> {
    pub plan: &'a Path,
    pub report_only: bool,
    pub report: &'a Path,
    pub results: &'a Path,
    pub backend: Backend,
}

pub fn run(a: ExperimentArgs) -> Result<()> {
    let plan = Plan::load(a.plan)?;
    let cells = plan.cells();
    if !a.report_only {
        for (k, c) in cells.iter().enumerate() {
            if c.dir.join("metrics.json").exists() {
                eprintln!(
                    "[{}/{}] {} done, skipped",
                    k + 1,
                    cells.len(),
                    c.dir.display()
                );
                continue;
            }
            eprintln!("[{}/{}] {}", k + 1, cells.len(), c.dir.display());
            train::train(train::TrainArgs {
                config: Some(c.config.clone()),
                recipe: c.recipe,
                seed: c.seed,
                out: c.dir.clone(),
                resume: c.dir.join("checkpoint/state.json").exists(),
                device: a.backend.device()?,
                backend_name: a.backend.name().to_string(),
            })?;
        }
    }
    let mut finished: Vec<(PathBuf, Metrics)> = Vec::new();
    for c in &cells {
        let p = c.dir.join("metrics.json");
        if p.exists() {
            finished.push((c.dir.clone(), read_json(&p)?));
        }
    }
    report::write(&plan, &finished, cells.len(), a.report, a.results)
}
