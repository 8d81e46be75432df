import { describe, expect, it } from 'vitest';
import { referenceFitPrune } from '../../src/reference/prune';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { itPrunesLikeReference, llavaPruningSuite, policyCases } from '../helpers/pruning';

const QUESTION = 'How many objects are there in the image?';

describe('pruned inference vs the pruned CPU reference (tiny-144: 144 visual tokens, 4 layers)', () => {
  const s = llavaPruningSuite({ make: (seed) => makeTinyLlava({ seed, preset: 'tiny-144' }), question: QUESTION, imageSize: [90, 90], visualTokens: 144, newTokens: 4 });

  const counts = [30, 50, 0, 20];
  itPrunesLikeReference(s, policyCases(() => ({ counts, referenceVisualTokens: 144 }), 9, 'random (same counts)'), { rtol: 2e-4 });

  it('fitprune keeps the per-layer counts and original positions (checked against an unpruned run)', async () => {
    const r = await s.run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: 144 } });
    expect(r.pruning.deleted).toEqual(counts);
    expect(r.pruning.keptPerLayer).toEqual([114, 64, 64, 44]);
    for (const layer of r.pruning.keptIndices!) expect([...layer].sort((a, b) => a - b)).toEqual(layer);
  });

  it('rescales recipe counts for another visual-token count: floor(k·N/N_ref)', async () => {
    const r = await s.run({ kind: 'fitprune', recipe: { counts: [60, 100, 0, 40], referenceVisualTokens: 288 } });
    expect(r.pruning.deleted).toEqual([30, 50, 0, 20]);
  });

  it('"none" is bit-identical to running without hooks, and a text-only prompt is never pruned', async () => {
    const plain = await s.engine.generate({ prompt: QUESTION, image: s.image, maxNewTokens: 4 });
    const none = await s.run({ kind: 'none' });
    expect(Array.from(none.firstLogits!)).toEqual(Array.from(plain.firstLogits!));
    expect(none.tokens).toEqual(plain.tokens);
    const text = await s.engine.generate({ prompt: 'Hello there', maxNewTokens: 2, pruning: { kind: 'fitprune', recipe: { counts, referenceVisualTokens: 144 } } });
    expect(text.pruning.deleted).toEqual([0, 0, 0, 0]);
    const textPlain = await s.engine.generate({ prompt: 'Hello there', maxNewTokens: 2 });
    expect(Array.from(text.firstLogits!)).toEqual(Array.from(textPlain.firstLogits!));
  });

  it('a policy whose counts are not counts is refused with the field named, and the engine still answers', async () => {
    await expect(s.run({ kind: 'fitprune', recipe: { counts: [1.5, 0, 0, 0], referenceVisualTokens: 144 } })).rejects.toThrow(/recipe "counts" must be a list of non-negative integers/);
    await expect(s.run({ kind: 'random', recipe: { counts: [30, 50, 0, 20], referenceVisualTokens: 0 }, seed: 1 })).rejects.toThrow(/recipe "referenceVisualTokens" must be an integer in \[1, 1048576\]/);
    await expect(s.run({ kind: 'fitprune', recipe: { counts: [30, 50, 0], referenceVisualTokens: 144 } })).rejects.toThrow(/the recipe has 3 per-layer counts; the model has 4 layers/);
    const r = await s.run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: 144 } });
    expect(r.pruning.deleted).toEqual(counts);
  });

  it('deleting more than is left deletes every visual token and still answers', async () => {
    const r = await s.run({ kind: 'fitprune', recipe: { counts: [100, 100, 100, 100], referenceVisualTokens: 144 } });
    expect(r.pruning.keptPerLayer).toEqual([44, 0, 0, 0]);
    expect(r.pruning.keptIndices![3]).toEqual([]);
    const expected = s.referenceRun(referenceFitPrune([100, 100, 100, 100]));
    expect(r.tokens).toEqual(expected.gen.tokens);
  });
});
