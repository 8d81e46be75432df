import { describe, expect, it } from 'vitest';
import { bottomKKeep } from '../../src/kernels/bottomk-select';
import * as ref from '../../src/reference/bottomk-select';
import { expectEqualInts } from '../helpers/compare';
import { poisoned, readU32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('bottomKKeep (deterministic bottom-k → keep-list)', () => {
  const cases = [
    { n: 37, k: 11, spanStart: 5, seqLen: 53, ties: false },
    { n: 577, k: 300, spanStart: 0, seqLen: 600, ties: true },
    { n: 1000, k: 999, spanStart: 13, seqLen: 1020, ties: true },
    { n: 37, k: 0, spanStart: 3, seqLen: 41, ties: false },
    { n: 37, k: 37, spanStart: 3, seqLen: 41, ties: false },
    { n: 37, k: 50, spanStart: 3, seqLen: 41, ties: true },
  ];
  for (const c of cases) {
    it(`n=${c.n} k=${c.k} span at ${c.spanStart} of ${c.seqLen}${c.ties ? ', scores in {0,1,2}' : ''}`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const scores = Float32Array.from({ length: c.n }, () => (c.ties ? rng.int(0, 3) : rng.normal()));
      const expected = ref.bottomKKeep(scores, c.k, c.spanStart, c.seqLen);
      const out = poisoned(ctx, [expected.length], 'u32');
      bottomKKeep(ctx, ctx.upload(scores, [c.n], 'f32'), c.k, { spanStart: c.spanStart, seqLen: c.seqLen, out });
      expectEqualInts(await readU32(ctx, out), expected, `seed ${rng.seed}`);
    });
  }

  it('deletes NaN first, then the lower index among equal scores', async () => {
    const ctx = await testGpu();
    const scores = Float32Array.from([1, NaN, 0.5, 0.5, -Infinity, 2]);
    const keep = bottomKKeep(ctx, ctx.upload(scores, [6], 'f32'), 3, { spanStart: 1, seqLen: 8 });
    // Order: NaN(1) ≡ −∞(4) → index 1 first, then 4, then 0.5 at index 2; survivors 0.5@3, 1@0, 2@5.
    expect([...(await readU32(ctx, keep))]).toEqual([0, 1, 4, 6, 7]);
    expect(ref.bottomKKeep(scores, 3, 1, 8)).toEqual([0, 1, 4, 6, 7]);
  });

  it('rejects a span that does not fit the sequence', async () => {
    const ctx = await testGpu();
    expect(() => bottomKKeep(ctx, ctx.empty([10], 'f32'), 2, { spanStart: 5, seqLen: 12 })).toThrow(/bottomKKeep: span \[5, 15\) does not fit a 12-row sequence/);
  });
});
