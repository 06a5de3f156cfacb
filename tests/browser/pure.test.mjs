// Unit tests of the page's pure numeric modules (static/js/quality.js, static/js/projection.js),
// run in plain Node with no DOM: `node --test tests/browser/pure.test.mjs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterQuality } from '../../static/js/quality.js';
import { pca, placeByNeighbours, tsne } from '../../static/js/projection.js';
import { readFileSync } from 'node:fs';

// n points in d dimensions: class c sits around 5·e_c, plus a small deterministic wobble.
function clusters(n, d, names) {
  const data = new Float32Array(n * d);
  const classes = [];
  for (let i = 0; i < n; i++) {
    const c = i % names.length;
    classes.push(names[c]);
    for (let j = 0; j < d; j++) data[i * d + j] = (j === c ? 5 : 0) + 0.1 * Math.sin(7 * i + 3 * j);
  }
  return { data, classes };
}

test('separated classes have kNN purity 1 and a high silhouette', () => {
  const n = 60, d = 6;
  const { data, classes } = clusters(n, d, ['PER', 'ORG', 'Non-Entity']);
  const q = clusterQuality(data, n, d, classes);
  assert.equal(q.entityTokens, 40);
  assert.equal(q.knnPurity, 1);
  assert.ok(q.silhouette > 0.9 && q.silhouette <= 1, String(q.silhouette));
});

test('without entity tokens the quality is NaN, not an error', () => {
  const q = clusterQuality(new Float32Array(8), 4, 2, Array(4).fill('Non-Entity'));
  assert.equal(q.entityTokens, 0);
  assert.ok(Number.isNaN(q.knnPurity) && Number.isNaN(q.silhouette));
});

test('the committed fixture gives the numbers model-core gives (src/quality.rs reads it too)', () => {
  const f = JSON.parse(readFileSync(new URL('../fixtures/quality.json', import.meta.url), 'utf8'));
  const q = clusterQuality(Float32Array.from(f.data), f.n, f.d, f.classes);
  assert.equal(q.entityTokens, f.expected.entityTokens);
  assert.ok(Math.abs(q.knnPurity - f.expected.knnPurity) < 1e-9, String(q.knnPurity));
  assert.ok(Math.abs(q.silhouette - f.expected.silhouette) < 1e-9, String(q.silhouette));
});

test('PCA finds the principal axes, largest variance first', () => {
  // Along (1, 2, 0)/√5 the points spread by √5 per step; across it, (2, -1, 0)/√5, by ±1 in the
  // pattern + − − + (uncorrelated with the step, so these are exactly the principal axes).
  const n = 20, d = 3;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const s = i % 4 === 0 || i % 4 === 3 ? 1 : -1;
    data[i * d] = i + (2 * s) / Math.sqrt(5);
    data[i * d + 1] = 2 * i - s / Math.sqrt(5);
  }
  const { project, explained } = pca(data, n, d);
  assert.ok(explained[0] > explained[1] && explained[1] > 0, String(explained));
  assert.ok(Math.abs(explained[0] + explained[1] - 1) < 1e-6, String(explained));
  const xy = project(data, n);
  for (let i = 1; i < n; i++) {
    assert.ok(Math.abs(Math.abs(xy[2 * i] - xy[2 * i - 2]) - Math.sqrt(5)) < 1e-4, `step ${i}`);
    assert.ok(Math.abs(Math.abs(xy[2 * i + 1]) - 1) < 1e-4, `offset ${i}`);
  }
});

test('t-SNE is deterministic, reports progress to 1, and places a sample point on itself', async () => {
  const n = 30, d = 4;
  const { data } = clusters(n, d, ['A', 'B', 'C']);
  const seen = [];
  const a = await tsne(data, n, d, (p) => seen.push(p), 50);
  const b = await tsne(data, n, d, () => {}, 50);
  assert.deepEqual(a, b);
  assert.equal(a.length, 2 * n);
  assert.ok(a.every(Number.isFinite));
  assert.ok(Math.abs(seen[seen.length - 1] - 1) < 1e-9);
  const at = placeByNeighbours(data, a, n, d, data.subarray(0, d), 1);
  assert.ok(Math.abs(at[0] - a[0]) < 1e-3 && Math.abs(at[1] - a[1]) < 1e-3);
});

// static/js/procrustes.js: successive PCA frames keep their axes.
import { alignTo, tween } from '../../static/js/procrustes.js';

function shape(n) {
  const xy = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) { xy[2 * i] = Math.cos(i) * (1 + i % 3); xy[2 * i + 1] = Math.sin(2 * i) + i / n; }
  return xy;
}
function maxDiff(a, b) {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

test('a rotated, shifted frame is turned back onto the previous one', () => {
  const n = 40, p = alignTo(null, shape(n), n);
  const th = 2.1, c = Math.cos(th), s = Math.sin(th);
  const q = p.map((_, k) => {
    const i = k >> 1, x = p[2 * i], y = p[2 * i + 1];
    return (k % 2 ? s * x + c * y : c * x - s * y) + (k % 2 ? -3 : 5);
  });
  assert.ok(maxDiff(alignTo(p, q, n), p) < 1e-4);
});

test('a PCA sign flip or axis swap is undone, not shown', () => {
  const n = 40, p = alignTo(null, shape(n), n);
  const flipped = p.map((x, k) => (k % 2 ? -x : x));
  const swapped = p.map((_, k) => p[k ^ 1]);
  assert.ok(maxDiff(alignTo(p, flipped, n), p) < 1e-4);
  assert.ok(maxDiff(alignTo(p, swapped, n), p) < 1e-4);
  // Alignment never changes the shape: distances are kept.
  const a = alignTo(p, swapped, n);
  const dist = (xy, i, j) => Math.hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]);
  assert.ok(Math.abs(dist(a, 3, 17) - dist(swapped, 3, 17)) < 1e-4);
});

test('the tween starts at the old frame and ends at the new one', () => {
  const a = Float32Array.from([0, 0, 1, 1]), b = Float32Array.from([2, 2, 3, -1]);
  assert.deepEqual(tween(a, b, 0), a);
  assert.deepEqual(tween(a, b, 1), b);
  const mid = tween(a, b, 0.5);
  assert.ok(mid[0] > 0 && mid[0] < 2);
});
