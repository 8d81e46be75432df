import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { Calibrator, type CalibrationProgress } from '../../src/prune/calibrate';
import { referenceFlops } from '../../src/prune/flops';
import { parseRecipe } from '../../src/prune/recipe';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { testImage } from '../helpers/llava';
import { Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };

describe('calibration on the GPU (tiny-144, 3 samples)', () => {
  let engine: Engine;
  const rng = new Rng(21);
  const samples = [0, 1, 2].map(() => ({ image: testImage(rng, 84, 84), question: 'What is the color of the object on the left?' }));

  beforeAll(async () => {
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    await engine.load({ files: makeTinyLlava({ seed: 5, preset: 'tiny-144' }) });
  });
  afterAll(() => engine.dispose());

  it('fits a recipe that meets the budget, reuses pass A for another budget, and the recipe prunes', async () => {
    const events: CalibrationProgress[] = [];
    const calibrator = new Calibrator(engine, samples, { onProgress: (p) => void events.push(p) });
    const half = await calibrator.run(0.5, 'tiny-144');
    expect(half.feasible).toBe(true);
    const model = { hiddenSize: 64, intermediateSize: 172, numLayers: 4 };
    expect(referenceFlops(model, 144, half.recipe.counts).ratio).toBeLessThanOrEqual(0.5);
    expect(half.recipe.flops.reference.ratio).toBeLessThanOrEqual(0.5);
    expect(half.recipe.counts).toHaveLength(4);
    expect(half.passA.wCross).toHaveLength(3);
    for (const row of half.passA.wSelf) for (const w of row) expect(w).toBeGreaterThan(0);
    expect(events.some((e) => e.phase === 'statistics') && events.some((e) => e.phase === 'fit')).toBe(true);
    expect(events.at(-1)!.etaSeconds).toBeGreaterThanOrEqual(0);

    const statsRuns = events.filter((e) => e.phase === 'statistics').length;
    const lighter = await new Calibrator(engine, samples, { onProgress: (p) => void events.push(p) }).run(0.7, 'tiny-144', { passA: half.passA });
    expect(events.filter((e) => e.phase === 'statistics').length).toBe(statsRuns); // pass A reused
    expect(lighter.recipe.flops.reference.ratio).toBeLessThanOrEqual(0.7);
    expect(lighter.recipe.counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(half.recipe.counts.reduce((a, b) => a + b, 0));

    // The recipe survives a JSON round trip and drives pruned inference.
    const recipe = parseRecipe(JSON.stringify(half.recipe), engine.info().model!);
    const r = await engine.generate({ prompt: samples[0]!.question, image: samples[0]!.image, maxNewTokens: 2, pruning: { kind: 'fitprune', recipe } });
    expect(r.pruning.deleted).toEqual(recipe.counts.map((k, l) => Math.min(k, 144 - recipe.counts.slice(0, l).reduce((a, b) => a + b, 0))));
    expect(r.pruning.flops.reference.ratio).toBeLessThanOrEqual(0.5 + 1e-9);

    // Hostile edits of it are refused against the loaded model, naming the field (issue 25), and the engine still answers.
    const info = engine.info().model!;
    const edited = (patch: Record<string, unknown>) => JSON.stringify({ ...half.recipe, ...patch });
    const { flops: _dropped, ...noFlops } = half.recipe;
    void _dropped;
    expect(() => parseRecipe(JSON.stringify(noFlops), info)).toThrow(/recipe "flops" must be an object \{ reference, architecture \}.*; got missing/);
    expect(() => parseRecipe(edited({ alpha: 'x' }), info)).toThrow(/recipe "alpha" must be null or a number in \[0, 1\]/);
    expect(() => parseRecipe(edited({ budget: 'half' }), info)).toThrow(/recipe "budget" must be null or a number in \(0, 1\)/);
    expect(() => parseRecipe(edited({ counts: [500, 0, 0, 0] }), info)).toThrow(/recipe "counts\[0\]" must be an integer in \[0, 144\]/);
    expect(() => parseRecipe(edited({ referenceVisualTokens: 1e300 }), info)).toThrow(/recipe "referenceVisualTokens" must be an integer in \[1, 1048576\]/);
    expect(() => parseRecipe(edited({ flops: { ...half.recipe.flops, reference: { ...half.recipe.flops.reference, ratio: 0.57 } } }), info)).toThrow(
      /recipe "flops.reference.ratio" is 0.57, but its counts give/,
    );
    const after = await engine.generate({ prompt: samples[0]!.question, image: samples[0]!.image, maxNewTokens: 2, pruning: { kind: 'fitprune', recipe } });
    expect(after.tokens).toEqual(r.tokens);
  });

  it('aborts', async () => {
    const controller = new AbortController();
    controller.abort(new DOMException('stop', 'AbortError'));
    await expect(new Calibrator(engine, samples, { signal: controller.signal }).run(0.5, 'x')).rejects.toThrow(/stop/);
  });
});
