import { describe, expect, it } from 'vitest';
import { embedding } from '../../src/kernels/embedding';
import * as ref from '../../src/reference/embedding';
import { fromHalfBits, toHalfBits } from '../../src/util/half';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu, testGpuWithBindingLimit } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('embedding', () => {
  for (const dtype of ['f32', 'f16', 'f16-native'] as const) {
    it(`table [301, 37] ${dtype}, 53 ids including one past the vocabulary`, async (t) => {
      const ctx = await testGpu();
      if (dtype === 'f16-native' && !ctx.features.shaderF16) t.skip();
      const rng = freshRng();
      const [V, d, T] = [301, 37, 53];
      let table = rng.floats(V * d);
      const bits = dtype === 'f32' ? null : toHalfBits(table);
      if (bits) table = fromHalfBits(bits);
      const ids = Uint32Array.from({ length: T }, () => rng.int(0, V));
      ids[5] = V + 10;
      const out = poisoned(ctx, [T, d]);
      const tt = bits ? ctx.upload(bits, [V, d], 'f16') : ctx.upload(table, [V, d], 'f32');
      embedding(ctx, ctx.upload(ids, [T], 'u32'), tt, { out, nativeF16: dtype === 'f16-native' });
      expectClose(await readF32(ctx, out), ref.embedding(ids, table, d), { rtol: 0, atol: 0 }, `seed ${rng.seed}`);
    });
  }

  it('reads a table larger than one storage binding slice by slice', async () => {
    const ctx = await testGpuWithBindingLimit(2048); // 64-byte f16 rows: 32 rows a slice
    const rng = freshRng();
    const [V, d, T] = [129, 32, 13]; // output 1664 bytes: fits the lowered limit
    const bits = toHalfBits(rng.floats(V * d));
    const ids = Uint32Array.from({ length: T }, () => rng.int(0, V));
    const out = poisoned(ctx, [T, d]);
    embedding(ctx, ctx.upload(ids, [T], 'u32'), ctx.upload(bits, [V, d], 'f16'), { out });
    expectClose(await readF32(ctx, out), ref.embedding(ids, fromHalfBits(bits), d), { rtol: 0, atol: 0 }, `seed ${rng.seed}`);
    ctx.destroy();
  });

  it('rejects float ids', async () => {
    const ctx = await testGpu();
    expect(() => embedding(ctx, ctx.empty([3], 'f32'), ctx.empty([10, 4], 'f32'))).toThrow(/embedding: ids must be u32/);
  });
});
