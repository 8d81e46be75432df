import { describe, expect, it } from 'vitest';
import { KernelInputError } from '../../src/gpu/errors';
import { matmul } from '../../src/kernels/matmul';
import * as ref from '../../src/reference/matmul';
import { fromHalfBits, toHalfBits } from '../../src/util/half';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu, testGpuWithBindingLimit } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

// Odd, non-power-of-two sizes so partial tiles and loop bounds are exercised.
const CASES: [number, number, number][] = [
  [37, 53, 29],
  [65, 70, 131],
  [130, 17, 64],
];

describe('matmul (tiled)', () => {
  for (const [M, N, K] of CASES) {
    for (const wType of ['f32', 'f16'] as const) {
      for (const withBias of [false, true]) {
        it(`M=${M} N=${N} K=${K} weights ${wType}${withBias ? ' + bias' : ''}`, async () => {
          const ctx = await testGpu();
          const rng = freshRng();
          const x = rng.floats(M * K);
          let w = rng.floats(N * K, 0.5);
          const b = withBias ? rng.floats(N) : undefined;
          const wBits = wType === 'f16' ? toHalfBits(w) : null;
          if (wBits) w = fromHalfBits(wBits); // the reference sees exactly the stored weights
          const xt = ctx.upload(x, [M, K], 'f32');
          const wt = wBits ? ctx.upload(wBits, [N, K], 'f16') : ctx.upload(w, [N, K], 'f32');
          const bt = b ? ctx.upload(b, [N], 'f32') : undefined;
          const out = poisoned(ctx, [M, N]);
          matmul(ctx, xt, wt, { bias: bt, out, path: 'tiled', nativeF16: false });
          expectClose(await readF32(ctx, out), ref.matmul(x, w, M, N, K, b), { rtol: 1e-5 }, `seed ${rng.seed}`);
        });
      }
    }
  }

  it('native f16 variant matches the reference (needs shader-f16)', async (t) => {
    const ctx = await testGpu();
    if (!ctx.features.shaderF16) t.skip(); // SwiftShader lacks shader-f16; Node on lavapipe runs it
    const rng = freshRng();
    const [M, N, K] = [41, 67, 75];
    const x = rng.floats(M * K);
    const bits = toHalfBits(rng.floats(N * K, 0.5));
    const out = poisoned(ctx, [M, N]);
    matmul(ctx, ctx.upload(x, [M, K], 'f32'), ctx.upload(bits, [N, K], 'f16'), { out, path: 'tiled', nativeF16: true });
    expectClose(await readF32(ctx, out), ref.matmul(x, fromHalfBits(bits), M, N, K), { rtol: 1e-5 }, `seed ${rng.seed}`);
  });

  it('keeps leading dimensions: [2, 3, K] → [2, 3, N]', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = rng.floats(2 * 3 * 9);
    const w = rng.floats(5 * 9);
    const y = matmul(ctx, ctx.upload(x, [2, 3, 9], 'f32'), ctx.upload(w, [5, 9], 'f32'));
    expect(y.shape).toEqual([2, 3, 5]);
    expectClose(await readF32(ctx, y), ref.matmul(x, w, 6, 5, 9), { rtol: 1e-5 }, `seed ${rng.seed}`);
  });

  // Slice offsets must be multiples of 256 bytes, so the rows per slice depend on the row size.
  const sliceCases = [
    { dtype: 'f16', K: 32, limit: 3000 }, // 64-byte rows: 44 rows a slice, 3 slices
    { dtype: 'f32', K: 33, limit: 9000 }, // 132-byte rows: 64 rows a slice, 2 slices
  ] as const;
  for (const { dtype, K, limit } of sliceCases) {
    it(`splits a ${dtype} weight with K=${K} over a ${limit}-byte binding limit into row slices`, async () => {
      const ctx = await testGpuWithBindingLimit(limit);
      const rng = freshRng();
      const [M, N] = [7, 97];
      const x = rng.floats(M * K);
      let w = rng.floats(N * K, 0.5);
      const bits = dtype === 'f16' ? toHalfBits(w) : null;
      if (bits) w = fromHalfBits(bits);
      const b = rng.floats(N);
      for (const path of ['tiled', 'matvec'] as const) {
        const wt = bits ? ctx.upload(bits, [N, K], 'f16') : ctx.upload(w, [N, K], 'f32');
        const out = poisoned(ctx, [M, N]);
        matmul(ctx, ctx.upload(x, [M, K], 'f32'), wt, { out, bias: ctx.upload(b, [N], 'f32'), path });
        expectClose(await readF32(ctx, out), ref.matmul(x, w, M, N, K, b), { rtol: 1e-5 }, `${path}, seed ${rng.seed}`);
      }
      ctx.destroy();
    });
  }

  it('rejects mismatched shapes and dtypes before dispatching', async () => {
    const ctx = await testGpu();
    const x = ctx.empty([4, 8], 'f32');
    expect(() => matmul(ctx, x, ctx.empty([5, 9], 'f32'))).toThrow(/matmul: .*disagree on K \(8 vs 9\)/);
    expect(() => matmul(ctx, ctx.empty([4, 8], 'u32'), ctx.empty([5, 8], 'f32'))).toThrow(KernelInputError);
    expect(() => matmul(ctx, x, ctx.empty([5, 8], 'f32'), { bias: ctx.empty([4], 'f32') })).toThrow(/bias must be \[5\]/);
    expect(() => matmul(ctx, x, ctx.empty([5, 8], 'f32'), { out: ctx.empty([4, 6], 'f32') })).toThrow(/out must be \[4×5\]/);
  });

  it('rejects an activation over the storage binding limit with the sizes in the message', async () => {
    const ctx = await testGpuWithBindingLimit(1024);
    expect(() => matmul(ctx, ctx.empty([300, 8], 'f32'), ctx.empty([4, 8], 'f32'))).toThrow(
      /matmul: .*\[300×8\] f32 is 9600 bytes, over the device's storage binding limit of 1024 bytes/,
    );
    ctx.destroy();
  });
});
