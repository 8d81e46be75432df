// Pruned inference on the SigLIP + Qwen2 LLaVA layout (llava-interleave-qwen-0.5b-hf) against
// the pruned CPU reference: the visual span sits after Qwen's "<|im_start|>user\n" with no BOS,
// the decoder has q/k/v biases and a tied head, and the SigLIP grid (11 × 11, 'full' features)
// has no CLS row, so every visual token is a patch.
import { describe, expect, it } from 'vitest';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { itPrunesLikeReference, llavaPruningSuite, policyCases } from '../helpers/pruning';

const N = 121;

describe('pruned inference vs the pruned CPU reference (tiny-qwen2-siglip-121: SigLIP + Qwen2, 121 visual tokens, 4 layers)', () => {
  const s = llavaPruningSuite({
    make: (seed) => makeTinyLlava({ seed, preset: 'tiny-qwen2-siglip-121', dtype: 'bf16' }),
    question: 'How many objects are there in the image?',
    imageSize: [97, 61], // non-square: SigLIP resizes it to 92 × 92 without a crop
    visualTokens: N,
    newTokens: 4,
  });

  it('the prompt is ChatML without BOS, the image right after "<|im_start|>user\\n"', () => {
    const vocab = Object.fromEntries(s.pre.tokenizer.get_vocab() as Map<string, number>);
    expect(s.prompt.inputIds[0]).toBe(vocab['<|im_start|>']);
    expect(s.prompt.imageSpans).toHaveLength(1);
    expect(s.prompt.imageSpans[0]!.end - s.prompt.imageSpans[0]!.start).toBe(N);
    expect(s.pre.eosTokenIds).toEqual([vocab['<|im_end|>']]);
  });

  const counts = [25, 40, 0, 16];
  itPrunesLikeReference(s, policyCases(() => ({ counts, referenceVisualTokens: N }), 5, 'random (same counts)'), { rtol: 2e-4 });

  it('fitprune keeps the per-layer counts; each layer keeps ascending original offsets', async () => {
    const r = await s.run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: N } });
    expect(r.pruning.deleted).toEqual(counts);
    expect(r.pruning.keptPerLayer).toEqual([96, 56, 56, 40]);
    for (const layer of r.pruning.keptIndices!) expect([...layer].sort((a, b) => a - b)).toEqual(layer);
    // Every visual token is a patch of the 11 × 11 grid (SigLIP has no CLS row).
    expect(r.pruning.grid).toMatchObject({ rows: 11, cols: 11 });
    expect([...r.pruning.grid!.cell]).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});
