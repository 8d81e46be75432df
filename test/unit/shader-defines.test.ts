import { describe, expect, it } from 'vitest';
import { definesKey, preprocessWgsl } from '../../src/gpu/shader-defines';

describe('preprocessWgsl', () => {
  const src = ['a', '#ifdef X', 'x', '#ifdef Y', 'xy', '#else', 'x-not-y', '#endif', '#else', 'not-x', '#endif', '#ifndef Z', 'not-z', '#endif', 'WG'].join('\n');

  it('keeps the branches selected by the defines, nested', () => {
    expect(preprocessWgsl(src, { X: true, Y: true }).split('\n')).toEqual(['a', 'x', 'xy', 'not-z', 'WG']);
    expect(preprocessWgsl(src, { X: true }).split('\n')).toEqual(['a', 'x', 'x-not-y', 'not-z', 'WG']);
    expect(preprocessWgsl(src, { Z: true }).split('\n')).toEqual(['a', 'not-x', 'WG']);
  });

  it('treats false and undefined as not defined', () => {
    expect(preprocessWgsl(src, { X: false, Z: undefined }).split('\n')).toEqual(['a', 'not-x', 'not-z', 'WG']);
  });

  it('substitutes valued defines as whole words only', () => {
    expect(preprocessWgsl('const a = WG; let WGX = WG * 2u;', { WG: 64 })).toBe('const a = 64; let WGX = 64 * 2u;');
  });

  it('rejects unbalanced or unsupported directives with the line number', () => {
    expect(() => preprocessWgsl('#ifdef X\nfoo')).toThrow(/missing #endif/);
    expect(() => preprocessWgsl('#endif')).toThrow(/stray #endif on line 1/);
    expect(() => preprocessWgsl('#ifdef X\n#else\n#else\n#endif')).toThrow(/stray #else on line 3/);
    expect(() => preprocessWgsl('x\n#if X')).toThrow(/unsupported directive on line 2/);
  });

  it('gives the same cache key for the same effective defines', () => {
    expect(definesKey({ B: 1, A: true, C: false })).toBe(definesKey({ A: true, B: 1 }));
    expect(definesKey({ A: true })).not.toBe(definesKey({ A: 2 }));
  });
});
