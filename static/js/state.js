// The page's shared state: what is loaded, what was last tagged, the viewer's data, the timings
// the tests read, and the two promises tests wait on (first result, viewer drawn).

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

export const state = {
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

export const stats = { backend: null, analyses: [] };

// Resolved with `stats` once the first text is tagged (or start-up failed) ...
export const ready = deferred();
// ... and once the viewer is drawn (or is unavailable).
export const viewerReady = deferred();
