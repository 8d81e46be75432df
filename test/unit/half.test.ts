import { describe, expect, it } from 'vitest';
import { bf16BitsToFloat, floatToHalfBits, fromHalfBits, halfBitsToFloat, toHalfBits } from '../../src/util/half';
import { freshRng } from '../helpers/random';

describe('half precision conversion', () => {
  it('converts known values exactly', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // max half
      [2 ** -14, 0x0400], // min normal
      [2 ** -24, 0x0001], // min subnormal
      [0.1, 0x2e66],
      [Infinity, 0x7c00],
      [1e6, 0x7c00], // overflow
      [2 ** -26, 0x0000], // underflow
    ];
    for (const [f, h] of cases) expect(floatToHalfBits(f), `${f}`).toBe(h);
    expect(Number.isNaN(halfBitsToFloat(floatToHalfBits(NaN)))).toBe(true);
  });

  it('rounds to nearest even at the halfway point', () => {
    // 1 + 2^-11 is exactly between 1 and the next half (1 + 2^-10): ties go to even (1).
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is between 1+2^-10 (odd mantissa) and 1+2^-9: goes up to the even one.
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('round-trips every half value and stays within half an ulp for random floats', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = halfBitsToFloat(h);
      if (Number.isNaN(f)) continue;
      expect(floatToHalfBits(f)).toBe(h);
    }
    const rng = freshRng();
    const xs = rng.floats(2000, 10);
    const back = fromHalfBits(toHalfBits(xs));
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10);
      expect(Math.abs(back[i]! - x), `seed ${rng.seed} x=${x}`).toBeLessThanOrEqual(ulp / 2 + 1e-12);
    }
  });

  it('decodes bf16 as the top half of an f32', () => {
    expect([...bf16BitsToFloat([0x3f80, 0xc040, 0x0000])]).toEqual([1, -3, 0]);
  });
});
