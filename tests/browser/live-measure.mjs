// Browser timings of the Train live panel (not part of the test suite): serves a built site,
// opens the panel on one bundle (CPU / wasm), plays both runs to the end and prints the time to
// the first visible update after Play, ms per update, ms per step, the stage-1 wall time and the
// held-out quality at the start and end of both runs.
//   node live-measure.mjs <dist-dir> [model-id (default resume)] [steps-per-frame (default 5)]
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';

const [distArg, model = 'resume', speed = '5'] = process.argv.slice(2);
const root = resolve(distArg || 'dist');
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css' };
const server = createServer((req, res) => {
  let file = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file.startsWith(root) || !existsSync(file)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage();
page.on('console', (m) => m.type() === 'error' && console.error(m.text()));
await page.goto(`${base}/?model=${model}&backend=cpu`);
await page.waitForFunction(() => window.nerco?.stats?.firstResultMs || window.nerco?.stats?.error, null, { timeout: 600_000 });
await page.click('#live-open');
await page.waitForFunction(() => /Ready|Error/.test(document.querySelector('#live-status').textContent), null, { timeout: 600_000 });
await page.selectOption('#live-speed', speed);
const t0 = Date.now();
await page.click('#live-play');
// The panel mid-run (the README's figure), then on to the end.
await page.waitForFunction(() => window.nercoLive.runs.every((r) => r.info && r.step >= r.info.total_steps / 2), null, { timeout: 600_000 });
await page.locator('#live').screenshot({ path: process.env.SHOT || 'live-panel.png' });
await page.waitForFunction(() => window.nercoLive.runs.every((r) => r.done), null, { timeout: 600_000 });
const wallMs = Date.now() - t0;
const out = await page.evaluate(() => {
  const s = window.nercoLive.stats;
  const mean = (v) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const gaps = window.nercoLive.runs.flatMap((r) => r.updateTimes.slice(1).map((t, i) => t - r.updateTimes[i]));
  return {
    firstUpdateMs: s.firstUpdateMs,
    updates: s.updates.length,
    msPerUpdate: mean(gaps),
    maxMsPerUpdate: Math.max(...gaps),
    msPerStep: mean(s.stepMs),
    msPerFrame: mean(s.frameMs), // the held-out points and their quality, after the steps
    runs: window.nercoLive.runs.map((r) => ({
      recipe: r.recipe, steps: r.step, frames: r.frames,
      start: { knn: r.history[0].knn, silhouette: r.history[0].sil },
      end: { step: r.quality.step, knn: r.quality.knn_purity, silhouette: r.quality.silhouette },
    })),
  };
});
console.log(JSON.stringify({ model, speed: +speed, wallMs, ...out }));
await browser.close();
server.close();
