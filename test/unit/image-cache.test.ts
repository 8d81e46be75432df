import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/gpu/tensor';
import { ImageFeatureCache, pixelKey } from '../../src/engine/image-cache';
import { freshRng } from '../helpers/random';

/** Stands in for a GPU tensor: the cache only reads byteLength and calls dispose. */
function fakeTensor(byteLength: number): Tensor & { freed: boolean } {
  const t = { byteLength, freed: false, dispose: () => void (t.freed = true) };
  return t as unknown as Tensor & { freed: boolean };
}

describe('image feature cache', () => {
  it('keys by pixel content: equal pixels, equal key; one changed value or length, another key', () => {
    const rng = freshRng();
    const a = rng.floats(3 * 37 * 23, 1);
    expect(pixelKey(Float32Array.from(a))).toBe(pixelKey(a));
    const b = Float32Array.from(a);
    b[rng.int(0, b.length)]! += 1e-6;
    expect(pixelKey(b)).not.toBe(pixelKey(a));
    expect(pixelKey(a.subarray(0, a.length - 1))).not.toBe(pixelKey(a));
    // swapping two values must change the key too (order matters)
    const c = Float32Array.from(a);
    [c[0], c[1]] = [c[1]!, c[0]!];
    if (c[0] !== a[0]) expect(pixelKey(c)).not.toBe(pixelKey(a));
  });

  it('evicts least recently used entries to stay within its byte budget, disposing them', () => {
    const cache = new ImageFeatureCache(300);
    const [t1, t2, t3] = [fakeTensor(100), fakeTensor(100), fakeTensor(100)];
    expect(cache.put('1', t1) && cache.put('2', t2) && cache.put('3', t3)).toBe(true);
    expect(cache.get('1')).toBe(t1); // 1 is now the most recent
    const t4 = fakeTensor(150);
    expect(cache.put('4', t4)).toBe(true); // evicts 2 then 3 (oldest first), keeps 1
    expect([t1.freed, t2.freed, t3.freed, t4.freed]).toEqual([false, true, true, false]);
    expect(cache.get('2')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('refuses what can never fit (the caller keeps ownership) and disposes everything on clear', () => {
    const cache = new ImageFeatureCache(100);
    const big = fakeTensor(101);
    expect(cache.put('big', big)).toBe(false);
    expect(big.freed).toBe(false);
    const small = fakeTensor(60);
    cache.put('s', small);
    const replacement = fakeTensor(60);
    cache.put('s', replacement); // same key: the old tensor is released
    expect(small.freed).toBe(true);
    cache.clear();
    expect(replacement.freed).toBe(true);
    expect(cache.size).toBe(0);
  });
});
