// Reading the site's files: the JSON beside the page, a model bundle written by `nerco export`
// (meta.json, weights.bpk, metrics.json) and its viewer embeddings (embeddings.json + one f16
// matrix per view). No DOM access beyond the page's base URL.

export const STATIC = new URL('static/', document.baseURI);

export async function fetchOk(url, how = 'json') {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  if (how === 'json') return r.json();
  if (how === 'text') return r.text();
  return new Uint8Array(await r.arrayBuffer());
}

export async function loadBundle(entry) {
  const dir = new URL(`models/${entry.path || entry.id}/`, STATIC);
  const [meta, weights, metrics] = await Promise.all([
    fetchOk(new URL('meta.json', dir), 'text'),
    fetchOk(new URL('weights.bpk', dir), 'bytes'),
    fetchOk(new URL('metrics.json', dir)).catch(() => null),
  ]);
  return { dir, meta, weights, metrics };
}

const F16 = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
    t[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
})();
export function decodeF16(bytes) {
  const u = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = F16[u[i]];
  return out;
}

// The bundle's viewer sample: its index (tokens, sentences, dim, views) and each view's n × d
// matrix, checked against the index's size.
export async function loadEmbeddings(dir) {
  const index = await fetchOk(new URL('embeddings.json', dir));
  const views = await Promise.all(index.views.map(async (v) => ({
    name: v.name, data: decodeF16(await fetchOk(new URL(v.file, dir), 'bytes')),
  })));
  const n = index.tokens.length, d = index.dim;
  for (const v of views) {
    if (v.data.length !== n * d) throw new Error(`${v.name}: ${v.data.length} values, expected ${n}×${d}`);
  }
  return { index, views, n, d };
}
