import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateResult } from '../../src/engine/engine';
import type { PreparedImage } from '../../src/models/family';
import type { AnyresLayout } from '../../src/models/llava-next/anyres';
import type { AnyresLlavaModel } from '../../src/models/llava-next/model';
import type { Preprocessor } from '../../src/preprocess';
import type { PruningPolicy } from '../../src/prune/policies';
import { rescaleCounts } from '../../src/prune/recipe';
import type { ReferencePruner } from '../../src/reference/decoder';
import type { ReferenceLlavaWeights } from '../../src/reference/llava';
import { referenceAnyresFeatures, referenceGenerateAnyres } from '../../src/reference/llava-next';
import { referenceFitPrune } from '../../src/reference/prune';
import { makeTinyLlavaNext, makeTinyLlavaOnevision } from '../fixtures/tiny/llava-next';
import { expectClose } from '../helpers/compare';
import { readF32 } from '../helpers/gpu';
import { referenceWeights, testImage } from '../helpers/llava';
import { expectPrunedLikeReference, policyCases, recordSpanKept } from '../helpers/pruning';
import { freshRng, type Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
// As llava.test.ts: f32 activations on the GPU against float64 on the CPU, normwise.
const TOLERANCE = { rtol: 2e-4 };
const QUESTION = 'What is the color of the square?';
const NEW_TOKENS = 4;

type Family = 'llava_next' | 'llava_onevision';

interface Case {
  family: Family;
  make: (seed: number) => Map<string, Uint8Array>;
  /** W×H: odd sizes and both orientations. */
  sizes: [number, number][];
  /** A size that hits OneVision's anyres_max_9 downscale (a 4×4 tile grid), or null. */
  downscale: [number, number] | null;
}

const CASES: Case[] = [
  { family: 'llava_next', make: (seed) => makeTinyLlavaNext({ seed }), sizes: [[61, 37], [40, 90]], downscale: null },
  { family: 'llava_onevision', make: (seed) => makeTinyLlavaOnevision({ seed, dtype: 'bf16', layout: 'new' }), sizes: [[61, 37], [40, 90]], downscale: [112, 112] },
];

for (const c of CASES) {
  describe(`${c.family} end to end vs the CPU reference (anyres tiles, newline rows)`, () => {
    let engine: Engine;
    let model: AnyresLlavaModel;
    let ref: ReferenceLlavaWeights;
    let pre: Preprocessor;
    let rng: Rng;

    beforeAll(async () => {
      rng = freshRng();
      const files = c.make(rng.seed);
      engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
      const info = await engine.load({ files, name: `tiny ${c.family} seed ${rng.seed}` });
      expect(info.family).toBe(c.family);
      expect(info.variableImageTokens).toBe(true);
      model = engine.loadedModel as AnyresLlavaModel;
      ref = await referenceWeights(files, { modelTypes: [c.family], imageNewline: true });
      pre = engine.preprocessor!;
    });
    afterAll(() => engine.dispose());

    /** The image as the model prepares it, and the prompt ids the engine builds from it. */
    async function promptFor(image: ReturnType<typeof testImage>): Promise<{ prepared: PreparedImage; layout: AnyresLayout; inputIds: Uint32Array; span: { start: number; end: number } }> {
      const prepared = await model.prepareImage(image, pre);
      const text = pre.buildPrompt(QUESTION, { hasImage: true }).replace(pre.imageToken, () => prepared.promptText);
      const { inputIds, imageRuns } = pre.tokenize(text);
      // One run: the base image, every grid row and its newline are one visual span.
      expect(imageRuns).toHaveLength(1);
      return { prepared, layout: prepared.layout as AnyresLayout, inputIds, span: imageRuns[0]! };
    }

    async function checkUnpruned(size: [number, number], expectDownscale: boolean): Promise<void> {
      const image = testImage(rng, size[0], size[1]);
      const { prepared, layout, inputIds, span } = await promptFor(image);
      const where = `${size.join('×')}, seed ${rng.seed}`;
      expect(layout.grid!.downscaledRows !== undefined, where).toBe(expectDownscale);
      expect(span.end - span.start).toBe(layout.totalTokens);
      expect(prepared.tiles.length).toBe(layout.numTiles);

      const features = model.encodeImage(prepared);
      const expected = referenceAnyresFeatures(ref, prepared.tiles, layout);
      expectClose(await readF32(engine.ctx, features), expected, TOLERANCE, `packed features, ${where}`);
      features.dispose();

      const result = await engine.generate({ prompt: QUESTION, image, maxNewTokens: NEW_TOKENS });
      const refGen = referenceGenerateAnyres(ref, inputIds, span, { tiles: prepared.tiles, layout }, NEW_TOKENS, pre.eosTokenIds);
      expectClose(result.firstLogits!, refGen.logits[0]!, TOLERANCE, `first logits, ${where}`);
      expect(result.tokens, `greedy tokens, ${where}`).toEqual(refGen.tokens);
      expect(result.usage.visualTokens).toBe(layout.totalTokens);
      expect(result.usage.promptTokens).toBe(inputIds.length);
      expect(result.pruning.flops.architecture.ratio).toBe(1);
      // The heatmap grid: one cell per emitted grid token, none for the base image or newlines.
      const grid = result.pruning.grid!;
      expect([grid.rows, grid.cols]).toEqual([layout.grid!.outRows, layout.grid!.outCols]);
      expect(grid.cell.filter((x) => x >= 0).length).toBe(layout.gridTokens);
      engine.ctx.assertNoErrors();
    }

    for (const size of c.sizes) it(`${size.join('×')} image: packed features, first logits, greedy tokens, visual-token count`, () => checkUnpruned(size, false));
    if (c.downscale) {
      const size = c.downscale;
      it(`${size.join('×')} image takes the anyres_max_9 downscale (bilinear on the GPU)`, () => checkUnpruned(size, true));
    }

    describe('pruned over the whole span (newline rows included) vs the pruned reference', () => {
      let image: ReturnType<typeof testImage>;
      let p: Awaited<ReturnType<typeof promptFor>>;
      let N: number;
      let counts: number[];

      beforeAll(async () => {
        image = testImage(rng, c.sizes[0]![0], c.sizes[0]![1]);
        p = await promptFor(image);
        N = p.layout.totalTokens;
        counts = [Math.floor(N * 0.25), Math.floor(N * 0.3), Math.floor(N * 0.1)];
      });

      const run = (pruning: PruningPolicy, img = image): Promise<GenerateResult> => engine.generate({ prompt: QUESTION, image: img, maxNewTokens: NEW_TOKENS, pruning, recordKeptIndices: true });

      /** Reference run recording the original span offsets kept after each layer. */
      function referenceRun(pruner: ReferencePruner, q = p) {
        const { wrapped, kept } = recordSpanKept(pruner, q.span);
        return { gen: referenceGenerateAnyres(ref, q.inputIds, q.span, { tiles: q.prepared.tiles, layout: q.layout }, NEW_TOKENS, pre.eosTokenIds, wrapped), kept };
      }

      const policies = policyCases(() => ({ counts, referenceVisualTokens: N }), 5);
      for (const pc of policies) {
        it(`${pc.name}: same tokens dropped at each layer, logits and tokens match`, async () => {
          const r = await run(pc.policy());
          const expected = referenceRun(pc.pruner());
          expect(r.pruning.visualTokens).toBe(N);
          expectPrunedLikeReference(r, expected.gen, expected.kept, TOLERANCE, rng.seed);
          expect(r.pruning.flops.reference.ratio).toBeLessThan(1);
        });
      }

      it('newline rows are prunable visual tokens: nothing in the span is pinned', async () => {
        // Every newline row sits inside the one image-token run (the grid marks them −1)…
        const newlineRows = Array.from(p.prepared.grid.cell).filter((cell, i) => cell < 0 && i >= p.layout.baseTokens).length;
        expect(newlineRows).toBe(p.layout.newlineTokens);
        // …and deleting all but one token at layer 0 must take them too.
        const r = await run({ kind: 'fitprune', recipe: { counts: [N - 1, 0, 0], referenceVisualTokens: N } });
        expect(r.pruning.keptPerLayer).toEqual([1, 1, 1]);
        const expected = referenceRun(referenceFitPrune([N - 1, 0, 0]));
        expect(r.pruning.keptIndices).toEqual(expected.kept);
        expect(r.tokens).toEqual(expected.gen.tokens);
      });

      it('a recipe calibrated on one image size applies to another: floor(k·N/N_ref)', async () => {
        const other = testImage(rng, c.sizes[1]![0], c.sizes[1]![1]);
        const q = await promptFor(other);
        const M = q.layout.totalTokens;
        expect(M).not.toBe(N);
        const rescaled = rescaleCounts({ counts, referenceVisualTokens: N }, M);
        expect(rescaled).toEqual(counts.map((k) => Math.floor((k * M) / N)));
        const r = await run({ kind: 'fitprune', recipe: { counts, referenceVisualTokens: N } }, other);
        expect(r.pruning.visualTokens).toBe(M);
        expect(r.pruning.deleted).toEqual(rescaled);
        const expected = referenceRun(referenceFitPrune(rescaled), q);
        expect(r.pruning.keptIndices).toEqual(expected.kept);
        expectClose(r.firstLogits!, expected.gen.logits[0]!, TOLERANCE, `first logits, seed ${rng.seed}`);
        expect(r.tokens).toEqual(expected.gen.tokens);
      });
    });
  });
}
