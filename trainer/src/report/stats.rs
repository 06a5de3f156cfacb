//! The statistics of the report: mean and sample standard deviation over seeds, and differences
//! between recipes (or data sets) paired by seed.

use super::RunRow;

/// Mean and sample standard deviation (n − 1); the deviation of one value is 0.
pub(super) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// `mean ± std` with two decimals; the mean alone for one value, `–` for none.
pub(super) fn fmt(v: &[f64]) -> String {
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

/// Rows of `a` matched with the row of `b` that has the same seed.
pub(super) fn pair_by_seed<'a>(
    a: Vec<&'a RunRow>,
    b: &[&'a RunRow],
) -> Vec<(&'a RunRow, &'a RunRow)> {
    a.into_iter()
        .filter_map(|x| b.iter().find(|y| y.seed == x.seed).map(|y| (x, *y)))
        .collect()
}

/// Mean ± std of `f(first) − f(second)` over the pairs (no std for a single pair).
pub(super) fn paired_delta(pairs: &[(&RunRow, &RunRow)], f: fn(&RunRow) -> f64) -> String {
    let d: Vec<f64> = pairs.iter().map(|(a, b)| f(a) - f(b)).collect();
    let (m, sd) = mean_std(&d);
    if d.len() > 1 {
        format!("{m:+.2} ± {sd:.2}")
    } else {
        format!("{m:+.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::run_row;
    use super::*;
    use crate::train::Recipe;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 6.0]);
        assert!((m - 3.0).abs() < 1e-12);
        // Σ(x − 3)² = 4 + 1 + 0 + 9 = 14, over n − 1 = 3.
        assert!((s - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[5.5]), (5.5, 0.0));
    }

    #[test]
    fn formats_mean_std_single_and_empty() {
        assert_eq!(fmt(&[90.0, 92.0]), "91.00 ± 1.41");
        assert_eq!(fmt(&[94.486]), "94.49");
        assert_eq!(fmt(&[]), "–");
    }

    #[test]
    fn pairs_match_seeds_and_drop_the_unmatched() {
        let a = [
            run_row("resume", Recipe::Nerco, 1, 95.0),
            run_row("resume", Recipe::Nerco, 2, 94.0),
            run_row("resume", Recipe::Nerco, 4, 93.0),
        ];
        let b = [
            run_row("resume", Recipe::NoContrast, 2, 93.5),
            run_row("resume", Recipe::NoContrast, 1, 94.0),
            run_row("resume", Recipe::NoContrast, 3, 90.0),
        ];
        let pairs = pair_by_seed(a.iter().collect(), &b.iter().collect::<Vec<_>>());
        let seeds: Vec<(u64, u64)> = pairs.iter().map(|(x, y)| (x.seed, y.seed)).collect();
        assert_eq!(seeds, [(1, 1), (2, 2)]);
        // Deltas 1.0 and 0.5: mean 0.75, sample std √0.125.
        assert_eq!(paired_delta(&pairs, |x| x.test_f1), "+0.75 ± 0.35");
        assert_eq!(paired_delta(&pairs[1..], |x| x.test_f1), "+0.50");
        let worse = pair_by_seed(b.iter().collect(), &a.iter().collect::<Vec<_>>());
        assert_eq!(paired_delta(&worse, |x| x.test_f1), "-0.75 ± 0.35");
    }
}
