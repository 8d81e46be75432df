import { describe, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul';
import * as ref from '../../src/reference/matmul';
import { fromHalfBits, toHalfBits } from '../../src/util/half';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('matvec (decode path of matmul)', () => {
  const cases: [number, number, number][] = [
    [1, 75, 131], // odd K: the f16 kernel falls back to per-element reads
    [1, 130, 98], // even K: two halves per word
    [3, 53, 37],
    [8, 29, 64],
  ];
  for (const [M, N, K] of cases) {
    for (const wType of ['f32', 'f16', 'f16-native'] as const) {
      it(`M=${M} N=${N} K=${K} weights ${wType}`, async (t) => {
        const ctx = await testGpu();
        if (wType === 'f16-native' && !ctx.features.shaderF16) t.skip();
        const rng = freshRng();
        const x = rng.floats(M * K);
        let w = rng.floats(N * K, 0.5);
        const b = rng.floats(N);
        const bits = wType === 'f32' ? null : toHalfBits(w);
        if (bits) w = fromHalfBits(bits);
        const wt = bits ? ctx.upload(bits, [N, K], 'f16') : ctx.upload(w, [N, K], 'f32');
        const out = poisoned(ctx, [M, N]);
        matmul(ctx, ctx.upload(x, [M, K], 'f32'), wt, {
          out,
          bias: ctx.upload(b, [N], 'f32'),
          path: 'matvec',
          nativeF16: wType === 'f16-native',
        });
        expectClose(await readF32(ctx, out), ref.matmul(x, w, M, N, K, b), { rtol: 1e-5 }, `seed ${rng.seed}`);
      });
    }
  }
});
