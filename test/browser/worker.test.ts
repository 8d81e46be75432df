import { describe, expect, it } from 'vitest';
import type { WorkerVerdict } from './kernel-worker';

describe('kernels inside a Web Worker', () => {
  it('acquire the GPU from the worker and match the CPU reference there', async () => {
    const worker = new Worker(new URL('./kernel-worker.ts', import.meta.url), { type: 'module' });
    const seed = Math.floor(Math.random() * 2 ** 31);
    try {
      const reply = await new Promise<{ ok: boolean; verdict?: WorkerVerdict; error?: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('worker did not answer within 120 s')), 120_000);
        worker.onmessage = (e) => {
          clearTimeout(timer);
          resolve(e.data);
        };
        worker.onerror = (e) => {
          clearTimeout(timer);
          reject(new Error(`worker error: ${e.message}`));
        };
        worker.postMessage({ seed });
      });
      expect(reply.error).toBeUndefined();
      const v = reply.verdict!;
      expect(v.inWorker, 'ran in a worker scope').toBe(true);
      expect(v.adapter).toMatch(/features:/);
      expect(v.matmulMaxError, `seed ${seed}`).toBeLessThan(1e-5);
      expect(v.attentionMaxError, `seed ${seed}`).toBeLessThan(1e-5);
      expect(v.keepExact, `seed ${seed}`).toBe(true);
      expect(v.gatherExact, `seed ${seed}`).toBe(true);
    } finally {
      worker.terminate();
    }
  }, 150_000);
});
