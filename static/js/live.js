// The "Train live" panel: two Web Workers (live-worker.js) train a small model of the same
// architecture on the bundle's training sample (live-sample.json, fetched when the panel opens),
// one with NerCo's stage 1 (Semantic-Class InfoNCE), one tag-only (no-contrast), from one seed.
// Each frame's held-out tokens are projected by PCA, turned onto the previous frame (Procrustes:
// no flips or swaps) and tweened; curves of loss, kNN purity and silhouette grow beside them.
//
// Test hook: `window.nercoLive` ({open, runs, stats}).
import { $, el } from './dom.js';
import { STATIC, fetchOk } from './bundle.js';
import { colourOfType } from './colours.js';
import { pca } from './projection.js';
import { alignTo, tween } from './procrustes.js';
import { state } from './state.js';

const RECIPES = [
  { recipe: 'nerco', title: 'NerCo stage 1 — Semantic-Class InfoNCE', colour: '#4e79a7' },
  { recipe: 'no-contrast', title: 'tag-only (no-contrast) — CRF loss', colour: '#e15759' },
];
const TWEEN_MS = 250;
const stats = { openMs: null, playMs: null, firstUpdateMs: null, updates: [], stepMs: [], frameMs: [] };
const live = { runs: [], sample: null, opened: false, stats };
window.nercoLive = { open: openLive, runs: live.runs, stats, play, pause };

export function wireLive() {
  $('live-open').addEventListener('click', () => openLive().catch(showError));
  $('live-play').addEventListener('click', play);
  $('live-pause').addEventListener('click', pause);
  $('live-step').addEventListener('click', () => send({ type: 'step' }));
  $('live-reset').addEventListener('click', reset);
  $('live-speed').addEventListener('change', () => send({ type: 'speed', steps: +$('live-speed').value }));
}

function showError(e) {
  $('live-status').textContent = `Error: ${e.message || e}`;
}

// trunk's hashed file names, read from the links it put in the page.
function wasmUrls() {
  const glue = document.querySelector('link[rel=modulepreload][href$=".js"]');
  const wasm = document.querySelector('link[rel=preload][href$="_bg.wasm"]');
  if (!glue || !wasm) throw new Error('the page has no wasm module links (not built by trunk?)');
  return { glue: new URL(glue.getAttribute('href'), document.baseURI).href, wasm: new URL(wasm.getAttribute('href'), document.baseURI).href };
}

export async function openLive() {
  if (live.opened) return;
  live.opened = true;
  stats.openMs = performance.now();
  $('live-panel').hidden = false;
  $('live-open').disabled = true;
  const dir = new URL(`models/${state.entry.path || state.entry.id}/`, STATIC);
  live.sample = await fetchOk(new URL('live-sample.json', dir), 'text');
  const urls = wasmUrls();
  const plots = $('live-plots');
  plots.textContent = '';
  await Promise.all(RECIPES.map((r) => new Promise((ok, fail) => {
    const canvas = el('canvas', { 'data-recipe': r.recipe });
    const q = el('div', { class: 'muted' });
    plots.append(el('div', { class: 'plot' }, el('h4', {}, r.title), q, canvas));
    const run = { ...r, canvas, q, worker: new Worker(new URL('live-worker.js', import.meta.url), { type: 'module' }), history: [], shown: null, target: null, info: null, step: 0, frames: 0, done: false, updateTimes: [] };
    live.runs.push(run);
    run.worker.onmessage = (e) => onMessage(run, e.data, ok);
    run.worker.onerror = (e) => fail(new Error(e.message));
    run.worker.postMessage({ type: 'init', ...urls });
  })));
  reset();
  $('live-status').textContent = 'Ready: press Play.';
}

function send(msg) {
  for (const r of live.runs) r.worker.postMessage(msg);
}

function play() {
  stats.playMs = performance.now();
  stats.firstUpdateMs = null;
  send({ type: 'speed', steps: +$('live-speed').value });
  send({ type: 'play' });
}

function pause() {
  send({ type: 'pause' });
}

function reset() {
  const seed = Math.max(0, parseInt($('live-seed').value, 10) || 0);
  for (const r of live.runs) Object.assign(r, { history: [], shown: null, target: null, step: 0, frames: 0, done: false, updateTimes: [] });
  for (const r of live.runs) r.worker.postMessage({ type: 'reset', sample: live.sample, config: '', recipe: r.recipe, seed });
}

function onMessage(run, m, ready) {
  if (m.type === 'ready') ready();
  else if (m.type === 'info') {
    run.info = m;
    $('live-info').textContent = `Each model: ${m.parameters.toLocaleString()} parameters, its own vocabulary of ${m.chars} characters and ${m.bigrams} bigrams built from the ${live.sampleSize()} training sentences; ${m.total_steps} steps (5 epochs).`;
  } else if (m.type === 'frame') onFrame(run, m);
  else if (m.type === 'finished') { run.done = true; status(); }
  else if (m.type === 'error') showError(m.message);
}
live.sampleSize = () => JSON.parse(live.sample).train.length;

function onFrame(run, m) {
  const now = performance.now();
  if (m.losses.length) {
    if (stats.firstUpdateMs === null && stats.playMs !== null) stats.firstUpdateMs = now - stats.playMs;
    stats.updates.push(now);
    stats.stepMs.push(m.stepMs);
    stats.frameMs.push(m.frameMs);
    run.updateTimes.push(now);
  }
  const real = m.losses.filter((x) => Number.isFinite(x));
  run.step = m.step;
  const hasQ = m.knn_purity !== undefined;
  run.history.push({ step: m.step, loss: real.length ? real.reduce((a, b) => a + b) / real.length : null, knn: hasQ ? m.knn_purity : null, sil: hasQ ? m.silhouette : null });
  if (hasQ) run.quality = m;
  const n = m.points.length / m.dim;
  const xy = pca(m.points, n, m.dim).project(m.points, n);
  normalise(xy);
  const aligned = alignTo(run.target, xy, n);
  run.from = run.shown || aligned;
  run.target = aligned;
  run.t0 = now;
  run.frames += 1;
  run.q.textContent = `step ${m.step} · kNN purity ${fmt(run.quality?.knn_purity)} · silhouette ${fmt(run.quality?.silhouette)}` + (hasQ ? '' : ` (at step ${run.quality?.step})`);
  requestAnimationFrame(() => animate(run));
  drawCurves();
  status();
}

const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(3));

// Unit root-mean-square radius: the plot's scale stays put while the cloud grows or shrinks.
function normalise(xy) {
  let s = 0;
  for (const v of xy) s += v * v;
  const k = Math.sqrt(xy.length / 2 / (s || 1));
  for (let i = 0; i < xy.length; i++) xy[i] *= k;
}

function animate(run) {
  const t = Math.min(1, (performance.now() - run.t0) / TWEEN_MS);
  run.shown = tween(run.from, run.target, t);
  drawScatter(run);
  if (t < 1) requestAnimationFrame(() => animate(run));
}

function drawScatter(run) {
  const { canvas, info, shown } = run;
  if (!info || !shown) return;
  const dpr = devicePixelRatio || 1;
  const W = Math.max(200, canvas.clientWidth) * dpr;
  if (canvas.width !== W) { canvas.width = W; canvas.height = W; }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, W, W);
  // The cloud has unit RMS radius (normalise): ±2.5 fills the canvas.
  const scale = W / 5;
  const order = [...info.point_classes.keys()].sort((a, b) => (info.point_classes[a] === 0) - (info.point_classes[b] === 0)).reverse();
  for (const i of order) {
    const c = info.point_classes[i];
    ctx.fillStyle = colourOfType(info.classes[c]);
    ctx.globalAlpha = c === 0 ? 0.35 : 0.85;
    ctx.beginPath();
    ctx.arc(W / 2 + shown[2 * i] * scale, W / 2 - shown[2 * i + 1] * scale, (c === 0 ? 1.5 : 2.5) * dpr, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  canvas.dataset.frames = run.frames;
  canvas.dataset.step = run.step;
  const legend = $('live-legend');
  if (!legend.childElementCount) {
    for (const name of info.classes) legend.append(el('span', { class: 'key' }, el('i', { class: 'sw', style: `background:${colourOfType(name)}` }), name));
  }
}

// Three small charts: loss (÷ the run's first), kNN purity and silhouette, both runs on each.
function drawCurves() {
  const box = $('live-curves');
  const charts = [['loss ÷ first step\'s', (h, r) => (h.loss === null ? null : h.loss / (r.history.find((x) => x.loss)?.loss || 1))], ['kNN purity', (h) => h.knn], ['silhouette', (h) => h.sil]];
  if (!box.childElementCount) for (const [name] of charts) box.append(el('div', { class: 'curve' }, el('span', { class: 'muted' }, name), el('canvas', { 'data-curve': name })));
  charts.forEach(([name, get], k) => {
    const canvas = box.children[k].querySelector('canvas');
    const dpr = devicePixelRatio || 1, W = Math.max(160, canvas.clientWidth) * dpr, H = 90 * dpr;
    canvas.width = W; canvas.height = H;
    const ctx = canvas.getContext('2d');
    const series = live.runs.map((r) => r.history.map((h) => [h.step, get(h, r)]).filter(([, y]) => y !== null && Number.isFinite(y)));
    const ys = series.flat().map(([, y]) => y), xs = series.flat().map(([x]) => x);
    if (!ys.length) return;
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)], x1 = Math.max(1, ...xs);
    const pad = (y1 - y0) * 0.1 || 0.1;
    const X = (x) => (x / x1) * (W - 4) + 2, Y = (y) => H - 2 - ((y - y0 + pad) / (y1 - y0 + 2 * pad)) * (H - 4);
    live.runs.forEach((r, j) => {
      ctx.strokeStyle = r.colour; ctx.lineWidth = 1.5 * dpr; ctx.beginPath();
      series[j].forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
      ctx.stroke();
    });
    ctx.fillStyle = '#666'; ctx.font = `${10 * dpr}px sans-serif`;
    ctx.fillText(y1.toFixed(2), 4, 11 * dpr); ctx.fillText(y0.toFixed(2), 4, H - 4);
  });
}

function status() {
  const [a, b] = live.runs;
  const total = a.info ? a.info.total_steps : '?';
  const ms = stats.stepMs.slice(-10);
  const per = ms.length ? (ms.reduce((x, y) => x + y) / ms.length).toFixed(0) : '—';
  $('live-status').textContent = `step ${a.step} / ${total} (no-contrast ${b.step}) · ${per} ms per step in wasm (CPU)` + (a.done && b.done ? ' · finished' : '');
}
