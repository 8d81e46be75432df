/**
 * Idefics3 / SmolVLM end to end on the GPU against the float64 CPU reference, on a tiny
 * checkpoint in the exact HF layout: image splitting into tiles + global image, the
 * <fake_token_around_image><row_r_col_c> markers between the runs of <image> tokens, and pruning
 * over the whole visual region with the markers pinned (never deleted, checked at every layer
 * on the GPU's own position ids).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateResult } from '../../src/engine/engine';
import type { ImagePlacement } from '../../src/models/family';
import type { DecoderHooks } from '../../src/models/hooks';
import type { Idefics3Model } from '../../src/models/idefics3/model';
import { ops } from '../../src/models/ops';
import { placeImages } from '../../src/models/vlm';
import type { Preprocessor } from '../../src/preprocess';
import { Calibrator } from '../../src/prune/calibrate';
import { pruningSession } from '../../src/prune/policies';
import type { ReferencePruner } from '../../src/reference/decoder';
import { referenceIdefics3Generate, referenceIdefics3ImageFeatures, type ReferenceIdefics3Weights } from '../../src/reference/idefics3';
import { referenceFitPrune } from '../../src/reference/prune';
import { makeTinyIdefics3 } from '../fixtures/tiny/idefics3';
import { expectClose } from '../helpers/compare';
import { readF32 } from '../helpers/gpu';
import { idefics3ReferenceWeights } from '../helpers/idefics3';
import { testImage } from '../helpers/llava';
import { expectPrunedLikeReference, policyCases, recordReferenceKept, type PolicyCase } from '../helpers/pruning';
import { freshRng, type Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
const TOLERANCE = { rtol: 2e-4 };
const QUESTION = 'How many objects are there in the image?';
const NEW_TOKENS = 4;

type Image = ReturnType<typeof testImage>;

/** The prompt exactly as the engine builds it: template, expanded image, tokens, placement. */
async function promptFor(model: Idefics3Model, pre: Preprocessor, image: Image) {
  const prepared = await model.prepareImage(image, pre);
  const text = pre.buildPrompt(QUESTION, { hasImage: true }).replace(pre.imageToken, () => prepared.promptText);
  const { inputIds, imageRuns } = pre.tokenize(text);
  const [placement] = placeImages(imageRuns, [prepared.visualTokens]) as [ImagePlacement];
  return { prepared, inputIds, placement, markers: placement.fixedOffsets.map((o) => placement.region.start + o) };
}

/** Wraps a reference pruner: visual-token indices left after each layer; checks the markers survive every cut. */
function recordReference(pruner: ReferencePruner, placement: ImagePlacement, markers: readonly number[]) {
  const fixed = new Set(placement.fixedOffsets);
  const visualIndex = new Map<number, number>();
  for (let off = 0, i = 0; off < placement.region.end - placement.region.start; off++) if (!fixed.has(off)) visualIndex.set(placement.region.start + off, i++);
  return recordReferenceKept(pruner, [...visualIndex.values()], (r, positions) => {
    const left = r.keep.map((row) => positions[row]!);
    for (const m of markers) if (!left.includes(m)) throw new Error(`reference pruning deleted tile marker at position ${m}`);
    return left.filter((p) => visualIndex.has(p)).map((p) => visualIndex.get(p)!);
  });
}

/** The policy's hooks, plus a readback of the position ids left after each layer (what the decoder really kept). */
function recordingHooks(engine: Engine, inner: DecoderHooks, perLayer: number[][]): DecoderHooks {
  const { ctx } = engine;
  return {
    wantsRowStats: inner.wantsRowStats,
    afterAttention: inner.afterAttention,
    afterLayer: async (a) => {
      const r = await inner.afterLayer?.(a);
      const positions = r ? ops.gatherRows(ctx, a.seq.positions, r.keep) : a.seq.positions;
      perLayer.push([...((await ctx.read(positions)) as Uint32Array)]);
      if (r) positions.dispose();
      return r;
    },
  };
}

describe('Idefics3 (SmolVLM layout) vs the CPU reference', () => {
  let engine: Engine;
  let rng: Rng;
  let ref: ReferenceIdefics3Weights;
  let model: Idefics3Model;
  let pre: Preprocessor;
  let image: Image;
  let prompt: Awaited<ReturnType<typeof promptFor>>;

  beforeAll(async () => {
    rng = freshRng();
    const files = makeTinyIdefics3({ seed: rng.seed });
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    await engine.load({ files, name: `tiny idefics3 seed ${rng.seed}` });
    model = engine.loadedModel as Idefics3Model;
    pre = engine.preprocessor!;
    ref = await idefics3ReferenceWeights(files);
    // 61×37: longest edge 64 → 64×38 → 64×64 → 2×2 tiles + global = 5 frames × 16 = 80 tokens.
    image = testImage(rng, 61, 37);
    prompt = await promptFor(model, pre, image);
  });
  afterAll(() => engine.dispose());

  it('lays the split image out as tiles + global with markers between the runs', () => {
    const { prepared, placement, inputIds, markers } = prompt;
    expect(prepared.layout).toEqual({ rows: 2, cols: 2 });
    expect(prepared.tiles.length).toBe(5);
    expect(prepared.visualTokens).toBe(80);
    expect(placement.runs.map((r) => r.end - r.start)).toEqual([16, 16, 16, 16, 16]);
    const id = (t: string) => pre.tokenizer.convert_tokens_to_ids(t) as number;
    // Between runs: <fake><row_1_col_2>, then "\n" + <fake><row_2_col_1>, <fake><row_2_col_2>, "\n\n" + <fake><global-img>.
    const between = markers.map((p) => inputIds[p]!);
    for (const t of ['<row_1_col_2>', '<row_2_col_1>', '<row_2_col_2>', '<global-img>']) expect(between).toContain(id(t));
    expect(between.filter((x) => x === id('<fake_token_around_image>'))).toHaveLength(4);
    expect(inputIds[placement.region.start - 1]).toBe(id('<row_1_col_1>'));
    expect(inputIds[placement.region.end]).toBe(id('<fake_token_around_image>'));
    // The grid: tiles make a 4×4-cell mosaic per 2×2 tiles → 8×8 cells; the global view's 16 tokens are −1.
    expect([prepared.grid.rows, prepared.grid.cols]).toEqual([8, 8]);
    expect([...prepared.grid.cell.subarray(64)].every((c) => c === -1)).toBe(true);
    expect(new Set(prepared.grid.cell.subarray(0, 64)).size).toBe(64);
  });

  it('unpruned: image features, first logits and greedy tokens match the reference', async () => {
    const { prepared, inputIds, placement } = prompt;
    const features = model.encodeImage(prepared);
    const expectedFeatures = referenceIdefics3ImageFeatures(ref, prepared.tiles);
    expectClose(await readF32(engine.ctx, features), expectedFeatures, TOLERANCE, `tower + connector, seed ${rng.seed}`);
    features.dispose();
    const r = await engine.generate({ prompt: QUESTION, image, maxNewTokens: NEW_TOKENS });
    const expected = referenceIdefics3Generate(ref, inputIds, placement, prepared.tiles, NEW_TOKENS, pre.eosTokenIds);
    expectClose(r.firstLogits!, expected.logits[0]!, TOLERANCE, `first logits, seed ${rng.seed}`);
    expect(r.tokens, `greedy tokens, seed ${rng.seed}`).toEqual(expected.tokens);
    expect(r.usage.visualTokens).toBe(80);
    expect(r.usage.promptTokens).toBe(inputIds.length);
    expect(r.pruning.flops.architecture.ratio).toBe(1);
    engine.ctx.assertNoErrors();
  });

  it('warms up on its blank image (split like any other) with a FitPrune recipe for the reference image', async () => {
    expect(engine.info().model!.imageTokens).toBe(80);
    expect(await engine.warmup()).toBeGreaterThan(0);
    engine.ctx.assertNoErrors();
  });

  const counts = [12, 20, 0, 15];
  const cases: PolicyCase[] = [
    ...policyCases(() => ({ counts, referenceVisualTokens: 80 }), 11),
    {
      name: 'fitprune asking for more than there is',
      policy: () => ({ kind: 'fitprune', recipe: { counts: [50, 50, 50, 50], referenceVisualTokens: 80 } }),
      pruner: () => referenceFitPrune([50, 50, 50, 50]),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: same tokens dropped per layer as the reference, markers kept at every layer, logits and tokens match`, async () => {
      const { prepared, inputIds, placement, markers } = prompt;
      const r: GenerateResult = await engine.generate({ prompt: QUESTION, image, maxNewTokens: NEW_TOKENS, pruning: c.policy(), recordKeptIndices: true });
      const { wrapped, kept } = recordReference(c.pruner(), placement, markers);
      const expected = referenceIdefics3Generate(ref, inputIds, placement, prepared.tiles, NEW_TOKENS, pre.eosTokenIds, wrapped);
      expectPrunedLikeReference(r, expected, kept, TOLERANCE, rng.seed);
      // Only visual tokens are counted and deleted: never more than the image has.
      const deleted = r.pruning.deleted.reduce((a, b) => a + b, 0);
      expect(deleted).toBeGreaterThan(0);
      expect(deleted).toBeLessThanOrEqual(80);
      expect(r.pruning.keptPerLayer.every((n) => n >= 0)).toBe(true);
      expect(r.pruning.keptPerLayer.at(-1)).toBe(80 - deleted);

      // The same policy on the GPU with a readback of the rows left after each layer: every marker is there.
      const session = pruningSession(engine.ctx, c.policy(), { numLayers: model.numLayers, visualTokens: prepared.visualTokens, fixedOffsets: placement.fixedOffsets });
      const perLayer: number[][] = [];
      const features = model.encodeImage(prepared);
      const cache = model.newCache(inputIds.length + 1);
      try {
        const { logits } = await model.prefill(inputIds, [features], [placement], cache, recordingHooks(engine, session.hooks!, perLayer));
        logits.dispose();
      } finally {
        cache.dispose();
        features.dispose();
      }
      expect(perLayer).toHaveLength(model.numLayers);
      perLayer.forEach((positions, layer) => {
        for (const m of markers) expect(positions, `layer ${layer}: tile marker at ${m}, seed ${rng.seed}`).toContain(m);
        const visualLeft = positions.filter((p) => p >= placement.region.start && p < placement.region.end && !markers.includes(p)).length;
        expect(visualLeft, `layer ${layer}`).toBe(r.pruning.keptPerLayer[layer]);
      });
      engine.ctx.assertNoErrors();
    });
  }

  it('calibration counts visual tokens only (markers excluded) over images of different grids, and its recipe prunes', async () => {
    // 61×37 → 2×2 tiles + global (80 tokens); 20×60 → 64×22 → 2×1 tiles + global (48 tokens).
    const wide = testImage(rng, 20, 60);
    const samples = [{ image, question: QUESTION }, { image: wide, question: 'What is the color of the square?' }];
    const result = await new Calibrator(engine, samples).run(0.6, 'tiny idefics3');
    expect(result.passA.visualTokensPerSample).toEqual([80, 48]);
    expect(result.recipe.referenceVisualTokens).toBe(64);
    expect(result.feasible).toBe(true);
    const r = await engine.generate({ prompt: QUESTION, image: wide, maxNewTokens: 2, pruning: { kind: 'fitprune', recipe: result.recipe }, recordKeptIndices: true });
    expect(r.pruning.visualTokens).toBe(48);
    expect(r.pruning.deleted.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(48);
    expect(r.pruning.keptIndices!.every((layer) => layer.every((i) => i >= 0 && i < 48))).toBe(true);
    engine.ctx.assertNoErrors();
  });

  it('an unsplit image (do_image_splitting false): one frame, one run, no markers; unpruned and fitprune match the reference', async () => {
    const files = makeTinyIdefics3({ seed: rng.seed, imageSplitting: false });
    const info = await engine.load({ files, name: `tiny idefics3 unsplit seed ${rng.seed}` });
    expect(info.imageTokens).toBe(16);
    expect(info.variableImageTokens).toBe(false);
    const unsplit = engine.loadedModel as Idefics3Model;
    const pre2 = engine.preprocessor!;
    const tall = testImage(rng, 29, 53);
    const p = await promptFor(unsplit, pre2, tall);
    expect(p.prepared.layout).toEqual({ rows: 0, cols: 0 });
    expect(p.placement.runs).toHaveLength(1);
    expect(p.placement.fixedOffsets).toEqual([]);
    expect(p.prepared.promptText.startsWith('<fake_token_around_image><global-img><image>')).toBe(true);
    const ref2 = await idefics3ReferenceWeights(files);
    const plain = await engine.generate({ prompt: QUESTION, image: tall, maxNewTokens: NEW_TOKENS });
    const expected = referenceIdefics3Generate(ref2, p.inputIds, p.placement, p.prepared.tiles, NEW_TOKENS, pre2.eosTokenIds);
    expectClose(plain.firstLogits!, expected.logits[0]!, TOLERANCE, `first logits, seed ${rng.seed}`);
    expect(plain.tokens).toEqual(expected.tokens);
    // A recipe for 80 tokens rescaled to 16: floor(k·16/80).
    const pruned = await engine.generate({ prompt: QUESTION, image: tall, maxNewTokens: NEW_TOKENS, pruning: { kind: 'fitprune', recipe: { counts: [20, 25, 0, 10], referenceVisualTokens: 80 } } });
    expect(pruned.pruning.deleted).toEqual([4, 5, 0, 2]);
    const expectedPruned = referenceIdefics3Generate(ref2, p.inputIds, p.placement, p.prepared.tiles, NEW_TOKENS, pre2.eosTokenIds, referenceFitPrune([4, 5, 0, 2]));
    expectClose(pruned.firstLogits!, expectedPruned.logits[0]!, TOLERANCE, `pruned first logits, seed ${rng.seed}`);
    expect(pruned.tokens).toEqual(expectedPruned.tokens);
    engine.ctx.assertNoErrors();
  });
});
