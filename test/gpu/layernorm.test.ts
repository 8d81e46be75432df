import { describe, expect, it } from 'vitest';
import { layernorm } from '../../src/kernels/layernorm';
import * as ref from '../../src/reference/layernorm';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('layernorm', () => {
  for (const [rows, dim, withBias] of [[37, 53, true], [5, 257, false], [2, 3, true]] as const) {
    it(`[${rows}, ${dim}]${withBias ? ' + bias' : ''}`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      // An offset mean checks the centred variance.
      const x = rng.floats(rows * dim, 2).map((v) => v + 5);
      const w = rng.floats(dim);
      const b = withBias ? rng.floats(dim) : null;
      const out = poisoned(ctx, [rows, dim]);
      layernorm(ctx, ctx.upload(x, [rows, dim], 'f32'), ctx.upload(w, [dim], 'f32'), b ? ctx.upload(b, [dim], 'f32') : null, { eps: 1e-5, out });
      expectClose(await readF32(ctx, out), ref.layernorm(x, w, b, rows, dim, 1e-5), { rtol: 1e-5 }, `seed ${rng.seed}`);
    });
  }

  it('rejects a bias of the wrong length', async () => {
    const ctx = await testGpu();
    expect(() => layernorm(ctx, ctx.empty([4, 8], 'f32'), ctx.empty([8], 'f32'), ctx.empty([9], 'f32'), { eps: 1e-5 })).toThrow(/layernorm: bias must be \[8\], got \[9\]/);
  });
});
