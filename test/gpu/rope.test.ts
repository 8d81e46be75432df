import { describe, expect, it } from 'vitest';
import { rope, ropeTable } from '../../src/kernels/rope';
import * as ref from '../../src/reference/rope';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('rope', () => {
  for (const [T, H, D, theta] of [[37, 3, 24, 10000], [5, 7, 66, 500000], [1, 2, 8, 10000]] as const) {
    it(`[${T}, ${H}, ${D}] theta ${theta} at explicit positions with gaps`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const maxPositions = 4096;
      const x = rng.floats(T * H * D);
      // Ascending positions with gaps, as after pruning, reaching into the thousands.
      const pos = Uint32Array.from(rng.sortedSubset(maxPositions, T));
      const table = ropeTable(ctx, { theta, headDim: D, maxPositions });
      const out = poisoned(ctx, [T, H, D]);
      rope(ctx, ctx.upload(x, [T, H, D], 'f32'), ctx.upload(pos, [T], 'u32'), table, { out });
      expectClose(await readF32(ctx, out), ref.rope(x, pos, T, H, D, theta), { rtol: 1e-6 }, `seed ${rng.seed}`);
    });
  }

  it('works in place', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const [T, H, D] = [9, 2, 16];
    const x = rng.floats(T * H * D);
    const pos = Uint32Array.from({ length: T }, (_, i) => i * 3);
    const t = ctx.upload(x, [T, H, D], 'f32');
    rope(ctx, t, ctx.upload(pos, [T], 'u32'), ropeTable(ctx, { theta: 10000, headDim: D, maxPositions: 64 }), { out: t });
    expectClose(await readF32(ctx, t), ref.rope(x, pos, T, H, D, 10000), { rtol: 1e-6 }, `seed ${rng.seed}`);
  });

  it('rejects a head dim that does not match the table and positions of the wrong length', async () => {
    const ctx = await testGpu();
    const table = ropeTable(ctx, { theta: 10000, headDim: 8, maxPositions: 16 });
    expect(() => rope(ctx, ctx.empty([3, 2, 10], 'f32'), ctx.empty([3], 'u32'), table)).toThrow(/rope: x head dim 10 does not match the table's 8/);
    expect(() => rope(ctx, ctx.empty([3, 2, 8], 'f32'), ctx.empty([4], 'u32'), table)).toThrow(/rope: positions must be \[3\], got \[4\]/);
  });
});
