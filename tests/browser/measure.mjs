// Browser timings of one model (not part of the test suite): time to first result and ms per
// 50-character sentence on the CPU backend, and on WebGPU with NERCO_WEBGPU=1.
//   node measure.mjs <base-url> <model-id> [nerco-run-dir-for-an-entity-check]
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
const [base, model, run] = process.argv.slice(2);
const backends = process.env.NERCO_WEBGPU === '1' ? ['cpu', 'webgpu'] : ['cpu'];
const BENCH = [
  '2007年10月至今任人和投资董事；2007年12月至2013年2月任公司董事、董事会秘书、综合管理',
  '张雁冰，男，1965年1月出生，中国国籍，无永久境外居留权，兰州商学院会计专业毕业，大专学历',
  '王建国先生，本科学历，工程师，现任本公司独立董事、审计委员会主任委员，曾任中国银行上海分行',
].map((s) => Array.from(s).slice(0, 50).join(''));
const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu', '--enable-features=Vulkan'];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
for (const backend of backends) {
  const page = await browser.newPage();
  await page.goto(`${base}/?model=${model}&backend=${backend}`);
  await page.waitForFunction(() => window.nerco?.stats?.firstResultMs || window.nerco?.stats?.error, null, { timeout: 600_000 });
  const s = await page.evaluate(() => window.nerco.stats);
  if (s.error) throw new Error(s.error);
  const bench = await page.evaluate((b) => window.nerco.bench(b, 3), BENCH);
  let same = null;
  if (run) {
    const native = execFileSync(process.env.NERCO_BIN || 'target/release/nerco', ['predict', '--run', run], { input: BENCH.join('\n') + '\n', encoding: 'utf8' })
      .trim().split('\n').map((l) => JSON.parse(l).entities.map(({ start, end, type, text }) => ({ start, end, type, text })));
    const ours = [];
    for (const t of BENCH) {
      const r = await page.evaluate((x) => window.nerco.analyse(x), t);
      ours.push(r.lines[0].entities.map(({ start, end, type, text }) => ({ start, end, type, text })));
    }
    same = JSON.stringify(native) === JSON.stringify(ours);
  }
  console.log(JSON.stringify({ model, backend: s.backend, wasmReadyMs: s.wasmReadyMs, modelLoadMs: s.modelLoadMs, firstResultMs: s.firstResultMs, firstAnalyseMs: s.analyses[0].ms, per50chars: bench, sameAsNative: same }));
  await page.close();
}
await browser.close();
