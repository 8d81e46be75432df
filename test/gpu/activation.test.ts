import { describe, expect, it } from 'vitest';
import { activation, type ActivationOp } from '../../src/kernels/activation';
import * as ref from '../../src/reference/activation';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('activation', () => {
  const ops: ActivationOp[] = ['silu', 'gelu', 'gelu_tanh', 'quick_gelu'];
  for (const op of ops) {
    it(`${op} on [37, 53] including |x| up to 20`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const x = rng.floats(37 * 53, 4);
      x[0] = 20;
      x[1] = -20;
      x[2] = 0;
      const out = poisoned(ctx, [37, 53]);
      activation(ctx, ctx.upload(x, [37, 53], 'f32'), op, { out });
      // The GPU erf is a 1.5e-7-accurate approximation: allow that on top of f32 rounding.
      expectClose(await readF32(ctx, out), ref.activation(x, op), { rtol: 1e-6, atol: op === 'gelu' ? 2e-6 : 1e-6 }, `${op} seed ${rng.seed}`);
    });
  }

  it('works in place', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = rng.floats(101);
    const t = ctx.upload(x, [101], 'f32');
    activation(ctx, t, 'silu', { out: t });
    expectClose(await readF32(ctx, t), ref.activation(x, 'silu'), { rtol: 1e-6 }, `seed ${rng.seed}`);
  });

  it('rejects an unknown activation and a non-f32 input', async () => {
    const ctx = await testGpu();
    expect(() => activation(ctx, ctx.empty([4], 'f32'), 'relu' as ActivationOp)).toThrow(/activation: unknown activation "relu"/);
    expect(() => activation(ctx, ctx.empty([4], 'u32'), 'silu')).toThrow(/activation: x must be f32/);
  });
});
