import { describe, expect, it } from 'vitest';
import { swiglu } from '../../src/kernels/swiglu';
import * as ref from '../../src/reference/activation';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('swiglu', () => {
  it('silu(gate)·up on [37, 53] with large |gate|', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const g = rng.floats(37 * 53, 5);
    g[0] = 90;
    g[1] = -90;
    const u = rng.floats(37 * 53);
    const out = poisoned(ctx, [37, 53]);
    swiglu(ctx, ctx.upload(g, [37, 53], 'f32'), ctx.upload(u, [37, 53], 'f32'), { out });
    expectClose(await readF32(ctx, out), ref.swiglu(g, u), { rtol: 1e-6 }, `seed ${rng.seed}`);
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testGpu();
    expect(() => swiglu(ctx, ctx.empty([4, 6], 'f32'), ctx.empty([6, 4], 'f32'))).toThrow(/swiglu: up must be \[4×6\], got \[6×4\]/);
  });
});
