// Cluster quality of an embedding sample, measured in the full hidden space (before any
// projection). Pure: typed arrays in, numbers out, no DOM.

// The same definition as model-core/src/quality.rs (the trainer selects stage-1 checkpoints by
// it); tests/fixtures/quality.json pins both to the same numbers. Change them together.

// Cosine kNN purity (k = 10) and silhouette of the entity tokens, clusters = Semantic Classes
// (Non-Entity tokens are neighbours and a cluster, never queries). `data` is n × d row-major.
export function clusterQuality(data, n, d, classes, k = 10) {
  const norm = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[i * d + j] ** 2;
    s = Math.sqrt(s) || 1;
    for (let j = 0; j < d; j++) norm[i * d + j] = data[i * d + j] / s;
  }
  const names = [...new Set(classes)];
  const cls = Int32Array.from(classes, (c) => names.indexOf(c));
  const size = names.map((_, c) => cls.reduce((a, x) => a + (x === c), 0));
  const non = names.indexOf('Non-Entity');
  let purity = 0, sil = 0, q = 0;
  const sims = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (cls[i] === non) continue;
    q++;
    const sum = new Float64Array(names.length);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += norm[i * d + t] * norm[j * d + t];
      sims[j] = j === i ? -Infinity : s;
      if (j !== i) sum[cls[j]] += 1 - s;
    }
    // k nearest by a partial selection.
    const best = [];
    for (let j = 0; j < n; j++) {
      if (best.length < k) { best.push(j); best.sort((a, b) => sims[b] - sims[a]); }
      else if (sims[j] > sims[best[k - 1]]) { best[k - 1] = j; best.sort((a, b) => sims[b] - sims[a]); }
    }
    purity += best.filter((j) => cls[j] === cls[i]).length / best.length;
    const own = size[cls[i]] - 1;
    if (own > 0) {
      const a = sum[cls[i]] / own;
      let b = Infinity;
      for (let c = 0; c < names.length; c++) if (c !== cls[i] && size[c] > 0) b = Math.min(b, sum[c] / size[c]);
      sil += b === Infinity ? 0 : (b - a) / Math.max(a, b);
    }
  }
  return { knnPurity: q ? purity / q : NaN, silhouette: q ? sil / q : NaN, entityTokens: q };
}
