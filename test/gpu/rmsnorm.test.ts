import { describe, expect, it } from 'vitest';
import { KernelInputError } from '../../src/gpu/errors';
import { rmsnorm } from '../../src/kernels/rmsnorm';
import * as ref from '../../src/reference/rmsnorm';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('rmsnorm', () => {
  for (const [rows, dim] of [[37, 53], [3, 300], [1, 7]] as const) {
    it(`[${rows}, ${dim}]`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const x = rng.floats(rows * dim, 3);
      const w = rng.floats(dim);
      const out = poisoned(ctx, [rows, dim]);
      rmsnorm(ctx, ctx.upload(x, [rows, dim], 'f32'), ctx.upload(w, [dim], 'f32'), { eps: 1e-5, out });
      expectClose(await readF32(ctx, out), ref.rmsnorm(x, w, rows, dim, 1e-5), { rtol: 1e-5 }, `seed ${rng.seed}`);
    });
  }

  it('rejects a weight of the wrong length', async () => {
    const ctx = await testGpu();
    expect(() => rmsnorm(ctx, ctx.empty([4, 8], 'f32'), ctx.empty([7], 'f32'), { eps: 1e-6 })).toThrow(KernelInputError);
    expect(() => rmsnorm(ctx, ctx.empty([4, 8], 'f32'), ctx.empty([7], 'f32'), { eps: 1e-6 })).toThrow(/rmsnorm: weight must be \[8\], got \[7\]/);
  });
});
