//! Timing helpers shared by the suites: the repetition count, the median, milliseconds since.

use std::time::Instant;

/// Timed repetitions per measurement (after a warm-up).
pub const REPS: usize = 5;

/// The median (mean of the middle two for an even count); NaN for no values.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ms_counts_elapsed_milliseconds() {
        let t = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let m = ms(t);
        assert!((5.0..5_000.0).contains(&m), "{m}");
    }
}
