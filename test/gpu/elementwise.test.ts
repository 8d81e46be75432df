import { describe, expect, it } from 'vitest';
import { elementwise } from '../../src/kernels/elementwise';
import * as ref from '../../src/reference/activation';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('elementwise', () => {
  for (const op of ['add', 'mul'] as const) {
    for (const bShape of [[37, 53], [53]] as const) {
      it(`${op} [37, 53] with b [${bShape.join(', ')}]`, async () => {
        const ctx = await testGpu();
        const rng = freshRng();
        const a = rng.floats(37 * 53);
        const b = rng.floats(bShape.reduce((x, y) => x * y, 1));
        const out = poisoned(ctx, [37, 53]);
        elementwise(ctx, ctx.upload(a, [37, 53], 'f32'), ctx.upload(b, bShape, 'f32'), op, { out });
        expectClose(await readF32(ctx, out), ref.elementwise(a, b, op), { rtol: 1e-6 }, `seed ${rng.seed}`);
      });
    }
  }

  it('rejects a b that cannot broadcast', async () => {
    const ctx = await testGpu();
    expect(() => elementwise(ctx, ctx.empty([4, 6], 'f32'), ctx.empty([5], 'f32'), 'add')).toThrow(/elementwise: b .* cannot broadcast/);
  });
});
