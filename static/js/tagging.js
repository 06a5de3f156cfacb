// Tagging: running the loaded model on the input text, highlighting its entities (as
// `#output mark.ent[data-start][data-end][data-type][data-text]`), the type legend with counts,
// and the tooltip of each character's CRF marginals.
import { $, el, esc, setStatus, showTooltip, hideTooltip } from './dom.js';
import { colourOfTag, colourOfType } from './colours.js';
import { serial } from './models.js';
import { state, stats } from './state.js';
import { drawViewer } from './viewer.js';

const MAX_INPUT = 20000;

// The model's analysis of `text`: {chars, tags, entities, lines, marginals, pieces,
// embedded_chars} plus `embeddings` (Float32Array), `ms` and `backend`.
export async function analyse(text) {
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

// Median milliseconds per call over `reps` rounds of `texts` (after one warm-up call each).
export async function bench(texts, reps = 3) {
  for (const t of texts) await analyse(t);
  const times = [];
  for (let k = 0; k < reps; k++) for (const t of texts) times.push((await analyse(t)).ms);
  times.sort((a, b) => a - b);
  return { backend: state.backend, calls: times.length, median: times[times.length >> 1], mean: times.reduce((a, b) => a + b, 0) / times.length, min: times[0], max: times[times.length - 1] };
}

// Tags what is in #input and shows it (and the user's points in the viewer).
export async function tagNow() {
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

export function wireTagger() {
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
}
