// The web demo in a real headless Chromium (Debian's, driven by playwright-core): serve dist/ from
// a local static server on 127.0.0.1, tag sentences, compare the highlighted entities with
// `nerco predict` on the same model, draw the Semantic Class viewer, save screenshots and the
// browser timings. Run through scripts/browser-test.sh, which builds the site and the test model.
//
// Environment: DIST (built site), NERCO_BIN (the nerco binary), NERCO_RUN (the run the bundle
// was exported from), NERCO_MODEL (its id in dist/static/models/index.json), OUT_DIR
// (screenshots + results.json), CHROMIUM (default /usr/bin/chromium), NERCO_WEBGPU=1 to also
// run the WebGPU path on Chromium's software adapter (slow: shaders compile for ~10 s).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = resolve(ROOT, process.env.DIST || 'dist');
const NERCO = resolve(ROOT, process.env.NERCO_BIN || 'target/release/nerco');
const RUN = resolve(ROOT, process.env.NERCO_RUN || 'runs/tiny');
const MODEL = process.env.NERCO_MODEL || 'tiny';
const OUT = resolve(ROOT, process.env.OUT_DIR || 'target/browser-test');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WEBGPU = process.env.NERCO_WEBGPU === '1';

// Sentences the test tags: Resume-style (the tiny model's data), a line longer than max_len,
// and text with Latin letters and emoji.
const SENTENCES = [
  '张三在北京大学读书，现任华为技术有限公司总经理。',
  '高勇：男，中国国籍，无境外居留权，1966年出生，汉族，中共党员，本科学历，工程师。',
  '2013年2月至今任山东三维石化工程股份有限公司董事、董事会秘书、副总经理，兼任中国石油大学客座教授，并担任全国化工标准化技术委员会委员。',
  'Hello 世界 😀 李四在Google上海分公司任高级工程师🎉',
];
// 50-character sentences for the latency figure.
const BENCH = [
  '2007年10月至今任人和投资董事；2007年12月至2013年2月任公司董事、董事会秘书、综',
  '张雁冰，男，1965年1月出生，中国国籍，无永久境外居留权，兰州商学院会计专业毕业，大专学',
  '王建国先生，本科学历，工程师，现任本公司独立董事、审计委员会主任委员，曾任中国银行上海分行',
].map((s) => Array.from(s).slice(0, 50).join(''));

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

let server, base, browser;
const results = { sentences: [], timings: {} };

function serve(root) {
  return new Promise((ok) => {
    const s = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let file = normalize(join(root, path));
      if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) { res.writeHead(404).end('not found'); return; }
      res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(readFileSync(file));
    });
    s.listen(0, '127.0.0.1', () => ok(s));
  });
}

function nercoPredict(lines) {
  const out = execFileSync(NERCO, ['predict', '--run', RUN], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

async function launch(extra = []) {
  const profile = mkdtempSync(join(tmpdir(), 'nerco-chromium-'));
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...extra],
  }).catch(async (e) => {
    // Some playwright versions refuse --user-data-dir in launch(); fall back to its own temp profile.
    if (!/user-data-dir/.test(String(e))) throw e;
    return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra] });
  });
  b.on('disconnected', () => rmSync(profile, { recursive: true, force: true }));
  return b;
}

async function openPage(backend, timeout = 120_000) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const logs = [];
  // Every request the page (and its workers) makes: the page works offline and leaks nothing.
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const t0 = Date.now();
  await page.goto(`${base}/?model=${MODEL}&backend=${backend}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.nerco && window.nerco.stats && (window.nerco.stats.firstResultMs || window.nerco.stats.error), null, { timeout });
  const stats = await page.evaluate(() => window.nerco.stats);
  assert.ok(!stats.error, `page error: ${stats.error}\n${logs.join('\n')}`);
  return { page, logs, stats, requests, wallMs: Date.now() - t0 };
}

async function domEntities(page) {
  return page.$$eval('#output mark.ent', (ms) => ms.map((m) => ({
    start: +m.dataset.start, end: +m.dataset.end, type: m.dataset.type, text: m.dataset.text,
  })));
}

// Whole-text offsets of the native per-line entities, for comparison with the DOM.
function flatten(lines, predicted) {
  const out = [];
  let off = 0;
  lines.forEach((l, k) => {
    for (const e of predicted[k].entities) out.push({ start: e.start + off, end: e.end + off, type: e.type, text: e.text });
    off += Array.from(l).length + 1;
  });
  return out;
}

async function checkAgainstNative(page, label) {
  const native = nercoPredict(SENTENCES);
  for (const [k, s] of SENTENCES.entries()) {
    await page.evaluate((t) => window.nerco.tag(t), s);
    const shown = await domEntities(page);
    assert.deepEqual(shown, native[k].entities.map(({ start, end, type, text }) => ({ start, end, type, text })),
      `${label}: entities of “${s}” differ from nerco predict`);
    results.sentences.push({ backend: label, text: s, entities: shown });
  }
  // All lines at once (the page splits lines and long lines itself).
  await page.evaluate((t) => window.nerco.tag(t), SENTENCES.join('\n'));
  assert.deepEqual(await domEntities(page), flatten(SENTENCES, native), `${label}: multi-line text differs`);
}

before(async () => {
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html missing: build the site first (scripts/build-web.sh)`);
  assert.ok(existsSync(NERCO), `${NERCO} missing`);
  mkdirSync(OUT, { recursive: true });
  server = await serve(DIST);
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
  const wasm = execFileSync('sh', ['-c', `ls ${DIST}/*.wasm`], { encoding: 'utf8' }).trim().split('\n')[0];
  const bytes = readFileSync(wasm);
  results.sizes = { wasm: { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length } };
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`browser results: ${JSON.stringify({ sizes: results.sizes, timings: results.timings })}`);
});

test('CPU backend: the page tags text exactly like nerco predict', async () => {
  const { page, stats, wallMs, logs } = await openPage('cpu');
  try {
    assert.equal(stats.backend, 'cpu');
    assert.match(await page.textContent('#backend'), /CPU/);
    results.timings.cpu = {
      wasmReadyMs: stats.wasmReadyMs, modelLoadMs: stats.modelLoadMs, firstResultMs: stats.firstResultMs,
      firstAnalyseMs: stats.analyses[0]?.ms, pageWallMs: wallMs,
    };
    await checkAgainstNative(page, 'cpu');
    await page.evaluate((t) => window.nerco.tag(t), SENTENCES[0]);
    // Hovering a character shows its tag and marginals.
    await page.hover('#output .ch >> nth=3');
    const tip = await page.textContent('#tooltip');
    assert.match(tip, /→/);
    assert.match(tip, /%/);
    await page.screenshot({ path: join(OUT, 'tagger-hover-cpu.png') });
    const bench = await page.evaluate((b) => window.nerco.bench(b, 5), BENCH);
    results.timings.cpu.per50chars = bench;
  } catch (e) {
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await page.close();
  }
});

test('the Semantic Class viewer draws three views with cluster quality', async () => {
  const { page, logs } = await openPage('cpu');
  try {
    await page.evaluate(() => window.nerco.viewerReady);
    const viewer = await page.evaluate(() => window.nerco.stats.viewer);
    assert.ok(viewer && viewer.length >= 1, `no viewer stats\n${logs.join('\n')}`);
    for (const v of viewer) {
      assert.ok(Number.isFinite(v.knnPurity) && v.knnPurity >= 0 && v.knnPurity <= 1, JSON.stringify(v));
      assert.ok(Number.isFinite(v.silhouette) && v.silhouette >= -1 && v.silhouette <= 1, JSON.stringify(v));
    }
    results.viewer = viewer;
    // Canvases hold drawn points (non-blank pixels), and the user's sentence is marked.
    const inked = await page.$$eval('#plots canvas', (cs) => cs.map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
      return n;
    }));
    assert.equal(inked.length, viewer.length);
    assert.ok(inked.every((n) => n > 500), `blank canvas: ${inked}`);
    await page.locator('#viewer').screenshot({ path: join(OUT, 'viewer-pca-class.png') });
    await page.selectOption('#colour', 'tag');
    await page.locator('#viewer').screenshot({ path: join(OUT, 'viewer-pca-tag.png') });
    await page.selectOption('#colour', 'class');
    const t0 = Date.now();
    await page.selectOption('#projection', 'tsne');
    await page.waitForFunction(() => document.querySelectorAll('.plot .progress').length &&
      [...document.querySelectorAll('.plot .progress')].every((p) => p.hidden) &&
      window.nerco.state.viewer.tsne.size === window.nerco.state.viewer.views.length, null, { timeout: 300_000 });
    results.timings.tsneMs = Date.now() - t0;
    await page.locator('#viewer').screenshot({ path: join(OUT, 'viewer-tsne-class.png') });
    await page.screenshot({ path: join(OUT, 'page-cpu.png'), fullPage: true });
  } catch (e) {
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await page.close();
  }
});

test('Train live: Play trains both runs, the loss falls, frames are drawn, Pause stops them', async () => {
  const { page, logs, requests } = await openPage('cpu');
  try {
    await page.click('#live-open');
    await page.waitForFunction(() => /Ready/.test(document.querySelector('#live-status').textContent) ||
      /Error/.test(document.querySelector('#live-status').textContent), null, { timeout: 60_000 });
    assert.match(await page.textContent('#live-status'), /Ready/, logs.join('\n'));
    await page.click('#live-play');
    // Both runs to their end (the tiny bundle's sample is a few steps), frames drawn on the way.
    await page.waitForFunction(() => window.nercoLive.runs.every((r) => r.done), null, { timeout: 60_000 });
    const runs = await page.evaluate(() => window.nercoLive.runs.map((r) => ({
      recipe: r.recipe, step: r.step, frames: r.frames, losses: r.history.map((h) => h.loss).filter((x) => x !== null),
      knn: r.history.map((h) => h.knn).filter((x) => x !== null), sil: r.history.map((h) => h.sil).filter((x) => x !== null),
    })));
    const stats = await page.evaluate(() => ({ ...window.nercoLive.stats, updates: window.nercoLive.stats.updates.length }));
    for (const r of runs) {
      assert.ok(r.step > 1 && r.frames > 2, JSON.stringify(r));
      // Quality at the start and at the end at least, numbers in range.
      assert.ok(r.knn.length >= 2 && r.knn.every((x) => x >= 0 && x <= 1), JSON.stringify(r));
      assert.ok(r.losses.at(-1) < r.losses[0], `${r.recipe}: the loss did not fall: ${r.losses}`);
    }
    const inked = await page.$$eval('#live-plots canvas', (cs) => cs.map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
      return n;
    }));
    assert.ok(inked.length === 2 && inked.every((n) => n > 200), `blank live canvas: ${inked}`);
    // Reset, Play, Pause: the step count stops moving.
    await page.click('#live-reset');
    await page.waitForFunction(() => window.nercoLive.runs.every((r) => r.step === 0 && r.frames >= 1));
    await page.click('#live-play');
    await page.waitForFunction(() => window.nercoLive.runs[0].step >= 1, null, { timeout: 30_000 });
    await page.click('#live-pause');
    await page.waitForTimeout(600);
    const paused = await page.evaluate(() => window.nercoLive.runs.map((r) => r.step));
    await page.waitForTimeout(800);
    assert.deepEqual(await page.evaluate(() => window.nercoLive.runs.map((r) => r.step)), paused);
    results.live = { runs, stats };
    await page.locator('#live').screenshot({ path: join(OUT, 'live-cpu.png') });
    const origin = new URL(base).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'requests leaving the page origin');
    assert.ok(requests.some((u) => u.endsWith('live-sample.json')) && requests.some((u) => u.endsWith('live-worker.js')));
  } catch (e) {
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await page.close();
  }
});

test('WebGPU backend (Chromium software adapter)', { skip: !WEBGPU && 'set NERCO_WEBGPU=1' }, async () => {
  await browser.close();
  browser = await launch(['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader']);
  const { page, stats, wallMs, logs } = await openPage('webgpu', 300_000);
  try {
    results.timings.webgpu = {
      adapter: stats.webgpu, backend: stats.backend, modelLoadMs: stats.modelLoadMs,
      firstResultMs: stats.firstResultMs, firstAnalyseMs: stats.analyses[0]?.ms, pageWallMs: wallMs,
    };
    assert.equal(stats.backend, 'webgpu', `fell back to ${stats.backend}: ${JSON.stringify(stats.webgpu)}\n${logs.join('\n')}`);
    await checkAgainstNative(page, 'webgpu');
    results.timings.webgpu.per50chars = await page.evaluate((b) => window.nerco.bench(b, 3), BENCH);
    await page.screenshot({ path: join(OUT, 'page-webgpu.png') });
  } catch (e) {
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await page.close();
  }
});
