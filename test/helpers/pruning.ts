/**
 * Shared by the pruned GPU-vs-reference tests: the reference run with the kept indices recorded
 * by wrapping the pruner, the policies each family is checked under, and the comparison itself.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Engine, type GenerateResult } from '../../src/engine/engine';
import type { EncodedPrompt, Preprocessor } from '../../src/preprocess';
import type { PruningPolicy } from '../../src/prune/policies';
import type { ReferencePruner, ReferencePruneResult } from '../../src/reference/decoder';
import { referenceGenerate, type ReferenceGeneration, type ReferenceLlavaWeights } from '../../src/reference/llava';
import { referenceFastV, referenceFitPrune, referenceRandomPrune } from '../../src/reference/prune';
import { expectClose, type Tolerance } from './compare';
import { referenceWeights, testImage } from './llava';
import { freshRng, type Rng } from './random';

/**
 * Wraps a reference pruner to record the visual tokens left after each layer, as the engine's
 * `recordKeptIndices` reports them: `initial` before any cut, then `visualKept` of every cut
 * (the result and the original positions of the rows it was taken on).
 */
export function recordReferenceKept(
  pruner: ReferencePruner,
  initial: number[],
  visualKept: (r: NonNullable<ReferencePruneResult>, positions: number[]) => number[],
): { wrapped: ReferencePruner; kept: number[][] } {
  const kept: number[][] = [];
  let current = initial;
  const record = (r: ReferencePruneResult, positions: number[]) => {
    if (r) current = visualKept(r, positions);
    return r;
  };
  const wrapped: ReferencePruner = {
    beforeDecoder: pruner.beforeDecoder && ((a) => record(pruner.beforeDecoder!(a), a.positions)),
    afterAttention: pruner.afterAttention && ((a) => record(pruner.afterAttention!(a), a.positions)),
    afterLayer: (a) => {
      const r = pruner.afterLayer ? record(pruner.afterLayer(a), a.positions) : null;
      kept.push(current);
      return r;
    },
  };
  return { wrapped, kept };
}

/** recordReferenceKept for one contiguous visual span (every token in it prunable): kept offsets into the span. */
export function recordSpanKept(pruner: ReferencePruner, span: { start: number; end: number }): { wrapped: ReferencePruner; kept: number[][] } {
  return recordReferenceKept(
    pruner,
    Array.from({ length: span.end - span.start }, (_, i) => i),
    (r, positions) => (r.visualSpan ? r.keep.slice(r.visualSpan.start, r.visualSpan.end).map((row) => positions[row]! - span.start) : []),
  );
}

export interface PolicyCase {
  name: string;
  policy: () => PruningPolicy;
  pruner: () => ReferencePruner;
}

/**
 * FitPrune, random (same counts, `seed`) and FastV K=2 R=0.5, each with its reference pruner.
 * `recipe` is read when a case runs, so it may be filled in by a beforeAll.
 */
export function policyCases(recipe: () => { counts: number[]; referenceVisualTokens: number }, seed: number, randomName = 'random'): PolicyCase[] {
  return [
    { name: 'fitprune', policy: () => ({ kind: 'fitprune', recipe: recipe() }), pruner: () => referenceFitPrune(recipe().counts) },
    { name: randomName, policy: () => ({ kind: 'random', recipe: recipe(), seed }), pruner: () => referenceRandomPrune(recipe().counts, seed) },
    { name: 'fastv K=2 R=0.5', policy: () => ({ kind: 'fastv', layer: 2, ratio: 0.5 }), pruner: () => referenceFastV(2, 0.5) },
  ];
}

/** The GPU run against the pruned reference: the same visual tokens kept at each layer, close first logits, the same tokens. */
export function expectPrunedLikeReference(
  r: GenerateResult,
  expected: { logits: readonly Float32Array[]; tokens: number[] },
  kept: number[][],
  tol: Tolerance,
  seed: number,
): void {
  expect(r.pruning.keptIndices, `seed ${seed}`).toEqual(kept);
  expectClose(r.firstLogits!, expected.logits[0]!, tol, `first logits, seed ${seed}`);
  expect(r.tokens, `seed ${seed}`).toEqual(expected.tokens);
}

/** A model_type "llava" checkpoint loaded on the GPU and in the reference, one test image, its prompt (see llavaPruningSuite). */
export interface LlavaPruningSuite {
  readonly rng: Rng;
  readonly engine: Engine;
  readonly pre: Preprocessor;
  readonly image: ReturnType<typeof testImage>;
  readonly prompt: EncodedPrompt;
  /** The question on the image, greedy, with the kept indices recorded. */
  run(pruning: PruningPolicy): Promise<GenerateResult>;
  /** The same on the reference, with the kept indices per layer (offsets into the visual span) recorded by wrapping the pruner. */
  referenceRun(pruner: ReferencePruner): { gen: ReferenceGeneration; kept: number[][] };
}

/**
 * Registers the beforeAll / afterAll of a describe block that compares pruned LLaVA inference
 * with the pruned reference: `make(seed)` builds the checkpoint, which must give `visualTokens`
 * per image; the image is a fresh `imageSize` (W×H) test image.
 */
export function llavaPruningSuite(o: { make: (seed: number) => Map<string, Uint8Array>; question: string; imageSize: [number, number]; visualTokens: number; newTokens: number }): LlavaPruningSuite {
  const gpu = (globalThis as { __FITPRUNE_TEST_GPU__?: GPU }).__FITPRUNE_TEST_GPU__;
  let rng: Rng;
  let engine: Engine;
  let ref: ReferenceLlavaWeights;
  let pre: Preprocessor;
  let image: ReturnType<typeof testImage>;
  let pixels: Float32Array;
  let prompt: EncodedPrompt;
  beforeAll(async () => {
    rng = freshRng();
    const files = o.make(rng.seed);
    engine = await Engine.create({ gpu });
    const info = await engine.load({ files });
    expect(info.imageTokens).toBe(o.visualTokens);
    ref = await referenceWeights(files);
    pre = engine.preprocessor!;
    image = testImage(rng, o.imageSize[0], o.imageSize[1]);
    pixels = (await pre.preprocessImage(image)).pixelValues;
    prompt = pre.encode(pre.buildPrompt(o.question, { hasImage: true }), { imageTokenCount: o.visualTokens });
  });
  afterAll(() => engine.dispose());
  return {
    get rng() {
      return rng;
    },
    get engine() {
      return engine;
    },
    get pre() {
      return pre;
    },
    get image() {
      return image;
    },
    get prompt() {
      return prompt;
    },
    run: (pruning) => engine.generate({ prompt: o.question, image, maxNewTokens: o.newTokens, pruning, recordKeptIndices: true }),
    referenceRun(pruner) {
      const span = prompt.imageSpans[0]!;
      const { wrapped, kept } = recordSpanKept(pruner, span);
      return { gen: referenceGenerate(ref, prompt.inputIds, span, pixels, o.newTokens, pre.eosTokenIds, wrapped), kept };
    },
  };
}

/** One test per case: the suite's GPU run against its reference run, and both FLOPs ratios below 1. */
export function itPrunesLikeReference(s: LlavaPruningSuite, cases: readonly PolicyCase[], tol: Tolerance): void {
  for (const c of cases) {
    it(`${c.name}: same tokens dropped at each layer, logits and tokens match`, async () => {
      const r = await s.run(c.policy());
      const expected = s.referenceRun(c.pruner());
      expectPrunedLikeReference(r, expected.gen, expected.kept, tol, s.rng.seed);
      expect(r.pruning.flops.reference.ratio).toBeLessThan(1);
      expect(r.pruning.flops.architecture.ratio).toBeLessThan(1);
    });
  }
}
