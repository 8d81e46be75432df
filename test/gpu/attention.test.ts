import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention';
import * as ref from '../../src/reference/attention';
import { expectClose } from '../helpers/compare';
import { poisoned, readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

interface Case {
  name: string;
  Tq: number;
  Hq: number;
  Hkv: number;
  D: number;
  kvLen: number;
  capacity: number;
  causal: boolean;
}

const cases: Case[] = [
  { name: 'causal prefill, GQA 6/2', Tq: 37, Hq: 6, Hkv: 2, D: 24, kvLen: 37, capacity: 41, causal: true },
  { name: 'causal prefill onto a non-empty cache, GQA 6/3', Tq: 11, Hq: 6, Hkv: 3, D: 40, kvLen: 53, capacity: 61, causal: true },
  { name: 'decode, MHA', Tq: 1, Hq: 4, Hkv: 4, D: 40, kvLen: 53, capacity: 61, causal: true },
  { name: 'bidirectional (vision), MHA', Tq: 50, Hq: 3, Hkv: 3, D: 16, kvLen: 50, capacity: 50, causal: false },
  { name: 'more keys than one chunk (300 > 256), decode', Tq: 2, Hq: 2, Hkv: 1, D: 72, kvLen: 300, capacity: 300, causal: true },
];

describe('attention', () => {
  for (const c of cases) {
    for (const path of ['rowwise', 'tiled'] as const) {
    if (path === 'tiled' && c.D % 4 !== 0) continue;
    it(`${c.name} (${path})`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const q = rng.floats(c.Tq * c.Hq * c.D);
      const k = rng.floats(c.capacity * c.Hkv * c.D);
      const v = rng.floats(c.capacity * c.Hkv * c.D);
      const out = poisoned(ctx, [c.Tq, c.Hq, c.D]);
      const rowStats = poisoned(ctx, [c.Tq, c.Hq, 2]);
      attention(ctx, ctx.upload(q, [c.Tq, c.Hq, c.D], 'f32'), ctx.upload(k, [c.capacity, c.Hkv, c.D], 'f32'), ctx.upload(v, [c.capacity, c.Hkv, c.D], 'f32'), {
        kvLen: c.kvLen,
        causal: c.causal,
        out,
        rowStats,
        path,
      });
      const expected = ref.attention(q, k, v, { ...c, scale: 1 / Math.sqrt(c.D) });
      expectClose(await readF32(ctx, out), expected.out, { rtol: 1e-5 }, `out, seed ${rng.seed}`);
      expectClose(await readF32(ctx, rowStats), expected.rowStats, { rtol: 1e-5 }, `rowStats, seed ${rng.seed}`);
    });
    }
  }

  it('rejects bad head counts, kvLen past the capacity and causal kvLen < Tq', async () => {
    const ctx = await testGpu();
    const q = ctx.empty([4, 6, 8], 'f32');
    const k = ctx.empty([10, 4, 8], 'f32');
    expect(() => attention(ctx, q, k, k, { kvLen: 5, causal: true })).toThrow(/attention: query heads 6 are not a multiple of KV heads 4/);
    const k2 = ctx.empty([10, 3, 8], 'f32');
    expect(() => attention(ctx, q, k2, k2, { kvLen: 11, causal: true })).toThrow(/kvLen 11 must be in \[1, 10\]/);
    expect(() => attention(ctx, q, k2, k2, { kvLen: 3, causal: true })).toThrow(/causal attention needs kvLen ≥ Tq/);
  });
});
