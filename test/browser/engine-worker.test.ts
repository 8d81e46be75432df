import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../src/engine/engine';
import type { LoadProgress } from '../../src/load/progress';
import { loadPreprocessor } from '../../src/preprocess';
import { MemorySource } from '../../src/load/source';
import { referenceGenerate } from '../../src/reference/llava';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import type { EngineWorkerApi } from '../../workers/engine.worker';
import { expectClose } from '../helpers/compare';
import { referenceWeights, testImage } from '../helpers/llava';
import { freshRng } from '../helpers/random';

describe('LLaVA through the engine worker (comlink) in Chromium', () => {
  it('loads a generated checkpoint, streams a greedy answer matching the CPU reference, survives a corrupted load', async () => {
    const rng = freshRng();
    const files = makeTinyLlava({ seed: rng.seed, preset: 'tiny' });
    const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
    const engine = Comlink.wrap<EngineWorkerApi>(worker);
    try {
      const progress: LoadProgress[] = [];
      const info = await engine.load({ files, name: 'tiny' }, 'load-1', Comlink.proxy((p: LoadProgress) => void progress.push(p)));
      expect(info.imageTokens).toBe(64);
      const lastOf = (phase: string) => progress.filter((p) => p.phase === phase).at(-1)!;
      expect(lastOf('download').file).toBe('model.safetensors');
      expect(lastOf('download').bytesDone).toBe(lastOf('download').bytesTotal);
      expect(lastOf('upload-to-gpu').bytesDone).toBe(lastOf('upload-to-gpu').bytesTotal);

      const warmupMs = await engine.warmup();
      const image = testImage(rng, 61, 53);
      const streamed: TokenEvent[] = [];
      const result = await engine.generate(
        { requestId: 'gen-1', prompt: 'How many objects are there?', image, maxNewTokens: 5 },
        Comlink.proxy((t: TokenEvent) => void streamed.push(t)),
      );

      // The reference runs here on the page, from the same files.
      const pre = await loadPreprocessor(new MemorySource(files));
      const ref = await referenceWeights(files);
      const prompt = pre.encode(pre.buildPrompt('How many objects are there?', { hasImage: true }), { imageTokenCount: 64 });
      const { pixelValues } = await pre.preprocessImage(image);
      const expected = referenceGenerate(ref, prompt.inputIds, prompt.imageSpans[0]!, pixelValues, 5, pre.eosTokenIds);
      expectClose(result.firstLogits!, expected.logits[0]!, { rtol: 2e-4 }, `first logits, seed ${rng.seed}`);
      expect(result.tokens, `seed ${rng.seed}`).toEqual(expected.tokens);
      expect(streamed.map((t) => t.token)).toEqual(result.tokens);
      expect(result.usage.prefillMs).toBeGreaterThan(0);

      // A corrupted checkpoint: a clear error, and the engine keeps the model it had.
      const broken = new Map(files);
      const weights = broken.get('model.safetensors')!;
      broken.set('model.safetensors', weights.subarray(0, weights.length - 100));
      await expect(engine.load({ files: broken, name: 'broken' }, 'load-2')).rejects.toThrow(/model\.safetensors: tensor data needs \d+ bytes but the file holds \d+ after the header \(truncated\?\)/);
      const again = await engine.generate({ requestId: 'gen-2', prompt: 'How many objects are there?', image, maxNewTokens: 5 });
      expect(again.tokens).toEqual(result.tokens);

      // Calibrate a recipe in the browser (2 samples, 50 % budget), then answer with it.
      const calibration = await engine.calibrate(
        [0, 1].map(() => ({ image: testImage(rng, 56, 56), question: 'What is on the left?' })),
        0.5,
        'cal-1',
        { setId: 'test' },
      );
      expect(calibration.feasible).toBe(true);
      expect(calibration.recipe.flops.reference.ratio).toBeLessThanOrEqual(0.5);
      const recipe = await engine.checkRecipe(JSON.stringify(calibration.recipe));
      const pruned = await engine.generate({ requestId: 'gen-3', prompt: 'How many objects are there?', image, maxNewTokens: 3, pruning: { kind: 'fitprune', recipe }, recordKeptIndices: true });
      expect(pruned.pruning.keptPerLayer.at(-1)).toBeLessThan(64);
      expect(pruned.pruning.keptIndices).toHaveLength(2);

      // What the page's upload does: hostile recipes are refused by the worker naming the field
      // (issue 25: no `flops`, or `alpha` a string, used to pass here and break the panel), and the engine still answers.
      const { flops: _dropped, ...noFlops } = calibration.recipe;
      void _dropped;
      await expect(engine.checkRecipe(JSON.stringify(noFlops))).rejects.toThrow(/recipe "flops" must be an object/);
      await expect(engine.checkRecipe(JSON.stringify({ ...calibration.recipe, alpha: 'x' }))).rejects.toThrow(/recipe "alpha" must be null or a number in \[0, 1\]/);
      await expect(engine.checkRecipe(JSON.stringify({ ...calibration.recipe, counts: [500, 0] }))).rejects.toThrow(/recipe "counts\[0\]" must be an integer in \[0, 64\]/);
      const afterRefusals = await engine.generate({ requestId: 'gen-4', prompt: 'How many objects are there?', image, maxNewTokens: 3, pruning: { kind: 'fitprune', recipe }, recordKeptIndices: true });
      expect(afterRefusals.tokens).toEqual(pruned.tokens);
      // Device loss in the worker (issue 20): the request it interrupts says so by name across
      // comlink (or, if the answer came first, the loss falls between requests); the next request
      // answers the same on a new device, the engine having reloaded the model through the
      // load's progress callback.
      const progressBefore = progress.length;
      const interrupted = await engine
        .generate({ requestId: 'gen-lost', prompt: 'How many objects are there?', image, maxNewTokens: 5 }, Comlink.proxy((t: TokenEvent) => void (t.index === 0 && engine.loseDevice())))
        .then(() => null, (e: unknown) => e as Error);
      if (interrupted) {
        expect(interrupted.name).toBe('DeviceLostError');
        expect(interrupted.message).toMatch(/^WebGPU device lost \(destroyed\): .*The request did not complete( \(.*\))?; the engine acquires a new GPU device and reloads tiny before its next request: retry it$/);
      }
      const recovered = await engine.generate({ requestId: 'gen-5', prompt: 'How many objects are there?', image, maxNewTokens: 5 });
      expect(recovered.tokens).toEqual(result.tokens);
      expect(progress.length).toBeGreaterThan(progressBefore);
      expect(progress.at(-1)!.bytesDone).toBe(progress.at(-1)!.bytesTotal);
      console.info(`browser usage (tiny, SwiftShader): warm-up ${warmupMs.toFixed(0)} ms; first request after it: ${JSON.stringify(result.usage)}; next: ${JSON.stringify(again.usage)}; calibration ${calibration.seconds.toFixed(1)} s; device loss ${interrupted ? 'interrupted the request' : 'fell between requests'}`);
    } finally {
      worker.terminate();
    }
  }, 240_000);
});
