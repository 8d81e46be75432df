import { describe, expect, it } from 'vitest';
import { gatherRows } from '../../src/kernels/gather-rows';
import * as ref from '../../src/reference/gather-rows';
import { toHalfBits } from '../../src/util/half';
import { expectEqualInts } from '../helpers/compare';
import { poisoned, readChecked, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('gatherRows', () => {
  it('hidden states f32 [53, 37] by a keep-list with gaps and an out-of-range index', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = rng.floats(53 * 37);
    const keep = Uint32Array.from([...rng.sortedSubset(53, 30), 60]);
    const out = poisoned(ctx, [keep.length, 37]);
    gatherRows(ctx, ctx.upload(x, [53, 37], 'f32'), ctx.upload(keep, [keep.length], 'u32'), { out });
    const got = new Uint32Array((await readChecked(ctx, out)).buffer);
    expectEqualInts(got, new Uint32Array(Float32Array.from(ref.gatherRows(x, 37, keep)).buffer), `seed ${rng.seed}`);
  });

  it('position ids u32 [53] (rows of one element)', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const pos = Uint32Array.from({ length: 53 }, (_, i) => i * 2 + 1);
    const keep = Uint32Array.from(rng.sortedSubset(53, 17));
    const out = poisoned(ctx, [17], 'u32');
    gatherRows(ctx, ctx.upload(pos, [53], 'u32'), ctx.upload(keep, [17], 'u32'), { out });
    expectEqualInts(await readChecked(ctx, out), ref.gatherRows(pos, 1, keep), `seed ${rng.seed}`);
  });

  it('K/V cache rows f32 [61, 3, 10] and f16 rows [29, 2, 6]', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const kv = rng.floats(61 * 30);
    const keep = Uint32Array.from(rng.sortedSubset(61, 41));
    const out = poisoned(ctx, [41, 3, 10]);
    gatherRows(ctx, ctx.upload(kv, [61, 3, 10], 'f32'), ctx.upload(keep, [41], 'u32'), { out });
    const got = new Uint32Array((await readChecked(ctx, out)).buffer);
    expectEqualInts(got, new Uint32Array(Float32Array.from(ref.gatherRows(kv, 30, keep)).buffer), `seed ${rng.seed}`);
    const half = toHalfBits(rng.floats(29 * 12));
    const keep16 = Uint32Array.from(rng.sortedSubset(29, 11));
    const out16 = poisoned(ctx, [11, 2, 6], 'f16');
    gatherRows(ctx, ctx.upload(half, [29, 2, 6], 'f16'), ctx.upload(keep16, [11], 'u32'), { out: out16 });
    expectEqualInts(await readChecked(ctx, out16), ref.gatherRows(half, 12, keep16), `seed ${rng.seed}`);
  });

  it('rejects f16 rows of odd length and a non-u32 keep-list', async () => {
    const ctx = await testGpu();
    expect(() => gatherRows(ctx, ctx.empty([5, 3], 'f16'), ctx.empty([2], 'u32'))).toThrow(/gatherRows: .*not whole 32-bit words/);
    expect(() => gatherRows(ctx, ctx.empty([5, 4], 'f32'), ctx.empty([2], 'i32'))).toThrow(/gatherRows: keep must be u32/);
  });
});
