//! Cluster quality of token representations: cosine kNN purity and silhouette with the Semantic
//! Classes as clusters. Plain host code, used by the trainer to select a stage-1 checkpoint.
//!
//! The page computes the same numbers in `static/js/quality.js` (on the embeddings it already
//! holds, without a round trip into wasm). The two are one definition by test: both are checked
//! against the same committed fixture, `tests/fixtures/quality.json`, so this follows the JS
//! step for step (f32 unit rows, f64 sums, f32 similarities, the same tie order).

/// The quality of a set of points. Non-Entity tokens are neighbours and a cluster, never queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterQuality {
    /// Mean over queries of the share of its k nearest (cosine) points that are in its class.
    pub knn_purity: f64,
    /// Mean over queries of `(b − a) / max(a, b)` with cosine distances: `a` to its own class,
    /// `b` to the nearest other class (0 for a query alone in its class).
    pub silhouette: f64,
    /// Number of queries (points not in the Non-Entity class).
    pub entity_tokens: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QualityError {
    #[error("{values} values do not make {points} points of dimension {d}")]
    Shape {
        values: usize,
        points: usize,
        d: usize,
    },
    #[error("kNN purity needs k ≥ 1")]
    ZeroK,
}

/// Rows of `data` (n × d, row-major) scaled to unit length (a zero row stays zero).
fn unit_rows(data: &[f32], d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for row in data.chunks(d) {
        let s = row
            .iter()
            .map(|&x| (x as f64) * (x as f64))
            .sum::<f64>()
            .sqrt();
        let s = if s == 0.0 { 1.0 } else { s };
        out.extend(row.iter().map(|&x| (x as f64 / s) as f32));
    }
    out
}

/// `a · b` summed in f64 (four running sums: the trainer scores thousands of dev tokens against
/// each other every stage-1 epoch; the page sums in one, a difference of rounding only).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| x as f64 * y as f64)
        .sum();
    for (x, y) in ca.zip(cb) {
        for t in 0..4 {
            acc[t] += x[t] as f64 * y[t] as f64;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Indices of the `k` largest of `sims`, largest first, earlier indices first among equals.
fn nearest(sims: &[f32], k: usize) -> Vec<usize> {
    let by_sim = |a: &usize, b: &usize| sims[*b].total_cmp(&sims[*a]);
    let mut best: Vec<usize> = Vec::with_capacity(k + 1);
    for j in 0..sims.len() {
        if best.len() < k {
            best.push(j);
            best.sort_by(by_sim);
        } else if sims[j] > sims[best[k - 1]] {
            best[k - 1] = j;
            best.sort_by(by_sim);
        }
    }
    best
}

/// kNN purity (`k` neighbours) and silhouette of the points `data` (n × `d`, row-major) with
/// Semantic Classes `classes` (one per point); points of class `non_entity` are not queries.
/// With no query both means are NaN.
pub fn cluster_quality(
    data: &[f32],
    d: usize,
    classes: &[usize],
    non_entity: Option<usize>,
    k: usize,
) -> Result<ClusterQuality, QualityError> {
    let n = classes.len();
    if d == 0 || data.len() != n * d {
        return Err(QualityError::Shape {
            values: data.len(),
            points: n,
            d,
        });
    }
    if k == 0 {
        return Err(QualityError::ZeroK);
    }
    let norm = unit_rows(data, d);
    let n_classes = classes.iter().max().map_or(0, |&m| m + 1);
    let mut size = vec![0usize; n_classes];
    for &c in classes {
        size[c] += 1;
    }
    let (mut purity, mut sil, mut q) = (0.0, 0.0, 0usize);
    let mut sims = vec![0f32; n];
    for i in 0..n {
        let ci = classes[i];
        if Some(ci) == non_entity {
            continue;
        }
        q += 1;
        let mut sum = vec![0f64; n_classes];
        let row_i = &norm[i * d..(i + 1) * d];
        for j in 0..n {
            let s = dot(row_i, &norm[j * d..(j + 1) * d]);
            sims[j] = if j == i { f32::NEG_INFINITY } else { s as f32 };
            if j != i {
                sum[classes[j]] += 1.0 - s;
            }
        }
        let best = nearest(&sims, k);
        let same = best.iter().filter(|&&j| classes[j] == ci).count();
        purity += same as f64 / best.len() as f64;
        let own = size[ci] - 1;
        if own > 0 {
            let a = sum[ci] / own as f64;
            let b = (0..n_classes)
                .filter(|&c| c != ci && size[c] > 0)
                .map(|c| sum[c] / size[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if b.is_finite() {
                sil += (b - a) / a.max(b);
            }
        }
    }
    let mean = |x: f64| if q > 0 { x / q as f64 } else { f64::NAN };
    Ok(ClusterQuality {
        knn_purity: mean(purity),
        silhouette: mean(sil),
        entity_tokens: q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn four_points_on_two_axes_by_hand() {
        // Class 1 at (1, 0) and (2, 0); class 2 at (0, 1); Non-Entity (0) at (1, 1).
        let data = [1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let classes = [1, 1, 2, 0];
        let q = cluster_quality(&data, 2, &classes, Some(0), 1).unwrap();
        assert_eq!(q.entity_tokens, 3);
        // Nearest neighbours: 0 → 1 (cos 1), 1 → 0, 2 → 3 (cos 1/√2): purity (1 + 1 + 0) / 3.
        assert!(close(q.knn_purity, 2.0 / 3.0), "{}", q.knn_purity);
        // Points 0, 1: a = 0; b = min(class 2: 1, Non-Entity: 1 − 1/√2) → s = 1 each.
        // Point 2 is alone in its class → 0. Mean 2/3.
        assert!(close(q.silhouette, 2.0 / 3.0), "{}", q.silhouette);
    }

    #[test]
    fn silhouette_of_a_mixed_point_and_purity_with_k_two() {
        // Class 1 at (1, 0) and (0, 1); class 2 at (1, 0). Distances (1 − cos):
        // point 0: own a = 1 (to point 1), other b = 0 (to point 2) → (0 − 1) / 1 = −1.
        // point 1: a = 1, b = 1 → 0. point 2: alone → 0. Mean −1/3.
        let data = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let q = cluster_quality(&data, 2, &[1, 1, 2], None, 2).unwrap();
        assert!(close(q.silhouette, -1.0 / 3.0), "{}", q.silhouette);
        // k = 2 of 3 points: every query has both others as neighbours, one of its own class
        // for points 0 and 1, none for point 2: (1/2 + 1/2 + 0) / 3.
        assert!(close(q.knn_purity, 1.0 / 3.0), "{}", q.knn_purity);
    }

    #[test]
    fn no_queries_give_nan_and_bad_shapes_are_errors() {
        let q = cluster_quality(&[0.0; 8], 2, &[0; 4], Some(0), 10).unwrap();
        assert_eq!(q.entity_tokens, 0);
        assert!(q.knn_purity.is_nan() && q.silhouette.is_nan());
        assert!(matches!(
            cluster_quality(&[0.0; 5], 2, &[1, 1], None, 1),
            Err(QualityError::Shape { values: 5, .. })
        ));
        assert_eq!(
            cluster_quality(&[0.0; 2], 1, &[1, 1], None, 0),
            Err(QualityError::ZeroK)
        );
    }

    #[test]
    fn the_committed_fixture_gives_the_numbers_the_page_gives() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/quality.json"
        );
        let f: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).unwrap();
        let d = f["d"].as_u64().unwrap() as usize;
        let data: Vec<f32> = f["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        // Class names → indices in order of first appearance, as the page does.
        let mut names: Vec<&str> = Vec::new();
        let classes: Vec<usize> = f["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let c = c.as_str().unwrap();
                names.iter().position(|&x| x == c).unwrap_or_else(|| {
                    names.push(c);
                    names.len() - 1
                })
            })
            .collect();
        let non = names.iter().position(|&x| x == "Non-Entity");
        let want = &f["expected"];
        let q = cluster_quality(&data, d, &classes, non, 10).unwrap();
        assert_eq!(
            q.entity_tokens as u64,
            want["entityTokens"].as_u64().unwrap()
        );
        let (p, s) = (
            want["knnPurity"].as_f64().unwrap(),
            want["silhouette"].as_f64().unwrap(),
        );
        assert!((q.knn_purity - p).abs() < 1e-9, "{} vs {p}", q.knn_purity);
        assert!((q.silhouette - s).abs() < 1e-9, "{} vs {s}", q.silhouette);
    }
}
