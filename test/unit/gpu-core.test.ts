import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/gpu/pool';
import { storageBytes } from '../../src/gpu/tensor';
import { Uniforms } from '../../src/kernels/common';

describe('BufferPool.bucketSize', () => {
  it('rounds small sizes to 256 bytes and large ones to quarter powers of two', () => {
    expect(BufferPool.bucketSize(1)).toBe(256);
    expect(BufferPool.bucketSize(300)).toBe(512);
    expect(BufferPool.bucketSize(4096)).toBe(4096);
    expect(BufferPool.bucketSize(4097)).toBe(5120);
    expect(BufferPool.bucketSize(1_000_000)).toBe(1_048_576);
    for (const n of [5000, 12345, 999_999, 7_654_321]) {
      const b = BufferPool.bucketSize(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b).toBeLessThan(n * 1.26);
    }
  });
});

describe('storageBytes', () => {
  it('rounds to whole words, f16 two per word', () => {
    expect(storageBytes(3, 'f16')).toBe(8);
    expect(storageBytes(4, 'f16')).toBe(8);
    expect(storageBytes(3, 'f32')).toBe(12);
    expect(storageBytes(0, 'u32')).toBe(4);
  });
});

describe('Uniforms', () => {
  it('packs u32, i32 and f32 in order and pads to 16 bytes', () => {
    const bytes = new Uniforms().u32(7).i32(-2).f32(0.5).u32(1).u32(2).bytes();
    expect(bytes.byteLength).toBe(32);
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(0, true)).toBe(7);
    expect(dv.getInt32(4, true)).toBe(-2);
    expect(dv.getFloat32(8, true)).toBe(0.5);
    expect(dv.getUint32(16, true)).toBe(2);
  });

  it('refuses a negative or fractional u32', () => {
    expect(() => new Uniforms().u32(-1)).toThrow(/out of range/);
    expect(() => new Uniforms().u32(1.5)).toThrow(/out of range/);
  });
});
