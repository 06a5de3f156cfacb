//! The experiment report: a results JSON and `docs/RESULTS.md` with the paper's tables (3, 4, 5),
//! Figure 3 (F1 by sentence length, as SVG), Weibo's NE/NM split, and wall times.

mod sections;
mod stats;
mod svg;

use crate::machine;
use crate::plan::Plan;
use crate::run_dir::{write_atomic, write_json};
use crate::train::{Metrics, Phase, Recipe};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One finished run as the results JSON lists it: the figures the report uses.
#[derive(Serialize)]
struct RunRow {
    dir: PathBuf,
    dataset: String,
    recipe: Recipe,
    seed: u64,
    dev_f1: f64,
    test_precision: f64,
    test_recall: f64,
    test_f1: f64,
    span_f1: f64,
    type_accuracy: f64,
    by_length: Vec<(String, f64)>,
    by_suffix: BTreeMap<String, f64>,
    seconds: f64,
    seconds_per_epoch: BTreeMap<String, f64>,
    epochs: BTreeMap<String, usize>,
    backend: String,
}

fn row(dir: &Path, m: &Metrics) -> RunRow {
    let phase_name = |p: Phase| p.name().to_string();
    RunRow {
        dir: dir.to_path_buf(),
        dataset: m.dataset.clone(),
        recipe: m.recipe,
        seed: m.seed,
        dev_f1: m.dev.overall.f1,
        test_precision: m.test.overall.precision,
        test_recall: m.test.overall.recall,
        test_f1: m.test.overall.f1,
        span_f1: m.test.span.f1,
        type_accuracy: m.test.type_accuracy,
        by_length: m
            .test
            .by_length
            .iter()
            .map(|(b, p)| (b.clone(), p.f1))
            .collect(),
        by_suffix: m
            .test
            .by_suffix
            .iter()
            .map(|(k, p)| (k.clone(), p.f1))
            .collect(),
        seconds: m.seconds,
        seconds_per_epoch: m
            .phases
            .iter()
            .map(|p| (phase_name(p.phase), p.seconds_per_epoch))
            .collect(),
        epochs: m
            .phases
            .iter()
            .map(|p| (phase_name(p.phase), p.epochs))
            .collect(),
        backend: m.backend.clone(),
    }
}

/// The finished runs with their data sets (sorted), selected by data set and recipe.
struct Runs<'a> {
    rows: &'a [RunRow],
    datasets: Vec<String>,
}

impl<'a> Runs<'a> {
    fn new(rows: &'a [RunRow]) -> Self {
        let mut datasets: Vec<String> = rows.iter().map(|r| r.dataset.clone()).collect();
        datasets.sort();
        datasets.dedup();
        Runs { rows, datasets }
    }

    /// The runs of `recipe` on data set `ds`, in plan order.
    fn pick(&self, ds: &str, recipe: Recipe) -> Vec<&'a RunRow> {
        self.rows
            .iter()
            .filter(|x| x.dataset == ds && x.recipe == recipe)
            .collect()
    }
}

/// `f` of each run.
fn col(v: &[&RunRow], f: fn(&RunRow) -> f64) -> Vec<f64> {
    v.iter().map(|r| f(r)).collect()
}

/// A chart written beside the report, under `figures/`.
struct Figure {
    file: String,
    svg: String,
}

/// "N cores, CPU model", as the report's header gives the machine.
fn machine() -> String {
    let cores = machine::logical_cores().unwrap_or(1);
    format!("{cores} cores, {}", machine::cpu_model())
}

/// Writes the results JSON, the report and its figures (`figures/` beside the report) for the
/// finished runs of `plan` (`planned` runs in all), with the plan's notes appended.
pub fn write(
    plan: &Plan,
    finished: &[(PathBuf, Metrics)],
    planned: usize,
    report: &Path,
    results: &Path,
) -> Result<()> {
    let rows: Vec<RunRow> = finished.iter().map(|(d, m)| row(d, m)).collect();
    write_json(results, &rows)?;
    let (mut md, figures) = render(plan, &rows, planned, &machine());
    let fig_dir = report.parent().unwrap_or(Path::new(".")).join("figures");
    for f in &figures {
        write_atomic(&fig_dir.join(&f.file), f.svg.as_bytes())?;
    }
    if let Some(notes) = &plan.notes {
        let text = std::fs::read_to_string(notes).map_err(|e| {
            anyhow::anyhow!("cannot read the plan's notes {}: {e}", notes.display())
        })?;
        let _ = writeln!(md, "\n{}", text.trim_end());
    }
    write_atomic(report, md.as_bytes())?;
    eprintln!("wrote {} and {}", report.display(), results.display());
    Ok(())
}

/// The report's Markdown (without the plan's notes) and its figures.
fn render(plan: &Plan, rows: &[RunRow], planned: usize, machine: &str) -> (String, Vec<Figure>) {
    let runs = Runs::new(rows);
    let mut md = String::new();
    sections::header(&mut md, plan, rows, planned, machine);
    if plan.dev_only {
        sections::dev_search(&mut md, &plan.variants, &runs);
        sections::wall_time(&mut md, rows);
        return (md, Vec::new());
    }
    sections::table3(&mut md, &runs);
    sections::anchors(&mut md);
    sections::nerco_vs_baseline(&mut md, &runs);
    if !plan.variants.is_empty() {
        sections::variants_vs_base(&mut md, &plan.variants, &runs);
    }
    if !plan.targets.is_empty() {
        sections::targets(&mut md, &plan.targets, &runs);
    }
    sections::table4(&mut md, &runs);
    sections::table5(&mut md, &runs);
    let figures = sections::figure3(&mut md, &plan.name, &runs);
    sections::named_vs_nominal(&mut md, &runs);
    sections::wall_time(&mut md, rows);
    (md, figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `recipe` on `dataset` with test F1 `f1` (other scores derived from it).
    pub(super) fn run_row(dataset: &str, recipe: Recipe, seed: u64, f1: f64) -> RunRow {
        RunRow {
            dir: PathBuf::from(format!("runs/t/{dataset}-{}-{seed}", recipe.name())),
            dataset: dataset.into(),
            recipe,
            seed,
            dev_f1: f1 + 1.0,
            test_precision: f1 + 0.5,
            test_recall: f1 - 0.5,
            test_f1: f1,
            span_f1: f1 + 2.0,
            type_accuracy: 99.0,
            by_length: vec![("1-20".into(), f1 - 3.0), ("21-40".into(), f1 + 3.0)],
            by_suffix: BTreeMap::new(),
            seconds: 100.0 * seed as f64,
            seconds_per_epoch: BTreeMap::from([("stage2".to_string(), 10.0)]),
            epochs: BTreeMap::from([("stage2".to_string(), 10)]),
            backend: "cpu (flex)".into(),
        }
    }

    fn plan(extra: &str) -> Plan {
        toml::from_str(&format!(
            "name = \"t\"\n{extra}\n[[dataset]]\nconfig = \"resume.toml\"\nrecipes = [\"nerco\"]\n"
        ))
        .unwrap()
    }

    fn grid() -> Vec<RunRow> {
        vec![
            run_row("resume", Recipe::Nerco, 1, 95.0),
            run_row("resume", Recipe::Nerco, 2, 94.0),
            run_row("resume", Recipe::NoContrast, 1, 94.0),
            run_row("resume", Recipe::NoContrast, 2, 93.5),
            run_row("resume", Recipe::Joint, 1, 92.0),
            run_row("resume-flat", Recipe::Nerco, 1, 96.0),
        ]
    }

    fn line_starting<'a>(md: &'a str, prefix: &str) -> &'a str {
        md.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{md}"))
    }

    #[test]
    fn tables_give_mean_std_over_seeds_and_paired_deltas() {
        let rows = grid();
        let p = plan(
            "targets = { resume = 95.0, weibo = 60.0 }\nvariants = { resume-flat = \"resume\" }",
        );
        let (md, figures) = render(&p, &rows, 8, "2 cores, test CPU");
        assert!(md.starts_with("# Results: `t`\n"));
        assert!(md.contains(
            "(6 of 8 planned runs finished). Machine: 2 cores, test CPU; backend: cpu (flex)."
        ));
        // Table 3: means over seeds 1 and 2 with the sample std.
        assert_eq!(
            line_starting(&md, "| resume | nerco | 1,2 |"),
            "| resume | nerco | 1,2 | 95.50 ± 0.71 | 95.00 ± 0.71 | 94.00 ± 0.71 | 94.50 ± 0.71 |"
        );
        // NerCo − no-contrast by seed: +1.0 and +0.5.
        assert_eq!(
            line_starting(&md, "| resume | 2 |"),
            "| resume | 2 | +0.75 ± 0.35 | +0.75 ± 0.35 | +0.00 ± 0.00 | +0.75 ± 0.35 | 2/2 |"
        );
        // The variant pairs with its base's seed 1 only.
        assert_eq!(
            line_starting(&md, "| resume-flat | resume |"),
            "| resume-flat | resume | 1 | 96.00 | 95.00 | +1.00 | +1.00 | 1/1 | 100 / 100 |"
        );
        assert!(md.contains("| resume | 95.00 | 94.50 | 0.50 short |"));
        assert!(md.contains("| weibo | 60.00 | – | – |"));
        // Table 5: joint against nerco's mean, no-filter absent.
        assert!(
            md.contains("| resume | 94.50 ± 0.71 | – | 92.00 (-2.50) | 93.75 ± 0.35 (-0.75) |")
        );
        // Figure 3: one chart per data set, means by bucket.
        let files: Vec<&str> = figures.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "f1-by-length-t-resume.svg",
                "f1-by-length-t-resume-flat.svg"
            ]
        );
        assert!(md.contains("| nerco | 91.50 | 97.50 |"));
        // No run has NAM/NOM scores, so no such section; every run has a wall-time row.
        assert!(!md.contains("NAM"));
        assert_eq!(md.matches("| `runs/t/").count(), 6);
    }

    #[test]
    fn named_and_nominal_mentions_appear_when_runs_have_them() {
        let mut rows = vec![run_row("weibo", Recipe::Nerco, 1, 55.0)];
        rows[0].by_suffix = BTreeMap::from([("NAM".into(), 60.0), ("NOM".into(), 50.0)]);
        let (md, _) = render(&plan(""), &rows, 1, "m");
        assert!(
            md.contains("| weibo | nerco | 60.00 | 50.00 | 55.00 |"),
            "{md}"
        );
        assert!(!md.contains("paired by seed\n\nΔ = variant"));
        assert!(!md.contains("### Targets"));
    }

    #[test]
    fn a_dev_only_report_compares_points_on_dev_and_prints_no_test_score() {
        let p = plan("dev_only = true\nvariants = { resume-flat = \"resume\" }");
        let (md, figures) = render(&p, &grid(), 6, "m");
        // resume-flat seed 1: dev 97 against base nerco 96 and no-contrast 95.
        assert!(
            md.contains("| resume-flat | resume | 1 | 97.00 | +1.00 | 1/1 | +2.00 | 1/1 |"),
            "{md}"
        );
        assert!(
            md.contains("| resume | nerco | 1, 2 | 95.50 ± 0.71 |"),
            "{md}"
        );
        assert!(!md.contains("test F1") && !md.contains("test P"), "{md}");
        assert!(figures.is_empty());
    }

    #[test]
    fn binder_runs_get_their_own_rows_after_the_crf_recipes() {
        let mut rows = grid();
        rows.push(run_row("resume", Recipe::NercoBinder, 1, 93.0));
        rows.push(run_row("resume", Recipe::Binder, 1, 92.5));
        let (md, _) = render(&plan(""), &rows, 8, "m");
        let binder = line_starting(&md, "| resume | binder | 1 |");
        assert!(binder.ends_with("| 92.50 |"), "{binder}");
        let both = line_starting(&md, "| resume | nerco+binder | 1 |");
        assert!(both.ends_with("| 93.00 |"), "{both}");
        let at = |l: &str| md.find(l).unwrap();
        assert!(at("| resume | joint |") < at(binder) && at(binder) < at(both));
    }

    #[test]
    fn no_finished_runs_still_make_a_report() {
        let (md, figures) = render(&plan(""), &[], 3, "m");
        assert!(md.contains("(0 of 3 planned runs finished). Machine: m; backend: –."));
        assert!(figures.is_empty());
        assert!(md.ends_with("|---|---|---|---|\n"));
    }
}
