// nerco web demo — start-up and wiring: the model picker, the backend switch, the examples, and
// the test hooks. The page's parts live beside this file (tagging.js, viewer.js, models.js, ...).
// The WebAssembly side (web/src/lib.rs) is reached through `window.wasmBindings`, which trunk's
// loader sets before it dispatches `TrunkApplicationStarted`.
//
// Test hooks: `window.nerco` (analyse, bench, tag, switchBackend, state, stats, ready/viewerReady
// promises) and `window.nercoStats` (timings). Entities are in the DOM as `#output
// mark.ent[data-start][data-end][data-type][data-text]`.
import { $, el, setStatus } from './dom.js';
import { STATIC, fetchOk } from './bundle.js';
import { loadModel, probeWebGPU } from './models.js';
import { ready, state, stats, viewerReady } from './state.js';
import { analyse, bench, tagNow, wireTagger } from './tagging.js';
import { loadViewer, viewerError, wireViewer } from './viewer.js';
import { wireLive } from './live.js';

const params = new URLSearchParams(location.search);

// Hooks for tests and measurements only: the modules share state by import, not through window.
window.nercoStats = stats;
window.nerco = {
  ready: ready.promise,
  viewerReady: viewerReady.promise,
  state,
  stats,
  switchBackend: async (b) => {
    const r = document.querySelector(`input[name=backend][value=${b}]`);
    if (r && !r.disabled) r.checked = true;
    await switchBackend(b);
    return state.backend;
  },
  analyse: async (text) => {
    const r = await analyse(text);
    delete r.embeddings;
    return r;
  },
  bench,
  tag: async (text) => {
    $('input').value = text;
    const r = await tagNow();
    return r.entities;
  },
};

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
    wireTagger();
    wireViewer();
    wireLive();
    await loadModel();
    renderExamples();
    $('input').value = params.get('text') || firstExample();
    await tagNow();
    stats.firstResultMs = performance.now();
    ready.resolve(stats);
    loadViewer().catch((e) => viewerError(e));
  } catch (e) {
    console.error(e);
    setStatus(`Error: ${e.message || e}`, 'error');
    stats.error = String(e.message || e);
    ready.resolve(stats);
    viewerReady.resolve(stats);
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

// Trunk's loader may have finished before this module ran.
if (window.wasmBindings) start();
else addEventListener('TrunkApplicationStarted', start, { once: true });
