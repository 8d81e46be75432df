#!/usr/bin/env node
// `npm test`: typecheck, then every test project in one Vitest run:
//   unit         plain Node (CPU reference, preprocessor, conversions, ...)
//   gpu-node     the kernel tests on Node + Dawn over lavapipe (has shader-f16)
//   gpu-browser  the same kernel tests and the worker tests in headless Chromium (SwiftShader)
//   e2e          the page: its globalSetup runs `vite build` and `vite preview`, then Chromium
//                drives it with playwright-core (after the other projects: sequence.groupOrder)
// Missing Chromium or lavapipe is reported with the command that installs it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFiltered } from './with-gpu.mjs';
import { lavapipeEnv } from './with-lavapipe.mjs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const problems = [];
if (!existsSync(chromium)) {
  problems.push(`Chromium not found at ${chromium} (browser tests need it).\n  Install: sudo apt-get install -y chromium   (or set CHROMIUM_PATH)`);
}
const gpuEnv = lavapipeEnv();
if (!gpuEnv) {
  problems.push('lavapipe (software Vulkan for Node WebGPU tests) is not installed.\n  Install: bash scripts/install-lavapipe.sh   (no root needed)');
}
if (problems.length) {
  console.error(`npm test cannot run yet:\n- ${problems.join('\n- ')}\nOr install both at once, as root: bash scripts/install-test-deps.sh`);
  process.exit(1);
}

const bin = (name) => join(process.cwd(), 'node_modules', '.bin', name);
const run = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;

console.log('> typecheck');
if (run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']) !== 0) process.exit(1);

const report = join(mkdtempSync(join(tmpdir(), 'fitprune-test-')), 'vitest.json');
const extra = process.argv.slice(2);
// Through the filter that drops Dawn's limit warnings (printed once per test file otherwise).
const status = await runFiltered('vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], gpuEnv);

// One plain closing line that any CI log reader understands.
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) {
    console.error('no test ran');
    process.exit(1);
  }
}
process.exit(status);
