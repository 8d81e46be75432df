/**
 * `npm run bench:kernels`: serves bench/kernels.html with Vite on 127.0.0.1, opens it in
 * headless Chromium (Debian's /usr/bin/chromium, WebGPU on its software adapter unless a GPU
 * is present), waits for the page's results and prints a table. Only ratios measured in this
 * one run mean anything on a software adapter.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { chromiumArgs, chromiumPath } from '../vitest.config';
import type { BenchResult } from './kernels-page';

const root = process.cwd();
const server = await createServer({ root, logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
await server.listen();
const address = server.httpServer?.address();
const port = typeof address === 'object' && address ? address.port : 0;
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
let exitCode = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[page] ${m.text()}`);
  });
  await page.goto(`http://127.0.0.1:${port}/bench/kernels.html`);
  await page.waitForFunction(() => (window as { __benchResult?: unknown }).__benchResult !== undefined, null, { timeout: 600_000, polling: 1000 });
  const result = (await page.evaluate(() => (window as unknown as { __benchResult: BenchResult }).__benchResult)) as BenchResult;
  if (result.error) throw new Error(`benchmark page failed: ${result.error}`);
  const version = browser.version();
  const lines = [
    `# Kernel benchmark — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Adapter: ${result.adapter}`,
    `Browser: Chromium ${version}; onnxruntime-web ${result.ortVersion} WebGPU EP ${result.sharedDevice ? 'on the same GPUDevice as ours' : 'on its own device (same adapter)'}`,
    'Median of 5 runs after warm-up, ours and ort interleaved; ratio = ort time / our time (>1: ours faster).',
    result.roofline
      ? `Roofline of this adapter, same run (bench/roofline/): peak ${result.roofline.peakGflops.toFixed(1)} GFLOP/s (vec4 fma), read bandwidth ${result.roofline.bandwidthGBs.toFixed(2)} GB/s, ${(result.roofline.dispatchMs * 1000).toFixed(0)} µs a dispatch, ${result.roofline.submitRoundTripMs.toFixed(2)} ms a submit-and-wait.`
      : 'Roofline: not measured.',
    '% peak = our GFLOP/s over the peak; % bw = the least bytes the op must move, per our time, over the bandwidth.',
    '',
    '| op | shape | ours GFLOP/s | ort GFLOP/s | ours/ort | % peak | % bw | max rel diff |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.rows.map(
      (r) =>
        `| ${r.op} | ${r.shape} | ${r.oursGflops.toFixed(3)} | ${r.ortGflops.toFixed(3)} | ${r.ratio.toFixed(2)}× | ${(100 * r.oursOfPeak).toFixed(1)} % | ${(100 * r.oursOfBandwidth).toFixed(1)} % | ${r.maxRelDiff.toExponential(1)} |`,
    ),
  ];
  const text = lines.join('\n');
  console.log(text);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', `kernels-${new Date().toISOString().slice(0, 10)}.md`);
  writeFileSync(file, `${text}\n`);
  console.log(`\nwritten to ${file}`);
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  exitCode = 1;
} finally {
  await browser.close();
  await server.close();
}
process.exit(exitCode);
