import * as Comlink from 'comlink';
import type { EngineWorkerApi } from '../../workers/engine.worker';

// Placeholder page: proves the worker, comlink and WebGPU wiring. The real UI comes later.
const status = document.querySelector<HTMLElement>('#status')!;
const details = document.querySelector<HTMLElement>('#details')!;

async function main(): Promise<void> {
  if (!('gpu' in navigator)) {
    status.textContent =
      'This browser has no WebGPU. Use Chrome or Edge 113+ (or Safari 26+, Firefox 141+ on Windows), over https or localhost.';
    return;
  }
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
  const engine = Comlink.wrap<EngineWorkerApi>(worker);
  try {
    const { summary, description } = await engine.adapter();
    status.textContent = `WebGPU ready in a worker: ${description}`;
    details.textContent = JSON.stringify(summary, null, 2);
  } catch (e) {
    status.textContent = `WebGPU is present but unusable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

void main();
