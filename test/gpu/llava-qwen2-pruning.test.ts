// Pruned inference on the SigLIP + Qwen2 LLaVA layout (llava-interleave-qwen-0.5b-hf) against
// the pruned CPU reference: the visual span sits after Qwen's "<|im_start|>user\n" with no BOS,
// the decoder has q/k/v biases and a tied head, and the SigLIP grid (11 × 11, 'full' features)
// has no CLS row, so every visual token is a patch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateResult } from '../../src/engine/engine';
import type { PruningPolicy } from '../../src/prune/policies';
import type { ReferencePruner } from '../../src/reference/decoder';
import { referenceGenerate, type ReferenceLlavaWeights } from '../../src/reference/llava';
import type { Preprocessor } from '../../src/preprocess';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { referenceWeights, testImage } from '../helpers/llava';
import { expectPrunedLikeReference, policyCases, recordSpanKept } from '../helpers/pruning';
import { freshRng, type Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
const QUESTION = 'How many objects are there in the image?';
const N = 121;

describe('pruned inference vs the pruned CPU reference (tiny-qwen2-siglip-121: SigLIP + Qwen2, 121 visual tokens, 4 layers)', () => {
  let engine: Engine;
  let ref: ReferenceLlavaWeights;
  let pre: Preprocessor;
  let rng: Rng;
  let image: ReturnType<typeof testImage>;
  let pixels: Float32Array;
  let prompt: { inputIds: Uint32Array; imageSpans: { start: number; end: number }[] };

  beforeAll(async () => {
    rng = freshRng();
    const files = makeTinyLlava({ seed: rng.seed, preset: 'tiny-qwen2-siglip-121', dtype: 'bf16' });
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    const info = await engine.load({ files });
    expect(info.imageTokens).toBe(N);
    ref = await referenceWeights(files);
    pre = engine.preprocessor!;
    image = testImage(rng, 97, 61); // non-square: SigLIP resizes it to 92 × 92 without a crop
    pixels = (await pre.preprocessImage(image)).pixelValues;
    prompt = pre.encode(pre.buildPrompt(QUESTION, { hasImage: true }), { imageTokenCount: N });
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

  it('the prompt is ChatML without BOS, the image right after "<|im_start|>user\\n"', () => {
    const vocab = Object.fromEntries(pre.tokenizer.get_vocab() as Map<string, number>);
    expect(prompt.inputIds[0]).toBe(vocab['<|im_start|>']);
    expect(prompt.imageSpans).toHaveLength(1);
    expect(prompt.imageSpans[0]!.end - prompt.imageSpans[0]!.start).toBe(N);
    expect(pre.eosTokenIds).toEqual([vocab['<|im_end|>']]);
  });

  const counts = [25, 40, 0, 16];
  const cases = policyCases(() => ({ counts, referenceVisualTokens: N }), 5, 'random (same counts)');
  for (const c of cases) {
    it(`${c.name}: same tokens dropped at each layer, logits and tokens match`, async () => {
      const r = await run(c.policy());
      const expected = referenceRun(c.pruner());
      expectPrunedLikeReference(r, expected.gen, expected.kept, { rtol: 2e-4 }, rng.seed);
      expect(r.pruning.flops.reference.ratio).toBeLessThan(1);
      expect(r.pruning.flops.architecture.ratio).toBeLessThan(1);
    });
  }

  it('fitprune keeps the per-layer counts; each layer keeps ascending original offsets', async () => {
    const r = await run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: N } });
    expect(r.pruning.deleted).toEqual(counts);
    expect(r.pruning.keptPerLayer).toEqual([96, 56, 56, 40]);
    for (const layer of r.pruning.keptIndices!) expect([...layer].sort((a, b) => a - b)).toEqual(layer);
    // Every visual token is a patch of the 11 × 11 grid (SigLIP has no CLS row).
    expect(r.pruning.grid).toMatchObject({ rows: 11, cols: 11 });
    expect([...r.pruning.grid!.cell]).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});
