// Models and backends: probing WebGPU, downloading a bundle and loading it into the wasm
// `NerModel` on the chosen backend (falling back to the CPU when WebGPU fails), the backend badge
// and the model's metrics line. Loaded models are cached per (bundle, backend).
import { $, setStatus } from './dom.js';
import { loadBundle } from './bundle.js';
import { setTypes } from './colours.js';
import { state, stats } from './state.js';

// One call into a model at a time: wasm-bindgen refuses re-entrant use of an object.
let chain = Promise.resolve();
export function serial(fn) {
  const p = chain.then(fn, fn);
  chain = p.catch(() => {});
  return p;
}

function fmtBytes(n) {
  return n > 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

export async function probeWebGPU() {
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

export async function loadModel() {
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
