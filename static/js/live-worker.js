// A Web Worker that runs one live training run (web/src/live.rs through the wasm module's
// `LiveRun`): the same epoch driver as `nerco train`, a few steps per chunk, yielding to the event
// loop between chunks so Pause / Step / speed messages get through. Each chunk ends with a frame:
// `{type: 'frame', step, losses, points, knn_purity?, silhouette?}` (quality about once a second) (points transferred, not
// copied). The page runs one worker per recipe: dropout draws from the device's random stream,
// which two runs in one worker would share.
//
// Messages in: {type: 'init', glue, wasm} (the URLs of trunk's JS glue and wasm), {type: 'reset',
// sample, config, recipe, seed}, {type: 'play'}, {type: 'pause'}, {type: 'step'},
// {type: 'speed', steps}.

let wasm = null;
let run = null;
let playing = false;
let stepsPerFrame = 5;
// A chunk stops early after this long, so the worker answers messages within it.
const CHUNK_MS = 250;

function post(msg, transfer = []) {
  self.postMessage(msg, transfer);
}

// Up to `stepsPerFrame` steps (fewer if the chunk's time runs out or the run ends), then a frame.
function chunk() {
  const t0 = performance.now();
  const losses = [];
  let done = false;
  while (losses.length < stepsPerFrame && performance.now() - t0 < CHUNK_MS) {
    const l = run.step(1);
    if (!l.length) { done = true; break; }
    losses.push(l[0]);
  }
  const stepMs = (performance.now() - t0) / Math.max(1, losses.length);
  frame({ losses, stepMs, done });
  return done;
}

// The quality is quadratic in the held-out tokens: measured at most once per QUALITY_MS (and at
// the start and the end), the points every frame.
const QUALITY_MS = 1000;
let lastQuality = -Infinity;

function frame(extra) {
  const t0 = performance.now();
  const withQuality = extra.losses.length === 0 || extra.done || t0 - lastQuality >= QUALITY_MS;
  if (withQuality) lastQuality = t0;
  const f = run.frame(withQuality);
  const q = JSON.parse(f.json);
  const points = f.points;
  f.free();
  post({ type: 'frame', ...q, ...extra, frameMs: performance.now() - t0, points }, [points.buffer]);
}

function loop() {
  if (!playing || !run) return;
  let done;
  try {
    done = chunk();
  } catch (e) {
    playing = false;
    post({ type: 'error', message: String(e.message || e) });
    return;
  }
  if (done) {
    playing = false;
    post({ type: 'finished' });
    return;
  }
  // Yield: queued messages (pause, speed) run before the next chunk.
  setTimeout(loop, 0);
}

self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      const glue = await import(m.glue);
      await glue.default({ module_or_path: m.wasm });
      wasm = glue;
      post({ type: 'ready' });
    } else if (m.type === 'reset') {
      playing = false;
      if (run) run.free();
      run = new wasm.LiveRun(m.sample, m.config || '', m.recipe, m.seed);
      post({ type: 'info', ...JSON.parse(run.info) });
      frame({ losses: [], stepMs: 0, done: false });
    } else if (m.type === 'play') {
      // The first update after Play shows the points at once; its quality comes a second later.
      if (!playing) { playing = true; lastQuality = performance.now(); loop(); }
    } else if (m.type === 'pause') {
      playing = false;
      post({ type: 'paused', step: run ? run.steps : 0 });
    } else if (m.type === 'step') {
      if (run && !playing) chunk();
    } else if (m.type === 'speed') {
      stepsPerFrame = Math.max(1, m.steps | 0);
    }
  } catch (err) {
    playing = false;
    post({ type: 'error', message: String(err.message || err) });
  }
};
