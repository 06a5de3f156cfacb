//! Figure 3's chart: test F1 by sentence-length bucket as an SVG line chart, one line per recipe.

use std::fmt::Write;

const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// The chart's geometry: canvas size, margins, buckets on x and the F1 range on y.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    buckets: Vec<String>,
    lo: f64,
    hi: f64,
}

impl Frame {
    fn new(series: &[(&str, Vec<(String, f64)>)]) -> Self {
        let vals: Vec<f64> = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|x| x.1))
            .collect();
        // The y range: whole multiples of 5 around the values, at most 100, at least 5 high.
        let lo = (vals.iter().cloned().fold(100.0, f64::min) / 5.0).floor() * 5.0;
        let hi = 100f64
            .min((vals.iter().cloned().fold(0.0, f64::max) / 5.0).ceil() * 5.0)
            .max(lo + 5.0);
        Frame {
            w: 560.0,
            h: 320.0,
            left: 50.0,
            right: 130.0,
            top: 30.0,
            bottom: 40.0,
            buckets: bucket_order(series),
            lo,
            hi,
        }
    }

    fn x(&self, i: usize) -> f64 {
        self.left
            + (self.w - self.left - self.right) * (i as f64 + 0.5)
                / self.buckets.len().max(1) as f64
    }

    fn y(&self, v: f64) -> f64 {
        self.top + (self.h - self.top - self.bottom) * (1.0 - (v - self.lo) / (self.hi - self.lo))
    }
}

/// Every bucket of any series once, in `LENGTH_BUCKETS` order (unknown names last).
fn bucket_order(series: &[(&str, Vec<(String, f64)>)]) -> Vec<String> {
    let mut b: Vec<String> = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|(k, _)| k.clone()))
        .collect();
    let order = model_core::metrics::LENGTH_BUCKETS;
    b.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(99));
    b.dedup();
    b
}

/// A line chart of F1 by length bucket, one line per recipe.
pub(super) fn length_svg(title: &str, series: &[(&str, Vec<(String, f64)>)]) -> String {
    let f = Frame::new(series);
    let (w, h, left, right) = (f.w, f.h, f.left, f.right);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n",
        (w - right + left) / 2.0
    );
    axes(&mut s, &f);
    for (k, (name, pts)) in series.iter().enumerate() {
        line(&mut s, &f, k, name, pts);
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal grid lines every 5 points with their labels, the bucket names and the x title.
fn axes(s: &mut String, f: &Frame) {
    let (w, h, left, right, bottom) = (f.w, f.h, f.left, f.right, f.bottom);
    let mut tick = f.lo;
    while tick <= f.hi + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{0}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{tick:.0}</text>",
            w - right,
            f.y(tick),
            left - 6.0,
            f.y(tick) + 4.0
        );
        tick += 5.0;
    }
    for (i, b) in f.buckets.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{b}</text>",
            f.x(i),
            h - bottom + 18.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">sentence length (chars)</text>",
        (w - right + left) / 2.0,
        h - 6.0
    );
}

/// Series `k`: its polyline, a dot per bucket and its legend entry.
fn line(s: &mut String, f: &Frame, k: usize, name: &str, pts: &[(String, f64)]) {
    let (w, right, top) = (f.w, f.right, f.top);
    let c = COLORS[k % COLORS.len()];
    let points: Vec<(f64, f64)> = pts
        .iter()
        .filter_map(|(b, v)| {
            f.buckets
                .iter()
                .position(|x| x == b)
                .map(|i| (f.x(i), f.y(*v)))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_metrics_order_and_the_range_rounds_to_fives() {
        let series = vec![
            (
                "nerco",
                vec![(">100".to_string(), 71.0), ("1-20".to_string(), 88.0)],
            ),
            ("no-contrast", vec![("21-40".to_string(), 93.0)]),
        ];
        let f = Frame::new(&series);
        assert_eq!(f.buckets, ["1-20", "21-40", ">100"]);
        assert_eq!((f.lo, f.hi), (70.0, 95.0));
        // The lowest tick sits on the plot's bottom edge, the highest on its top.
        assert!((f.y(70.0) - (f.h - f.bottom)).abs() < 1e-9);
        assert!((f.y(95.0) - f.top).abs() < 1e-9);
        let svg = length_svg("t", &series);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(
            svg.matches("text-anchor=\"end\"").count(),
            6,
            "ticks 70..=95"
        );
        assert!(svg.ends_with("</svg>\n"));
    }
}
