// Two-dimensional projections of an n × d embedding sample (row-major typed arrays): PCA by power
// iteration, exact t-SNE, and placing unseen points on a t-SNE map. Pure: no DOM; t-SNE yields to
// the event loop between slices and reports progress through a callback.

// Top-2 principal axes by power iteration on the covariance (deterministic).
export function pca(data, n, d) {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = data[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a];
  const axes = [];
  let total = 0;
  for (let a = 0; a < d; a++) total += cov[a * d + a];
  const explained = [];
  for (let c = 0; c < 2; c++) {
    let v = new Float64Array(d).map((_, j) => 1 + ((j * 7919) % 13) / 13);
    let lambda = 0;
    for (let it = 0; it < 300; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) { let s = 0; for (let b = 0; b < d; b++) s += cov[a * d + b] * v[b]; w[a] = s; }
      const nrm = Math.hypot(...w) || 1;
      let delta = 0;
      for (let a = 0; a < d; a++) { w[a] /= nrm; delta += Math.abs(w[a] - v[a]); }
      v = w;
      lambda = nrm;
      if (delta < 1e-9) break;
    }
    let big = 0;
    for (let a = 0; a < d; a++) if (Math.abs(v[a]) > Math.abs(v[big])) big = a;
    if (v[big] < 0) v = v.map((x) => -x);
    axes.push(v);
    explained.push(lambda / (total || 1));
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] -= lambda * v[a] * v[b];
  }
  const project = (x, m) => {
    const out = new Float32Array(m * 2);
    for (let i = 0; i < m; i++) for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[i * d + j] - mean[j]) * axes[c][j];
      out[i * 2 + c] = s;
    }
    return out;
  };
  return { project, explained };
}

// Exact t-SNE (perplexity 30), run in slices so the page stays responsive, with progress.
export async function tsne(data, n, d, onProgress, iters = 400) {
  const perplexity = Math.min(30, (n - 1) / 3);
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) { const x = data[i * d + t] - data[j * d + t]; s += x * x; }
    D[i * n + j] = D[j * n + i] = s;
  }
  const P = new Float64Array(n * n);
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    let lo = 0, hi = Infinity, beta = 1;
    for (let it = 0; it < 60; it++) {
      let sum = 0, h = 0;
      for (let j = 0; j < n; j++) if (j !== i) { const p = Math.exp(-D[i * n + j] * beta); P[i * n + j] = p; sum += p; }
      sum = sum || 1e-12;
      for (let j = 0; j < n; j++) if (j !== i) { P[i * n + j] /= sum; if (P[i * n + j] > 1e-12) h -= P[i * n + j] * Math.log(P[i * n + j]); }
      if (Math.abs(h - target) < 1e-5) break;
      if (h > target) { lo = beta; beta = hi === Infinity ? beta * 2 : (beta + hi) / 2; }
      else { hi = beta; beta = (beta + lo) / 2; }
    }
    if (i % 100 === 0) { onProgress(0.1 * i / n); await new Promise((r) => setTimeout(r)); }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const p = Math.max((P[i * n + j] + P[j * n + i]) / (2 * n), 1e-12);
    P[i * n + j] = P[j * n + i] = p;
  }
  // Deterministic start: small PCA coordinates.
  const init = pca(data, n, d).project(data, n);
  let sd = 0;
  for (const x of init) sd += x * x;
  sd = Math.sqrt(sd / init.length) || 1;
  const Y = Float64Array.from(init, (x) => (x / sd) * 1e-2);
  const gains = new Float64Array(n * 2).fill(1), upd = new Float64Array(n * 2), grad = new Float64Array(n * 2);
  const Q = new Float64Array(n * n);
  const lr = Math.max(n / 12, 50);
  for (let it = 0; it < iters; it++) {
    const exag = it < 100 ? 12 : 1, mom = it < 100 ? 0.5 : 0.8;
    let sumQ = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const dx = Y[2 * i] - Y[2 * j], dy = Y[2 * i + 1] - Y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy);
      Q[i * n + j] = Q[j * n + i] = q;
      sumQ += 2 * q;
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      let gx = 0, gy = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const q = Q[i * n + j];
        const m = (exag * P[i * n + j] - q / sumQ) * q;
        gx += m * (Y[2 * i] - Y[2 * j]);
        gy += m * (Y[2 * i + 1] - Y[2 * j + 1]);
      }
      grad[2 * i] = 4 * gx;
      grad[2 * i + 1] = 4 * gy;
    }
    for (let k = 0; k < 2 * n; k++) {
      gains[k] = Math.sign(grad[k]) !== Math.sign(upd[k]) ? gains[k] + 0.2 : Math.max(gains[k] * 0.8, 0.01);
      upd[k] = mom * upd[k] - lr * gains[k] * grad[k];
      Y[k] += upd[k];
    }
    if (it % 10 === 9) { onProgress(0.1 + 0.9 * (it + 1) / iters); await new Promise((r) => setTimeout(r)); }
  }
  return Float32Array.from(Y);
}

// Places new points (e.g. the user's characters) in a t-SNE map: the similarity-weighted mean
// of their 5 nearest sample tokens (t-SNE has no projection for unseen points).
export function placeByNeighbours(sample, coords, n, d, x, m, k = 5) {
  const out = new Float32Array(m * 2);
  for (let i = 0; i < m; i++) {
    const dist = [];
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) { const z = x[i * d + t] - sample[j * d + t]; s += z * z; }
      dist.push([s, j]);
    }
    dist.sort((a, b) => a[0] - b[0]);
    let wx = 0, wy = 0, w = 0;
    for (const [s, j] of dist.slice(0, k)) { const q = 1 / (1e-6 + Math.sqrt(s)); wx += q * coords[2 * j]; wy += q * coords[2 * j + 1]; w += q; }
    out[2 * i] = wx / w;
    out[2 * i + 1] = wy / w;
  }
  return out;
}
