import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import type { LlavaModel } from '../../src/models/llava/model';
import { referenceGenerate, referenceImageFeatures } from '../../src/reference/llava';
import { makeTinyLlava, type PresetName } from '../fixtures/tiny/llava';
import { expectClose } from '../helpers/compare';
import { readF32 } from '../helpers/gpu';
import { referenceWeights, testImage } from '../helpers/llava';
import { freshRng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };

// The whole model on the GPU against the float64 CPU reference on the same checkpoint:
// activations are f32 on the GPU, so errors compound over layers; the bound is relative to the
// largest magnitude of each output (normwise).
const TOLERANCE = { rtol: 2e-4 };

describe('LLaVA end to end vs the CPU reference', () => {
  const cases: { preset: PresetName; dtype: 'f32' | 'bf16'; layout: 'hub' | 'new'; shards: number; size: [number, number] }[] = [
    { preset: 'tiny', dtype: 'f32', layout: 'hub', shards: 1, size: [56, 56] },
    { preset: 'tiny-mha', dtype: 'bf16', layout: 'new', shards: 3, size: [83, 47] }, // non-square input image
    // llava-interleave-qwen layout: SigLIP (odd 7×7 grid, a remainder of the image never seen) +
    // Qwen2 (q/k/v biases, tied head, θ 1e6); non-square images are resized without a crop.
    { preset: 'tiny-qwen2-siglip', dtype: 'bf16', layout: 'hub', shards: 1, size: [83, 47] },
    { preset: 'tiny-qwen2-siglip', dtype: 'f32', layout: 'new', shards: 2, size: [45, 71] },
  ];
  for (const c of cases) {
    it(`${c.preset}, ${c.dtype}, ${c.layout} layout, ${c.shards} shard(s), ${c.size.join('×')} image`, async () => {
      const rng = freshRng();
      const files = makeTinyLlava({ seed: rng.seed, preset: c.preset, dtype: c.dtype, layout: c.layout, shards: c.shards });
      const engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
      try {
        const info = await engine.load({ files, name: `tiny seed ${rng.seed}` });
        const model = engine.loadedModel as LlavaModel;
        const ref = await referenceWeights(files);
        const image = testImage(rng, c.size[0], c.size[1]);
        const pre = engine.preprocessor!;
        const { pixelValues } = await pre.preprocessImage(image);
        expect(pixelValues.length).toBe(3 * info.imageSize * info.imageSize);

        // Vision features and projector output.
        const expected = referenceImageFeatures(ref, pixelValues);
        const projected = model.tileFeatures(pixelValues);
        expectClose(await readF32(engine.ctx, projected), expected.projected, TOLERANCE, `tower + projector, seed ${rng.seed}`);
        projected.dispose();

        // Greedy generation: first logits close, same tokens.
        const result = await engine.generate({ prompt: 'What is the color of the square?', image, maxNewTokens: 6 });
        const prompt = pre.encode(pre.buildPrompt('What is the color of the square?', { hasImage: true }), { imageTokenCount: info.imageTokens });
        expect(prompt.imageSpans).toHaveLength(1);
        expect(prompt.imageSpans[0]!.end - prompt.imageSpans[0]!.start).toBe(info.imageTokens);
        const refGen = referenceGenerate(ref, prompt.inputIds, prompt.imageSpans[0]!, pixelValues, 6, pre.eosTokenIds);
        expectClose(result.firstLogits!, refGen.logits[0]!, TOLERANCE, `first logits, seed ${rng.seed}`);
        expect(result.tokens, `greedy tokens, seed ${rng.seed}`).toEqual(refGen.tokens);
        expect(result.usage.promptTokens).toBe(prompt.inputIds.length);
        expect(result.usage.visualTokens).toBe(info.imageTokens);
        engine.ctx.assertNoErrors();
      } finally {
        engine.dispose();
      }
    });
  }
});
