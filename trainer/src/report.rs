//! The experiment report: a results JSON and `docs/RESULTS.md` with the paper's tables (3, 4, 5),
//! Figure 3 (F1 by sentence length, as SVG), Weibo's NE/NM split, and wall times.

use crate::experiment::Plan;
use crate::run_dir::{write_atomic, write_json};
use crate::train::{Metrics, Phase, Recipe};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Test F1 anchors from DESIGN §3 (Weibo, Resume, MSRA).
const ANCHORS: &[(&str, [f64; 3])] = &[
    ("NerCo (with Chinese BERT)", [72.79, 96.82, 96.29]),
    ("FLAT, no BERT (pretrained vectors)", [60.32, 95.45, 94.12]),
    ("TENER, no BERT", [58.17, 95.00, 92.74]),
    ("char+bigram BiLSTM-CRF", [56.75, 94.41, 91.87]),
];

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

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Rows of `a` matched with the row of `b` that has the same seed.
fn pair_by_seed<'a>(a: Vec<&'a RunRow>, b: &[&'a RunRow]) -> Vec<(&'a RunRow, &'a RunRow)> {
    a.into_iter()
        .filter_map(|x| b.iter().find(|y| y.seed == x.seed).map(|y| (x, *y)))
        .collect()
}

/// Mean ± std of `f(first) − f(second)` over the pairs (no std for a single pair).
fn paired_delta(pairs: &[(&RunRow, &RunRow)], f: fn(&RunRow) -> f64) -> String {
    let d: Vec<f64> = pairs.iter().map(|(a, b)| f(a) - f(b)).collect();
    let (m, sd) = mean_std(&d);
    if d.len() > 1 {
        format!("{m:+.2} ± {sd:.2}")
    } else {
        format!("{m:+.2}")
    }
}

fn fmt(v: &[f64]) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let (m, s) = mean_std(v);
    if v.len() > 1 {
        format!("{m:.2} ± {s:.2}")
    } else {
        format!("{m:.2}")
    }
}

const RECIPES: [Recipe; 4] = [
    Recipe::NoContrast,
    Recipe::Nerco,
    Recipe::NoFilter,
    Recipe::Joint,
];

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

/// A line chart of F1 by length bucket, one line per recipe.
fn length_svg(title: &str, series: &[(&str, Vec<(String, f64)>)]) -> String {
    let (w, h, left, right, top, bottom) = (560.0, 320.0, 50.0, 130.0, 30.0, 40.0);
    let buckets: Vec<String> = {
        let mut b: Vec<String> = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|(k, _)| k.clone()))
            .collect();
        let order = model_core::metrics::LENGTH_BUCKETS;
        b.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(99));
        b.dedup();
        b
    };
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|x| x.1))
        .collect();
    let lo = (vals.iter().cloned().fold(100.0, f64::min) / 5.0).floor() * 5.0;
    let hi = 100f64
        .min((vals.iter().cloned().fold(0.0, f64::max) / 5.0).ceil() * 5.0)
        .max(lo + 5.0);
    let x = |i: usize| left + (w - left - right) * (i as f64 + 0.5) / buckets.len().max(1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo));
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n",
        (w - right + left) / 2.0
    );
    let mut tick = lo;
    while tick <= hi + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{0}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{tick:.0}</text>",
            w - right,
            y(tick),
            left - 6.0,
            y(tick) + 4.0
        );
        tick += 5.0;
    }
    for (i, b) in buckets.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{b}</text>",
            x(i),
            h - bottom + 18.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">sentence length (chars)</text>",
        (w - right + left) / 2.0,
        h - 6.0
    );
    for (k, (name, pts)) in series.iter().enumerate() {
        let c = colors[k % colors.len()];
        let points: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|(b, v)| buckets.iter().position(|x| x == b).map(|i| (x(i), y(*v))))
            .collect();
        let line: Vec<String> = points
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for (px, py) in &points {
            let _ = writeln!(
                s,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{c}\"/>"
            );
        }
        let ly = top + 16.0 * k as f64 + 10.0;
        let _ = writeln!(
            s,
            "<line x1=\"{0}\" x2=\"{1}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"2\"/><text x=\"{2}\" y=\"{3}\">{name}</text>",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 35.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

pub fn write(
    plan: &Plan,
    finished: &[(PathBuf, Metrics)],
    planned: usize,
    report: &Path,
    results: &Path,
) -> Result<()> {
    let rows: Vec<RunRow> = finished.iter().map(|(d, m)| row(d, m)).collect();
    write_json(results, &rows)?;
    let mut datasets: Vec<String> = rows.iter().map(|r| r.dataset.clone()).collect();
    datasets.sort();
    datasets.dedup();
    let pick = |ds: &str, r: Recipe| -> Vec<&RunRow> {
        rows.iter()
            .filter(|x| x.dataset == ds && x.recipe == r)
            .collect()
    };
    let col =
        |v: &[&RunRow], f: fn(&RunRow) -> f64| -> Vec<f64> { v.iter().map(|r| f(r)).collect() };

    let mut md = String::new();
    let _ = writeln!(md, "# Results: `{}`\n", plan.name);
    let _ = writeln!(
        md,
        "Generated by `nerco experiment --plan experiments/{}.toml` from the run directories under `{}` ({} of {} planned runs finished). \
         Machine: {}; backend: {}. Every number is from a run's `metrics.json`; test is reported at the best dev epoch. Mean ± sample std over seeds.\n",
        plan.name,
        plan.runs_dir().display(),
        rows.len(),
        planned,
        machine(),
        rows.first().map_or("–".to_string(), |r| r.backend.clone())
    );

    let _ = writeln!(md, "## Table 3 analogue: test P / R / F1\n");
    let _ = writeln!(
        md,
        "| data set | recipe | seeds | dev F1 | test P | test R | test F1 |\n|---|---|---|---|---|---|---|"
    );
    for ds in &datasets {
        for r in RECIPES {
            let v = pick(ds, r);
            if v.is_empty() {
                continue;
            }
            let seeds: Vec<String> = v.iter().map(|x| x.seed.to_string()).collect();
            let _ = writeln!(
                md,
                "| {ds} | {} | {} | {} | {} | {} | {} |",
                r.name(),
                seeds.join(","),
                fmt(&col(&v, |x| x.dev_f1)),
                fmt(&col(&v, |x| x.test_precision)),
                fmt(&col(&v, |x| x.test_recall)),
                fmt(&col(&v, |x| x.test_f1))
            );
        }
    }
    let _ = writeln!(
        md,
        "\nAnchors (test F1 from the papers, DESIGN §3; all used pretrained vectors or BERT, we train from scratch):\n"
    );
    let _ = writeln!(md, "| system | Weibo | Resume | MSRA |\n|---|---|---|---|");
    for (name, v) in ANCHORS {
        let _ = writeln!(md, "| {name} | {} | {} | {} |", v[0], v[1], v[2]);
    }

    let _ = writeln!(
        md,
        "\n### NerCo against its stage-2-only baseline, paired by seed\n\nΔ = `nerco` − `no-contrast` on the same data, config and seed (mean ± std over the paired seeds; wins = seeds where NerCo's test F1 is higher).\n"
    );
    let _ = writeln!(
        md,
        "| data set | paired seeds | Δ test F1 | Δ Span F | Δ Type Acc | Δ dev F1 | wins |\n|---|---|---|---|---|---|---|"
    );
    for ds in &datasets {
        let pairs = pair_by_seed(pick(ds, Recipe::Nerco), &pick(ds, Recipe::NoContrast));
        if pairs.is_empty() {
            continue;
        }
        let delta = |f: fn(&RunRow) -> f64| paired_delta(&pairs, f);
        let wins = pairs.iter().filter(|(n, b)| n.test_f1 > b.test_f1).count();
        let _ = writeln!(
            md,
            "| {ds} | {} | {} | {} | {} | {} | {wins}/{} |",
            pairs.len(),
            delta(|x| x.test_f1),
            delta(|x| x.span_f1),
            delta(|x| x.type_accuracy),
            delta(|x| x.dev_f1),
            pairs.len()
        );
    }
    if !plan.variants.is_empty() {
        let _ = writeln!(
            md,
            "\n### Encoder and data variants against their base, paired by seed\n\nΔ = variant − base, both `nerco`, same seed (mean ± std over the paired seeds; wins = seeds where the variant's test F1 is higher).\n"
        );
        let _ = writeln!(
            md,
            "| variant | base | paired seeds | variant test F1 | base test F1 | Δ test F1 | Δ dev F1 | wins | s/run, variant / base |\n|---|---|---|---|---|---|---|---|---|"
        );
        for (variant, base) in &plan.variants {
            let pairs = pair_by_seed(pick(variant, Recipe::Nerco), &pick(base, Recipe::Nerco));
            if pairs.is_empty() {
                let _ = writeln!(md, "| {variant} | {base} | 0 | – | – | – | – | – | – |");
                continue;
            }
            let (vs, bs): (Vec<&RunRow>, Vec<&RunRow>) = pairs.iter().copied().unzip();
            let delta = |f: fn(&RunRow) -> f64| paired_delta(&pairs, f);
            let wins = pairs.iter().filter(|(v, b)| v.test_f1 > b.test_f1).count();
            let _ = writeln!(
                md,
                "| {variant} | {base} | {} | {} | {} | {} | {} | {wins}/{} | {:.0} / {:.0} |",
                pairs.len(),
                fmt(&col(&vs, |x| x.test_f1)),
                fmt(&col(&bs, |x| x.test_f1)),
                delta(|x| x.test_f1),
                delta(|x| x.dev_f1),
                pairs.len(),
                mean_std(&col(&vs, |x| x.seconds)).0,
                mean_std(&col(&bs, |x| x.seconds)).0,
            );
        }
    }
    if !plan.targets.is_empty() {
        let _ = writeln!(
            md,
            "\n### Targets (mean test F1 of `nerco`, from scratch)\n\n| data set | target | NerCo mean | gap |\n|---|---|---|---|"
        );
        for (ds, target) in &plan.targets {
            let v = col(&pick(ds, Recipe::Nerco), |x| x.test_f1);
            if v.is_empty() {
                let _ = writeln!(md, "| {ds} | {target:.2} | – | – |");
            } else {
                let m = mean_std(&v).0;
                let gap = if m >= *target {
                    "met".to_string()
                } else {
                    format!("{:.2} short", target - m)
                };
                let _ = writeln!(md, "| {ds} | {target:.2} | {m:.2} | {gap} |");
            }
        }
    }

    let _ = writeln!(md, "\n## Table 4 analogue: Span F and Type Acc\n");
    let _ = writeln!(
        md,
        "| data set | recipe | Span F | Type Acc | F1 |\n|---|---|---|---|---|"
    );
    for ds in &datasets {
        for r in [Recipe::NoContrast, Recipe::Nerco] {
            let v = pick(ds, r);
            if !v.is_empty() {
                let _ = writeln!(
                    md,
                    "| {ds} | {} | {} | {} | {} |",
                    r.name(),
                    fmt(&col(&v, |x| x.span_f1)),
                    fmt(&col(&v, |x| x.type_accuracy)),
                    fmt(&col(&v, |x| x.test_f1))
                );
            }
        }
    }

    let _ = writeln!(
        md,
        "\n## Table 5 analogue: ablations (test F1, Δ against `nerco`)\n"
    );
    let _ = writeln!(
        md,
        "| data set | nerco | no-filter | joint | no-contrast |\n|---|---|---|---|---|"
    );
    for ds in &datasets {
        let base = col(&pick(ds, Recipe::Nerco), |x| x.test_f1);
        let cell = |r: Recipe| {
            let v = col(&pick(ds, r), |x| x.test_f1);
            if v.is_empty() || base.is_empty() || r == Recipe::Nerco {
                fmt(&v)
            } else {
                format!("{} ({:+.2})", fmt(&v), mean_std(&v).0 - mean_std(&base).0)
            }
        };
        let _ = writeln!(
            md,
            "| {ds} | {} | {} | {} | {} |",
            cell(Recipe::Nerco),
            cell(Recipe::NoFilter),
            cell(Recipe::Joint),
            cell(Recipe::NoContrast)
        );
    }

    let _ = writeln!(md, "\n## Figure 3 analogue: F1 by sentence length\n");
    let fig_dir = report.parent().unwrap_or(Path::new(".")).join("figures");
    for ds in &datasets {
        let mut series = Vec::new();
        for r in [Recipe::NoContrast, Recipe::Nerco] {
            let v = pick(ds, r);
            if v.is_empty() {
                continue;
            }
            let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for x in &v {
                for (b, f) in &x.by_length {
                    by.entry(b.clone()).or_default().push(*f);
                }
            }
            series.push((
                r.name(),
                by.into_iter()
                    .map(|(b, f)| (b, mean_std(&f).0))
                    .collect::<Vec<_>>(),
            ));
        }
        if series.is_empty() {
            continue;
        }
        let file = format!("f1-by-length-{}-{}.svg", plan.name, ds);
        write_atomic(
            &fig_dir.join(&file),
            length_svg(&format!("{ds}: test F1 by sentence length"), &series).as_bytes(),
        )?;
        let _ = writeln!(md, "![{ds}](figures/{file})\n");
        let _ = writeln!(
            md,
            "| recipe | {} |\n|---|{}",
            series[0]
                .1
                .iter()
                .map(|x| x.0.clone())
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(series[0].1.len())
        );
        for (name, pts) in &series {
            let _ = writeln!(
                md,
                "| {name} | {} |",
                pts.iter()
                    .map(|p| format!("{:.2}", p.1))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        md.push('\n');
    }

    let weibo: Vec<&str> = datasets
        .iter()
        .filter(|d| {
            rows.iter()
                .any(|r| &r.dataset == *d && !r.by_suffix.is_empty())
        })
        .map(String::as_str)
        .collect();
    if !weibo.is_empty() {
        let _ = writeln!(
            md,
            "## Named (NAM) vs nominal (NOM) mentions\n\n| data set | recipe | NE (.NAM) F1 | NM (.NOM) F1 | overall |\n|---|---|---|---|---|"
        );
        for ds in weibo {
            for r in RECIPES {
                let v = pick(ds, r);
                if !v.is_empty() {
                    let get = |k: &str| {
                        v.iter()
                            .filter_map(|x| x.by_suffix.get(k).copied())
                            .collect::<Vec<_>>()
                    };
                    let _ = writeln!(
                        md,
                        "| {ds} | {} | {} | {} | {} |",
                        r.name(),
                        fmt(&get("NAM")),
                        fmt(&get("NOM")),
                        fmt(&col(&v, |x| x.test_f1))
                    );
                }
            }
        }
        md.push('\n');
    }

    let _ = writeln!(
        md,
        "## Wall time\n\n| run | epochs | s/epoch | total s |\n|---|---|---|---|"
    );
    for r in &rows {
        let epochs: Vec<String> = r.epochs.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let spe: Vec<String> = r
            .seconds_per_epoch
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect();
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {:.0} |",
            r.dir.display(),
            epochs.join(", "),
            spe.join(", "),
            r.seconds
        );
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
