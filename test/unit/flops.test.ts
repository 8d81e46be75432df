import { describe, expect, it } from 'vitest';
import { architectureFlops, referenceFlops } from '../../src/prune/flops';
import type { FlopsShape } from '../../src/models/family';

// LLaVA-1.5-7B, 576 visual tokens; the released FitPrune recipes (see shared docs/fitprune.md).
const LLAVA_7B = { hiddenSize: 4096, intermediateSize: 11008, numLayers: 32 };
const RECIPE_60 = [14, 33, 89, 36, 36, 20, 55, 21, 18, 4, 7, 5, 2, 5, 7, 4, 26, 5, 11, 24, 4, 18, 2, 1, 0, 0, 1, 0, 1, 0, 0, 0];
const RECIPE_90 = [262, 153, 80, 19, 13, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 1, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];

describe('reference FLOPs convention', () => {
  it('reproduces the released LLaVA-1.5-7B reduction-60 recipe arithmetic', () => {
    const r = referenceFlops(LLAVA_7B, 576, RECIPE_60);
    expect(r.tokensLeft.slice(0, 8)).toEqual([562, 529, 440, 404, 368, 348, 293, 272]);
    expect(r.tokensLeft[31]).toBe(127);
    expect(((1 - r.ratio) * 100).toFixed(1)).toBe('59.7');
  });

  it('reproduces the reduction-90 recipe: 37 tokens left, 89.7 %', () => {
    const r = referenceFlops(LLAVA_7B, 576, RECIPE_90);
    expect(r.tokensLeft[31]).toBe(37);
    expect(((1 - r.ratio) * 100).toFixed(1)).toBe('89.7');
  });

  it('is 4nd² + 2n²d + 3ndm per layer unpruned, and clamps counts at what is left', () => {
    const m = { hiddenSize: 8, intermediateSize: 20, numLayers: 2 };
    const n = 5;
    const per = 4 * n * 64 + 2 * n * n * 8 + 3 * n * 8 * 20;
    expect(referenceFlops(m, n, [0, 0]).macs).toBe(2 * per);
    const all = referenceFlops(m, n, [100, 3]);
    expect(all.tokensLeft).toEqual([0, 0]);
    expect(all.macs).toBe(3 * n * 64 + 2 * n * n * 8);
  });

  it('refuses a recipe of the wrong length', () => {
    expect(() => referenceFlops(LLAVA_7B, 576, RECIPE_60.slice(1))).toThrow(/31 per-layer counts for a 32-layer model/);
  });
});

describe('architecture FLOPs', () => {
  const shape = {
    text: { hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, vocabSize: 32064 },
    vision: { hiddenSize: 1024, intermediateSize: 4096, layersRun: 23, tokens: 577, patches: 576, patchInputs: 588, tiles: 1 },
    connector: { tokens: 576, linears: [[1024, 4096], [4096, 4096]] as [number, number][] },
  };

  it('counts text tokens too, so the saving is smaller than in the reference convention', () => {
    const prompt = 576 + 60;
    const a = architectureFlops(shape, prompt, 576, RECIPE_60);
    const r = referenceFlops(LLAVA_7B, 576, RECIPE_60);
    expect(a.ratio).toBeGreaterThan(r.ratio);
    expect(a.ratio).toBeLessThan(1);
    // An unpruned 7B prefill of ~636 tokens is ~8–9 TFLOPs with the vision tower.
    expect(a.baselineFlops / 1e12).toBeGreaterThan(7);
    expect(a.baselineFlops / 1e12).toBeLessThan(10);
  });

  it('never removes text tokens and counts grouped K/V widths', () => {
    const gqa = { ...shape, text: { ...shape.text, numKvHeads: 8 } };
    const none = RECIPE_60.map(() => 0);
    expect(architectureFlops(gqa, 700, 576, none).flops).toBeLessThan(architectureFlops(shape, 700, 576, none).flops);
    const everything = architectureFlops(shape, 700, 576, [10_000, ...RECIPE_60.slice(1)]);
    const textOnly = architectureFlops(shape, 124, 0, none);
    expect(everything.breakdown.languageModel).toBeGreaterThan(textOnly.breakdown.languageModel);
  });
});

describe('tokens removed before the decoder (vision-side policies)', () => {
  const m = { hiddenSize: 64, intermediateSize: 160, numLayers: 4 };
  it('cost what an image with that many fewer tokens costs, against the full baseline', () => {
    const before = referenceFlops(m, 100, [0, 0, 0, 0], 40);
    const smaller = referenceFlops(m, 60, [0, 0, 0, 0]);
    expect(before.macs).toBe(smaller.macs);
    expect(before.baselineMacs).toBe(referenceFlops(m, 100, [0, 0, 0, 0]).baselineMacs);
    expect(before.tokensLeft).toEqual([60, 60, 60, 60]);
    expect(() => referenceFlops(m, 100, [0, 0, 0, 0], 101)).toThrow(/before the decoder must be an integer in \[0, 100\]/);
  });
  it('in the architecture count too: the vision tower still runs on every token', () => {
    const shape: FlopsShape = {
      text: { hiddenSize: 64, intermediateSize: 160, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 300 },
      vision: null,
      connector: null,
    };
    const a = architectureFlops(shape, 130, 100, [0, 0, 0, 0], 40);
    const b = architectureFlops(shape, 90, 60, [0, 0, 0, 0]);
    expect(a.flops).toBe(b.flops);
    expect(a.baselineFlops).toBe(architectureFlops(shape, 130, 100, [0, 0, 0, 0]).baselineFlops);
  });
});
