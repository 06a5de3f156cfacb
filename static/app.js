// nerco web demo — the page: model loading, backend switch, entity highlighting with CRF
// marginals, and the Semantic Class viewer (PCA / t-SNE computed here, cluster quality).
// The WebAssembly side (web/src/lib.rs) is reached through `window.wasmBindings`, which trunk's
// loader sets before it dispatches `TrunkApplicationStarted`.
//
// Test hooks: `window.nerco` (analyse, bench, switchBackend, ready/viewerReady promises) and
// `window.nercoStats` (timings). Entities are in the DOM as `#output mark.ent[data-start]
// [data-end][data-type][data-text]`.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const STATIC = new URL('static/', document.baseURI);
const MAX_INPUT = 20000;

const state = {
  wasm: null,
  entries: [],
  entry: null,
  bundle: null, // {meta, weights, metrics, weightsBytes}
  models: new Map(), // `${id}:${backend}` -> NerModel
  model: null,
  info: null,
  backend: null,
  gpu: { ok: false, reason: 'not probed' },
  result: null,
  examples: {},
  viewer: null, // {index, views: [{name, data, pca, tsne, quality}], ...}
};
const stats = (window.nercoStats = { backend: null, analyses: [] });
let resolveReady, resolveViewer;
const api = (window.nerco = {
  ready: new Promise((r) => (resolveReady = r)),
  viewerReady: new Promise((r) => (resolveViewer = r)),
  state,
  stats,
});

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function setStatus(text, kind = 'info') {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

async function fetchOk(url, how = 'json') {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  if (how === 'json') return r.json();
  if (how === 'text') return r.text();
  return new Uint8Array(await r.arrayBuffer());
}

function fmtBytes(n) {
  return n > 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

// One call into a model at a time: wasm-bindgen refuses re-entrant use of an object.
let chain = Promise.resolve();
function serial(fn) {
  const p = chain.then(fn, fn);
  chain = p.catch(() => {});
  return p;
}

// ---------------------------------------------------------------- colours

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#edc948', '#76b7b2',
  '#ff9da7', '#9c755f', '#8cd17d', '#d37295', '#499894', '#86bcb6', '#f1ce63'];
const NON_ENTITY = '#c3c8d2';
let typeColours = new Map();

function setTypes(types) {
  typeColours = new Map(types.map((t, i) => [t, PALETTE[i % PALETTE.length]]));
}
function colourOfType(t) {
  if (!t || t === 'Non-Entity' || t === 'O') return NON_ENTITY;
  if (!typeColours.has(t)) typeColours.set(t, PALETTE[typeColours.size % PALETTE.length]);
  return typeColours.get(t);
}
function splitTag(tag) {
  if (!tag || tag === 'O') return { pos: 'O', type: null };
  const m = /^([BIMES])[-_](.+)$/.exec(tag);
  return m ? { pos: m[1], type: m[2] } : { pos: 'O', type: null };
}
function mix(hex, other, w) {
  const a = parseInt(hex.slice(1), 16), b = parseInt(other.slice(1), 16);
  const ch = (x, s) => (x >> s) & 255;
  const c = [16, 8, 0].map((s) => Math.round(ch(a, s) * (1 - w) + ch(b, s) * w));
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}
// Full-tag colours: the class's hue, darkest at B, lightest at E/S.
function colourOfTag(tag) {
  const { pos, type } = splitTag(tag);
  const base = colourOfType(type);
  if (!type) return base;
  return { B: mix(base, '#000000', 0.45), I: base, M: base, E: mix(base, '#ffffff', 0.45), S: mix(base, '#ffffff', 0.75) }[pos];
}

// ---------------------------------------------------------------- start-up

async function probeWebGPU() {
  if (!JSON.parse(state.wasm.compiledBackends()).includes('webgpu')) return { ok: false, reason: 'not in this build' };
  if (!('gpu' in navigator)) return { ok: false, reason: 'this browser has no navigator.gpu' };
  try {
    const a = await navigator.gpu.requestAdapter();
    if (!a) return { ok: false, reason: 'no WebGPU adapter' };
    const info = a.info || {};
    const desc = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
    const fallback = Boolean(a.isFallbackAdapter || info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(desc));
    return { ok: true, fallback, name: desc || 'adapter' };
  } catch (e) {
    return { ok: false, reason: String(e) };
  }
}

async function start() {
  state.wasm = window.wasmBindings;
  stats.wasmReadyMs = performance.now();
  try {
    const [index, examples, gpu] = await Promise.all([
      fetchOk(new URL('models/index.json', STATIC)),
      fetchOk(new URL('examples.json', STATIC)).catch(() => ({})),
      probeWebGPU(),
    ]);
    state.entries = index.models || [];
    state.examples = examples;
    state.gpu = gpu;
    stats.webgpu = gpu;
    if (!state.entries.length) throw new Error('static/models/index.json lists no models');
    const sel = $('model');
    for (const m of state.entries) sel.append(el('option', { value: m.id }, m.name || m.id));
    const wanted = params.get('model');
    state.entry = state.entries.find((m) => m.id === wanted) || state.entries[0];
    sel.value = state.entry.id;
    sel.addEventListener('change', () => switchModel(sel.value));

    const gpuRadio = $('backend-webgpu');
    gpuRadio.disabled = !gpu.ok;
    gpuRadio.parentElement.title = gpu.ok ? `WebGPU: ${gpu.name}${gpu.fallback ? ' (software fallback)' : ''}` : `WebGPU unavailable: ${gpu.reason}`;
    const asked = params.get('backend');
    state.backend = asked === 'cpu' || (asked === 'webgpu' && gpu.ok) ? asked : gpu.ok && !gpu.fallback ? 'webgpu' : 'cpu';
    for (const r of document.querySelectorAll('input[name=backend]')) {
      r.checked = r.value === state.backend;
      r.addEventListener('change', () => r.checked && switchBackend(r.value));
    }
    wireUi();
    await loadModel();
    renderExamples();
    $('input').value = params.get('text') || firstExample();
    await tagNow();
    stats.firstResultMs = performance.now();
    resolveReady(stats);
    loadViewer().catch((e) => viewerError(e));
  } catch (e) {
    console.error(e);
    setStatus(`Error: ${e.message || e}`, 'error');
    stats.error = String(e.message || e);
    resolveReady(stats);
    resolveViewer(stats);
  }
}

function firstExample() {
  const ex = state.examples[state.entry.dataset] || state.examples.mixed || [];
  return ex[0] || '张三在北京大学读书。';
}

function renderExamples() {
  const box = $('examples');
  box.textContent = '';
  const sets = [state.entry.dataset, ...Object.keys(state.examples).filter((k) => k !== state.entry.dataset)];
  for (const k of sets) {
    const list = state.examples[k] || [];
    if (!list.length) continue;
    const row = el('div', { class: 'ex-row' }, el('span', { class: 'ex-set' }, k));
    for (const s of list) {
      const b = el('button', { title: s, 'data-set': k }, s);
      b.addEventListener('click', () => {
        $('input').value = s;
        tagNow();
      });
      row.append(b);
    }
    box.append(row);
  }
}

// ---------------------------------------------------------------- models and backends

async function loadBundle(entry) {
  const dir = new URL(`models/${entry.path || entry.id}/`, STATIC);
  const [meta, weights, metrics] = await Promise.all([
    fetchOk(new URL('meta.json', dir), 'text'),
    fetchOk(new URL('weights.bpk', dir), 'bytes'),
    fetchOk(new URL('metrics.json', dir)).catch(() => null),
  ]);
  return { dir, meta, weights, metrics };
}

async function loadModel() {
  const t0 = performance.now();
  if (!state.bundle || state.bundle.id !== state.entry.id) {
    setStatus(`Downloading model “${state.entry.name || state.entry.id}”…`);
    state.bundle = { id: state.entry.id, ...(await loadBundle(state.entry)) };
  }
  const key = `${state.entry.id}:${state.backend}`;
  let model = state.models.get(key);
  if (!model) {
    setStatus(`Loading the model on ${state.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`);
    try {
      model = await serial(() => state.wasm.NerModel.load(state.bundle.meta, state.bundle.weights, state.backend));
    } catch (e) {
      if (state.backend !== 'webgpu') throw e;
      console.error(e);
      state.gpu = { ok: false, reason: String(e.message || e) };
      $('backend-webgpu').disabled = true;
      state.backend = 'cpu';
      $('backend-cpu').checked = true;
      setStatus(`WebGPU failed (${e.message || e}); using the CPU.`, 'error');
      return loadModel();
    }
    state.models.set(key, model);
  }
  state.model = model;
  state.info = JSON.parse(model.info);
  setTypes(state.info.types);
  stats.backend = state.backend;
  stats.modelLoadMs = performance.now() - t0;
  const badge = $('backend');
  badge.dataset.backend = state.backend;
  badge.textContent = state.backend === 'webgpu' ? `running on WebGPU${state.gpu.fallback ? ' (software)' : ''}` : 'running on CPU (wasm)';
  renderModelInfo();
  $('tag').disabled = false;
  setStatus(`Model ready (${state.backend}, ${stats.modelLoadMs.toFixed(0)} ms).`);
}

function renderModelInfo() {
  const m = state.bundle.metrics;
  const parts = [];
  const o = m && m.test && m.test.overall;
  if (o) parts.push(`test F1 ${o.f1.toFixed(2)} (P ${o.precision.toFixed(1)} / R ${o.recall.toFixed(1)})`);
  if (m && m.recipe) parts.push(`recipe ${m.recipe}`);
  if (m && m.parameters) parts.push(`${(m.parameters / 1e6).toFixed(2)} M parameters`);
  parts.push(`weights ${fmtBytes(state.bundle.weights.length)}`);
  $('model-metrics').textContent = parts.join(' · ');
}

async function switchBackend(b) {
  if (b === state.backend) return;
  state.backend = b;
  $('tag').disabled = true;
  try {
    await loadModel();
    await tagNow();
  } catch (e) {
    setStatus(`Error: ${e.message || e}`, 'error');
  }
}
api.switchBackend = async (b) => {
  const r = document.querySelector(`input[name=backend][value=${b}]`);
  if (r && !r.disabled) r.checked = true;
  await switchBackend(b);
  return state.backend;
};

async function switchModel(id) {
  state.entry = state.entries.find((m) => m.id === id);
  $('tag').disabled = true;
  try {
    await loadModel();
    renderExamples();
    $('input').value = firstExample();
    await tagNow();
    await loadViewer();
  } catch (e) {
    setStatus(`Error: ${e.message || e}`, 'error');
  }
}

// ---------------------------------------------------------------- tagging

async function analyse(text) {
  const model = state.model;
  return serial(async () => {
    const t0 = performance.now();
    const r = await model.analyse(text, true);
    const ms = performance.now() - t0;
    const res = JSON.parse(r.json);
    res.embeddings = r.embeddings;
    r.free();
    res.ms = ms;
    res.backend = state.backend;
    stats.analyses.push({ chars: res.chars.length, ms, backend: state.backend });
    return res;
  });
}
api.analyse = async (text) => {
  const r = await analyse(text);
  delete r.embeddings;
  return r;
};
// Median milliseconds per call over `reps` rounds of `texts` (after one warm-up call each).
api.bench = async (texts, reps = 3) => {
  for (const t of texts) await analyse(t);
  const times = [];
  for (let k = 0; k < reps; k++) for (const t of texts) times.push((await analyse(t)).ms);
  times.sort((a, b) => a - b);
  return { backend: state.backend, calls: times.length, median: times[times.length >> 1], mean: times.reduce((a, b) => a + b, 0) / times.length, min: times[0], max: times[times.length - 1] };
};

async function tagNow() {
  let text = $('input').value;
  if (text.length > MAX_INPUT) {
    text = text.slice(0, MAX_INPUT);
    setStatus(`Input cut to its first ${MAX_INPUT} characters.`);
  }
  const res = await analyse(text);
  state.result = res;
  renderOutput(res);
  const lines = res.lines.length, pieces = res.pieces;
  $('timing').textContent = `${res.chars.length} characters, ${pieces} piece${pieces === 1 ? '' : 's'}${lines > 1 ? ` in ${lines} lines` : ''} · ${res.ms.toFixed(1)} ms on ${res.backend === 'webgpu' ? 'WebGPU' : 'CPU'}`;
  if (state.viewer) drawViewer();
  return res;
}
api.tag = async (text) => {
  $('input').value = text;
  const r = await tagNow();
  return r.entities;
};

function renderOutput(res) {
  const out = $('output');
  out.textContent = '';
  const starts = new Map(res.entities.map((e) => [e.start, e]));
  const charSpan = (i) => {
    const c = res.chars[i];
    return el('span', { class: res.tags[i] == null || /\s/.test(c) ? 'ch nonchar' : 'ch', 'data-i': i }, c);
  };
  let i = 0;
  while (i < res.chars.length) {
    if (res.chars[i] === '\n') {
      out.append(el('br'));
      i++;
      continue;
    }
    const e = starts.get(i);
    if (e && e.end > i) {
      const m = el('mark', {
        class: 'ent', 'data-type': e.type, 'data-start': e.start, 'data-end': e.end, 'data-text': e.text,
        style: `--c: ${colourOfType(e.type)}`,
      });
      for (let k = e.start; k < e.end; k++) m.append(charSpan(k));
      m.append(el('span', { class: 'lbl' }, e.type));
      out.append(m);
      i = e.end;
    } else {
      out.append(charSpan(i));
      i++;
    }
  }
  // Legend: the model's types, with counts in this text.
  const counts = new Map();
  for (const e of res.entities) counts.set(e.type, (counts.get(e.type) || 0) + 1);
  const legend = $('legend');
  legend.textContent = '';
  for (const t of state.info.types) {
    const n = counts.get(t) || 0;
    legend.append(el('span', { class: 'key', style: n ? '' : 'opacity:0.55' },
      el('span', { class: 'sw', style: `background:${colourOfType(t)}` }), `${t}${n ? ` ×${n}` : ''}`));
  }
}

function showTooltip(x, y, html) {
  const t = $('tooltip');
  t.innerHTML = html;
  t.hidden = false;
  const w = t.offsetWidth, h = t.offsetHeight;
  t.style.left = `${Math.min(x + 14, innerWidth - w - 8)}px`;
  t.style.top = `${y + 18 + h > innerHeight ? y - h - 10 : y + 18}px`;
}
function hideTooltip() {
  $('tooltip').hidden = true;
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function marginalTooltip(i) {
  const res = state.result;
  const tags = state.info.tags;
  const n = tags.length;
  const tag = res.tags[i];
  if (tag == null) return null;
  const row = Array.from(res.marginals.slice(i * n, (i + 1) * n), (p, k) => ({ p, k }));
  row.sort((a, b) => b.p - a.p);
  const top = row.slice(0, 6);
  const chosen = tags.indexOf(tag);
  if (!top.some((r) => r.k === chosen)) top.push(row.find((r) => r.k === chosen));
  const rows = top.map((r) => `<tr class="${r.k === chosen ? 'chosen' : ''}"><td>${esc(tags[r.k])}</td>` +
    `<td style="width:7rem"><div class="bar" style="width:${(100 * r.p).toFixed(1)}%;background:${colourOfTag(tags[r.k])}"></div></td>` +
    `<td>${(100 * r.p).toFixed(1)}%</td></tr>`).join('');
  return `<div class="t">“${esc(res.chars[i])}” → ${esc(tag)}</div><table>${rows}</table>`;
}

function wireUi() {
  $('tag').addEventListener('click', () => tagNow().catch((e) => setStatus(`Error: ${e.message || e}`, 'error')));
  let timer = null;
  $('input').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => state.model && tagNow().catch(() => {}), 350);
  });
  $('output').addEventListener('mousemove', (ev) => {
    const c = ev.target.closest && ev.target.closest('.ch');
    const html = c && state.result ? marginalTooltip(+c.dataset.i) : null;
    if (html) showTooltip(ev.clientX, ev.clientY, html);
    else hideTooltip();
  });
  $('output').addEventListener('mouseleave', hideTooltip);
  $('projection').addEventListener('change', () => state.viewer && projectAll().then(drawViewer));
  $('colour').addEventListener('change', () => state.viewer && drawViewer());
  $('show-user').addEventListener('change', () => state.viewer && drawViewer());
  addEventListener('resize', () => state.viewer && drawViewer());
}

// ---------------------------------------------------------------- viewer: data

const F16 = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
    t[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
})();
function decodeF16(bytes) {
  const u = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = F16[u[i]];
  return out;
}

function viewerError(e) {
  console.error(e);
  $('viewer-status').textContent = `Viewer unavailable: ${e.message || e}`;
  resolveViewer(stats);
}

async function loadViewer() {
  const dir = state.bundle.dir;
  $('viewer-status').textContent = 'Loading embeddings…';
  const index = await fetchOk(new URL('embeddings.json', dir));
  const views = await Promise.all(index.views.map(async (v) => ({
    name: v.name, data: decodeF16(await fetchOk(new URL(v.file, dir), 'bytes')),
  })));
  const classes = index.tokens.map((t) => t.class);
  const n = index.tokens.length, d = index.dim;
  for (const v of views) {
    if (v.data.length !== n * d) throw new Error(`${v.name}: ${v.data.length} values, expected ${n}×${d}`);
    v.quality = clusterQuality(v.data, n, d, classes);
  }
  state.viewer = { index, views, n, d, classes, tsne: new Map() };
  buildPlots();
  await projectAll();
  drawViewer();
  stats.viewer = views.map((v) => ({ name: v.name, ...v.quality }));
  $('viewer-status').textContent = `${n} test characters from ${index.sentences.length} sentences, ${d}-dimensional.`;
  resolveViewer(stats);
}

// Cosine kNN purity (k = 10) and silhouette of the entity tokens, clusters = Semantic Classes
// (Non-Entity tokens are neighbours and a cluster, never queries).
function clusterQuality(data, n, d, classes, k = 10) {
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

// ---------------------------------------------------------------- viewer: projections

// Top-2 principal axes by power iteration on the covariance (deterministic).
function pca(data, n, d) {
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
async function tsne(data, n, d, onProgress, iters = 400) {
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
function placeByNeighbours(sample, coords, n, d, x, m, k = 5) {
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

// ---------------------------------------------------------------- viewer: drawing

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

function drawViewer() {
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

// ---------------------------------------------------------------- go

if (window.wasmBindings) start();
else addEventListener('TrunkApplicationStarted', start, { once: true });
