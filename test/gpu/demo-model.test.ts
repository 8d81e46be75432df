// The shipped demo model on the GPU (Node + lavapipe, and Chromium + SwiftShader): the engine,
// loading the real files the way users do (a folder in Node, the page's own origin in the
// browser), answers the trainer's test-vector questions correctly, one per question type.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { EMBEDDED_MODEL } from '../../src/data/embedded';
import type { ModelSource } from '../../src/load/source';
import { HttpSource } from '../../src/load/sources';
import vectors from '../fixtures/demo-model-vectors.json';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
const inBrowser = typeof window !== 'undefined';

async function modelSource(): Promise<ModelSource> {
  if (inBrowser) return new HttpSource(new URL(EMBEDDED_MODEL.url, location.href).href, { cache: null });
  const { openNodeSource } = await import('../../src/load/node-dir-source');
  return openNodeSource(EMBEDDED_MODEL.dir);
}

async function image(path: string): Promise<Blob> {
  if (inBrowser) return (await fetch(new URL(EMBEDDED_MODEL.data.url + path, location.href))).blob();
  const { readFile } = await import('node:fs/promises');
  return new Blob([new Uint8Array(await readFile(`${EMBEDDED_MODEL.data.dir}/${path}`))]);
}

describe('demo model on the GPU', () => {
  it('answers one question of every type like the trainer', async () => {
    const engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    try {
      const info = await engine.load(await modelSource());
      expect(info.imageTokens).toBe(196);
      const answers: string[] = [];
      for (const v of vectors.items) {
        const r = await engine.generate({ prompt: v.question, image: await image(v.image), maxNewTokens: 4 });
        answers.push(r.text.trim());
      }
      expect(answers).toEqual(vectors.items.map((v) => v.answer));
    } finally {
      engine.dispose();
    }
  });
});
