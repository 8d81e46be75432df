import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateResult } from '../../src/engine/engine';
import type { PruningPolicy } from '../../src/prune/policies';
import type { ReferencePruner } from '../../src/reference/decoder';
import { referenceGenerate, type ReferenceLlavaWeights } from '../../src/reference/llava';
import { referenceFitPrune } from '../../src/reference/prune';
import type { Preprocessor } from '../../src/preprocess';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { referenceWeights, testImage } from '../helpers/llava';
import { expectPrunedLikeReference, policyCases, recordSpanKept } from '../helpers/pruning';
import { freshRng, type Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
const QUESTION = 'How many objects are there in the image?';

describe('pruned inference vs the pruned CPU reference (tiny-144: 144 visual tokens, 4 layers)', () => {
  let engine: Engine;
  let ref: ReferenceLlavaWeights;
  let pre: Preprocessor;
  let rng: Rng;
  let image: ReturnType<typeof testImage>;
  let pixels: Float32Array;
  let prompt: { inputIds: Uint32Array; imageSpans: { start: number; end: number }[] };

  beforeAll(async () => {
    rng = freshRng();
    const files = makeTinyLlava({ seed: rng.seed, preset: 'tiny-144' });
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    await engine.load({ files });
    ref = await referenceWeights(files);
    pre = engine.preprocessor!;
    image = testImage(rng, 90, 90);
    pixels = (await pre.preprocessImage(image)).pixelValues;
    prompt = pre.encode(pre.buildPrompt(QUESTION, { hasImage: true }), { imageTokenCount: 144 });
  });
  afterAll(() => engine.dispose());

  const run = (pruning: PruningPolicy): Promise<GenerateResult> =>
    engine.generate({ prompt: QUESTION, image, maxNewTokens: 4, pruning, recordKeptIndices: true });

  /** Reference run with the kept indices per layer (offsets into the visual span) recorded by wrapping the pruner. */
  function referenceRun(pruner: ReferencePruner) {
    const { wrapped, kept } = recordSpanKept(pruner, prompt.imageSpans[0]!);
    const gen = referenceGenerate(ref, prompt.inputIds, prompt.imageSpans[0]!, pixels, 4, pre.eosTokenIds, wrapped);
    return { gen, kept };
  }

  const counts = [30, 50, 0, 20];
  const cases = policyCases(() => ({ counts, referenceVisualTokens: 144 }), 9, 'random (same counts)');
  for (const c of cases) {
    it(`${c.name}: same tokens dropped at each layer, logits and tokens match`, async () => {
      const r = await run(c.policy());
      const expected = referenceRun(c.pruner());
      expectPrunedLikeReference(r, expected.gen, expected.kept, { rtol: 2e-4 }, rng.seed);
      expect(r.pruning.flops.reference.ratio).toBeLessThan(1);
      expect(r.pruning.flops.architecture.ratio).toBeLessThan(1);
    });
  }

  it('fitprune keeps the per-layer counts and original positions (checked against an unpruned run)', async () => {
    const r = await run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: 144 } });
    expect(r.pruning.deleted).toEqual(counts);
    expect(r.pruning.keptPerLayer).toEqual([114, 64, 64, 44]);
    for (const layer of r.pruning.keptIndices!) expect([...layer].sort((a, b) => a - b)).toEqual(layer);
  });

  it('rescales recipe counts for another visual-token count: floor(k·N/N_ref)', async () => {
    const r = await run({ kind: 'fitprune', recipe: { counts: [60, 100, 0, 40], referenceVisualTokens: 288 } });
    expect(r.pruning.deleted).toEqual([30, 50, 0, 20]);
  });

  it('"none" is bit-identical to running without hooks, and a text-only prompt is never pruned', async () => {
    const plain = await engine.generate({ prompt: QUESTION, image, maxNewTokens: 4 });
    const none = await run({ kind: 'none' });
    expect(Array.from(none.firstLogits!)).toEqual(Array.from(plain.firstLogits!));
    expect(none.tokens).toEqual(plain.tokens);
    const text = await engine.generate({ prompt: 'Hello there', maxNewTokens: 2, pruning: { kind: 'fitprune', recipe: { counts, referenceVisualTokens: 144 } } });
    expect(text.pruning.deleted).toEqual([0, 0, 0, 0]);
    const textPlain = await engine.generate({ prompt: 'Hello there', maxNewTokens: 2 });
    expect(Array.from(text.firstLogits!)).toEqual(Array.from(textPlain.firstLogits!));
  });

  it('deleting more than is left deletes every visual token and still answers', async () => {
    const r = await run({ kind: 'fitprune', recipe: { counts: [100, 100, 100, 100], referenceVisualTokens: 144 } });
    expect(r.pruning.keptPerLayer).toEqual([44, 0, 0, 0]);
    expect(r.pruning.keptIndices![3]).toEqual([]);
    const expected = referenceRun(referenceFitPrune([100, 100, 100, 100]));
    expect(r.tokens).toEqual(expected.gen.tokens);
  });
});
