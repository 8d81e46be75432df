import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention';
import { headMeanAttention } from '../../src/kernels/head-mean-attention';
import * as ref from '../../src/reference/attention';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('headMeanAttention (FastV score)', () => {
  for (const [Tq, Hq, Hkv, D, row, cols] of [[53, 6, 2, 24, 52, [5, 41]], [30, 4, 4, 40, 17, [3, 29]]] as const) {
    it(`last-ish row ${row} of ${Tq}, columns [${cols.join(', ')}), heads ${Hq}/${Hkv}`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const q = rng.floats(Tq * Hq * D);
      const k = rng.floats(Tq * Hkv * D);
      const qt = ctx.upload(q, [Tq, Hq, D], 'f32');
      const kt = ctx.upload(k, [Tq, Hkv, D], 'f32');
      const rowStats = ctx.empty([Tq, Hq, 2], 'f32');
      attention(ctx, qt, kt, ctx.upload(rng.floats(Tq * Hkv * D), [Tq, Hkv, D], 'f32'), { kvLen: Tq, causal: true, rowStats });
      const out = poisoned(ctx, [cols[1] - cols[0]]);
      headMeanAttention(ctx, qt, kt, rowStats, { kvLen: Tq, causal: true, row, colStart: cols[0], colEnd: cols[1], out });
      const args = { Tq, Hq, Hkv, D, kvLen: Tq, causal: true, scale: 1 / Math.sqrt(D) };
      expectClose(await readF32(ctx, out), ref.headMeanAttention(q, k, args, row, cols[0], cols[1]), { rtol: 1e-5, atol: 1e-7 }, `seed ${rng.seed}`);
    });
  }

  it('rejects a row outside q', async () => {
    const ctx = await testGpu();
    const q = ctx.empty([10, 2, 8], 'f32');
    expect(() =>
      headMeanAttention(ctx, q, ctx.empty([10, 2, 8], 'f32'), ctx.empty([10, 2, 2], 'f32'), { kvLen: 10, causal: true, row: 10, colStart: 0, colEnd: 5 }),
    ).toThrow(/headMeanAttention: row 10 is not one of the 10 query rows/);
  });
});
