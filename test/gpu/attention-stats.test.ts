import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention';
import { attentionStats } from '../../src/kernels/attention-stats';
import * as ref from '../../src/reference/attention';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('attentionStats (FitPrune head-max statistics)', () => {
  const cases = [
    // A prompt of 53 tokens: 5 text, 36 visual (5..41), 12 text after the image; GQA 6/2.
    { name: 'prefill, image in the middle, GQA', Tq: 53, Hq: 6, Hkv: 2, D: 24, kvLen: 53, cap: 57, vis: [5, 41], self: [5, 41], cross: [41, 53] },
    // After pruning the caller passes the compacted span; no text after the image here.
    { name: 'empty cross rows, MHA, 19 rows per set (two row blocks)', Tq: 40, Hq: 3, Hkv: 3, D: 40, kvLen: 40, cap: 40, vis: [2, 21], self: [2, 21], cross: [40, 40] },
    // Queries on top of an existing cache (kvLen > Tq): row t sits at kvLen − Tq + t.
    { name: 'queries on a non-empty cache', Tq: 20, Hq: 4, Hkv: 2, D: 16, kvLen: 45, cap: 50, vis: [10, 37], self: [0, 5], cross: [5, 20] },
  ] as const;

  for (const c of cases) {
    it(c.name, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const q = rng.floats(c.Tq * c.Hq * c.D);
      const k = rng.floats(c.cap * c.Hkv * c.D);
      const v = rng.floats(c.cap * c.Hkv * c.D);
      const qt = ctx.upload(q, [c.Tq, c.Hq, c.D], 'f32');
      const kt = ctx.upload(k, [c.cap, c.Hkv, c.D], 'f32');
      const rowStats = ctx.empty([c.Tq, c.Hq, 2], 'f32');
      attention(ctx, qt, kt, ctx.upload(v, [c.cap, c.Hkv, c.D], 'f32'), { kvLen: c.kvLen, causal: true, rowStats });
      const n = c.vis[1] - c.vis[0];
      const selfSum = poisoned(ctx, [n]);
      const crossSum = poisoned(ctx, [n]);
      attentionStats(ctx, qt, kt, rowStats, {
        kvLen: c.kvLen,
        causal: true,
        visStart: c.vis[0],
        visEnd: c.vis[1],
        selfRows: c.self,
        crossRows: c.cross,
        selfSum,
        crossSum,
      });
      const args: ref.AttentionArgs = { Tq: c.Tq, Hq: c.Hq, Hkv: c.Hkv, D: c.D, kvLen: c.kvLen, causal: true, scale: 1 / Math.sqrt(c.D) };
      const expected = ref.attentionStats(q, k, args, {
        visStart: c.vis[0],
        visEnd: c.vis[1],
        selfRows: [...c.self],
        crossRows: [...c.cross],
      });
      // Probabilities are ≤ 1 and sums of ≤ 36 of them: an absolute floor covers tiny values.
      expectClose(await readF32(ctx, selfSum), expected.selfSum, { rtol: 1e-5, atol: 1e-6 }, `selfSum, seed ${rng.seed}`);
      expectClose(await readF32(ctx, crossSum), expected.crossSum, { rtol: 1e-5, atol: 1e-6 }, `crossSum, seed ${rng.seed}`);
      if (c.cross[0] === c.cross[1]) expect([...(await readF32(ctx, crossSum))].every((x) => x === 0)).toBe(true);
    });
  }

  it('rejects a visual span outside the cache and row ranges outside q', async () => {
    const ctx = await testGpu();
    const q = ctx.empty([10, 2, 8], 'f32');
    const k = ctx.empty([12, 2, 8], 'f32');
    const st = ctx.empty([10, 2, 2], 'f32');
    const base = { kvLen: 10, causal: true, selfRows: [0, 5] as const, crossRows: [5, 10] as const };
    expect(() => attentionStats(ctx, q, k, st, { ...base, visStart: 4, visEnd: 11 })).toThrow(/attentionStats: visual span \[4, 11\) must be non-empty and inside the 10 cached keys/);
    expect(() => attentionStats(ctx, q, k, st, { ...base, visStart: 0, visEnd: 5, crossRows: [5, 12] })).toThrow(/crossRows \[5, 12\) must lie within the 10 query rows/);
  });
});
