// The Semantic Class viewer: the bundle's embedding sample per view (baseline, stage 1,
// stage 2) with its cluster quality, projected (PCA or t-SNE) and drawn on one canvas per view,
// the user's sentence as ◆ in the stage-2 panel, the colour legend and the hover tooltips.
import { $, el, esc, hideTooltip, showTooltip } from './dom.js';
import { loadEmbeddings } from './bundle.js';
import { colourOfTag, colourOfType, splitTag } from './colours.js';
import { placeByNeighbours, pca, tsne } from './projection.js';
import { clusterQuality } from './quality.js';
import { state, stats, viewerReady } from './state.js';

export function viewerError(e) {
  console.error(e);
  $('viewer-status').textContent = `Viewer unavailable: ${e.message || e}`;
  viewerReady.resolve(stats);
}

export async function loadViewer() {
  const dir = state.bundle.dir;
  $('viewer-status').textContent = 'Loading embeddings…';
  const { index, views, n, d } = await loadEmbeddings(dir);
  const classes = index.tokens.map((t) => t.class);
  for (const v of views) v.quality = clusterQuality(v.data, n, d, classes);
  state.viewer = { index, views, n, d, classes, tsne: new Map() };
  buildPlots();
  await projectAll();
  drawViewer();
  stats.viewer = views.map((v) => ({ name: v.name, ...v.quality }));
  $('viewer-status').textContent = `${n} test characters from ${index.sentences.length} sentences, ${d}-dimensional.`;
  viewerReady.resolve(stats);
}

// ---------------------------------------------------------------- projection

const TSNE_MAX = 800;
async function projectAll() {
  const V = state.viewer;
  const mode = $('projection').value;
  for (const v of V.views) {
    if (mode === 'pca') {
      v.pca = v.pca || pca(v.data, V.n, V.d);
      v.coords = v.pca.project(v.data, V.n);
      v.count = V.n;
    } else {
      if (!V.tsne.has(v.name)) {
        const m = Math.min(V.n, TSNE_MAX);
        const bar = v.plot.progress;
        bar.parentElement.hidden = false;
        const t0 = performance.now();
        const coords = await tsne(v.data.subarray(0, m * V.d), m, V.d, (p) => (bar.style.width = `${(100 * p).toFixed(0)}%`));
        bar.parentElement.hidden = true;
        V.tsne.set(v.name, { coords, count: m, ms: performance.now() - t0 });
      }
      const t = V.tsne.get(v.name);
      v.coords = t.coords;
      v.count = t.count;
    }
  }
}

// ---------------------------------------------------------------- drawing

const VIEW_TITLES = { baseline: 'baseline (no-contrast)', stage1: 'NerCo stage 1 (contrast only)', stage2: 'NerCo stage 2 (final tagger)' };

function buildPlots() {
  const box = $('plots');
  box.textContent = '';
  for (const v of state.viewer.views) {
    const canvas = el('canvas', { 'data-view': v.name });
    const progress = el('div');
    const prog = el('div', { class: 'progress' }, progress);
    prog.hidden = true;
    const q = v.quality;
    const plot = el('div', { class: 'plot', 'data-view': v.name },
      el('h4', {}, VIEW_TITLES[v.name] || v.name),
      el('div', { class: 'q' }, Object.assign(el('span'), {
        innerHTML: `kNN purity <b>${q.knnPurity.toFixed(3)}</b> · silhouette <b>${q.silhouette.toFixed(3)}</b>`,
      })),
      prog, canvas);
    v.plot = { canvas, progress, el: plot, hits: [] };
    canvas.addEventListener('mousemove', (ev) => hoverPlot(v, ev));
    canvas.addEventListener('mouseleave', hideTooltip);
    box.append(plot);
  }
}

function userPoints(v) {
  const res = state.result;
  if (!$('show-user').checked || !res || v.name !== 'stage2' || !res.embeddings || !res.embedded_chars.length) return null;
  const V = state.viewer;
  if (state.info.d_model !== V.d) return null;
  const idx = res.embedded_chars.slice(0, 200);
  const m = idx.length;
  const x = res.embeddings.subarray(0, m * V.d);
  const coords = $('projection').value === 'pca' ? v.pca.project(x, m)
    : placeByNeighbours(v.data, v.coords, v.count, V.d, x, m);
  return { coords, chars: idx.map((i) => res.chars[i]), tags: idx.map((i) => res.tags[i]), m };
}

export function drawViewer() {
  const V = state.viewer;
  const byTag = $('colour').value === 'tag';
  const toks = V.index.tokens;
  for (const v of V.views) {
    const { canvas } = v.plot;
    const dpr = devicePixelRatio || 1;
    const W = Math.max(200, canvas.clientWidth) * dpr;
    canvas.width = W;
    canvas.height = W;
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, W, W);
    const user = userPoints(v);
    const pts = v.coords, n = v.count;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const grow = (x, y) => { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); };
    for (let i = 0; i < n; i++) grow(pts[2 * i], pts[2 * i + 1]);
    if (user) for (let i = 0; i < user.m; i++) grow(user.coords[2 * i], user.coords[2 * i + 1]);
    const span = Math.max(x1 - x0, y1 - y0) || 1, pad = 0.06 * W;
    const sx = (x) => pad + ((x - (x0 + x1) / 2) / span) * (W - 2 * pad) + (W - 2 * pad) / 2;
    const sy = (y) => W - (pad + ((y - (y0 + y1) / 2) / span) * (W - 2 * pad) + (W - 2 * pad) / 2);
    v.plot.hits = [];
    const r = 2.3 * dpr;
    for (const pass of [0, 1]) {
      for (let i = 0; i < n; i++) {
        const ent = toks[i].class !== 'Non-Entity';
        if (ent !== (pass === 1)) continue;
        const X = sx(pts[2 * i]), Y = sy(pts[2 * i + 1]);
        ctx.globalAlpha = ent ? 0.85 : 0.35;
        ctx.fillStyle = byTag ? colourOfTag(toks[i].tag) : colourOfType(toks[i].class);
        ctx.beginPath();
        ctx.arc(X, Y, r, 0, 2 * Math.PI);
        ctx.fill();
        v.plot.hits.push({ X, Y, i });
      }
    }
    ctx.globalAlpha = 1;
    if (user) {
      ctx.font = `${12 * dpr}px sans-serif`;
      ctx.textBaseline = 'middle';
      for (let i = 0; i < user.m; i++) {
        const { type } = splitTag(user.tags[i]);
        const X = sx(user.coords[2 * i]), Y = sy(user.coords[2 * i + 1]), s = (type ? 6 : 3.5) * dpr;
        ctx.fillStyle = byTag ? colourOfTag(user.tags[i]) : colourOfType(type);
        ctx.strokeStyle = '#111';
        ctx.lineWidth = 1.3 * dpr;
        ctx.beginPath();
        ctx.moveTo(X, Y - s); ctx.lineTo(X + s, Y); ctx.lineTo(X, Y + s); ctx.lineTo(X - s, Y); ctx.closePath();
        ctx.fill();
        ctx.stroke();
        if (type) {
          // Label the characters the model puts in entities (the others would only clutter).
          ctx.fillStyle = '#111';
          ctx.fillText(user.chars[i], X + s + 2 * dpr, Y);
        }
        v.plot.hits.push({ X, Y, user: i, userData: user });
      }
    }
    v.plot.scale = dpr;
  }
  drawPlotLegend(byTag);
}

function drawPlotLegend(byTag) {
  const V = state.viewer;
  const legend = $('plot-legend');
  legend.textContent = '';
  const present = byTag ? [...new Set(V.index.tokens.map((t) => t.tag))] : [...new Set(V.classes)];
  const order = (k) => {
    const { pos, type } = byTag ? splitTag(k) : { pos: '', type: k === 'Non-Entity' ? null : k };
    return `${type ? '0' : '1'}${type || ''}${'BIMES'.indexOf(pos)}`;
  };
  present.sort((a, b) => order(a).localeCompare(order(b)));
  for (const k of present) {
    const c = byTag ? colourOfTag(k) : colourOfType(k);
    legend.append(el('span', { class: 'key' }, el('span', { class: 'sw', style: `background:${c}` }), k === 'O' ? 'O (Non-Entity)' : k));
  }
  legend.append(el('span', { class: 'key' }, '◆ your sentence (stage 2)'));
}

function hoverPlot(v, ev) {
  const rect = v.plot.canvas.getBoundingClientRect();
  const s = v.plot.scale || 1;
  const mx = (ev.clientX - rect.left) * s, my = (ev.clientY - rect.top) * s;
  let best = null, bd = (8 * s) ** 2;
  for (const h of v.plot.hits) {
    const dd = (h.X - mx) ** 2 + (h.Y - my) ** 2;
    if (dd <= bd) { bd = dd; best = h; }
  }
  if (!best) return hideTooltip();
  if (best.userData) {
    const u = best.userData;
    return showTooltip(ev.clientX, ev.clientY, `<div class="t">your text: “${esc(u.chars[best.user])}”</div>predicted ${esc(u.tags[best.user])}`);
  }
  const t = state.viewer.index.tokens[best.i];
  const sent = Array.from(state.viewer.index.sentences[t.sentence]);
  const ctx = sent.map((c, k) => (k === t.position ? `<b style="color:#ffe08a">${esc(c)}</b>` : esc(c))).join('');
  showTooltip(ev.clientX, ev.clientY, `<div class="t">“${esc(t.char)}” gold ${esc(t.tag)} · ${esc(t.class)}</div>${ctx}`);
}

export function wireViewer() {
  $('projection').addEventListener('change', () => state.viewer && projectAll().then(drawViewer));
  $('colour').addEventListener('change', () => state.viewer && drawViewer());
  $('show-user').addEventListener('change', () => state.viewer && drawViewer());
  addEventListener('resize', () => state.viewer && drawViewer());
}
