import { describe, expect, it } from 'vitest';
import { argmax } from '../../src/kernels/argmax';
import * as ref from '../../src/reference/argmax';
import { expectEqualInts } from '../helpers/compare';
import { poisoned, readU32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('argmax', () => {
  it('random rows [7, 1031]', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = rng.floats(7 * 1031);
    const out = poisoned(ctx, [7], 'u32');
    argmax(ctx, ctx.upload(x, [7, 1031], 'f32'), { out });
    expectEqualInts(await readU32(ctx, out), ref.argmax(x, 7, 1031), `seed ${rng.seed}`);
  });

  it('ties go to the lowest index, NaN is skipped, an all-NaN row gives 0', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const cols = 517;
    const rows = [
      Float32Array.from({ length: cols }, () => rng.int(0, 3)), // many ties at 2
      Float32Array.from({ length: cols }, (_, i) => (i === 400 ? 9 : i % 7 === 0 ? NaN : -1)),
      new Float32Array(cols).fill(NaN),
      new Float32Array(cols).fill(-Infinity),
      Float32Array.from({ length: cols }, (_, i) => (i === cols - 1 ? 5 : 1)), // max in the last column
    ];
    const x = new Float32Array(rows.length * cols);
    rows.forEach((r, i) => x.set(r, i * cols));
    const out = poisoned(ctx, [rows.length], 'u32');
    argmax(ctx, ctx.upload(x, [rows.length, cols], 'f32'), { out });
    const got = await readU32(ctx, out);
    expectEqualInts(got, ref.argmax(x, rows.length, cols), `seed ${rng.seed}`);
    expect(got[0]).toBe(rows[0]!.indexOf(2));
    expect([got[1], got[2], got[3], got[4]]).toEqual([400, 0, 0, cols - 1]);
  });

  it('rejects u32 input', async () => {
    const ctx = await testGpu();
    expect(() => argmax(ctx, ctx.empty([3, 4], 'u32'))).toThrow(/argmax: x must be f32/);
  });
});
