import { describe, expect, it } from 'vitest';
import { centerCropPixels, PIL_BICUBIC, PIL_BILINEAR, PIL_BOX, PIL_HAMMING, PIL_LANCZOS, PIL_NEAREST, resizePil, shortestEdgeSize } from '../../src/preprocess/resample';
import { Rng } from '../../src/util/random';

const FILTERS = [PIL_NEAREST, PIL_LANCZOS, PIL_BILINEAR, PIL_BICUBIC, PIL_BOX, PIL_HAMMING];

describe('PIL-compatible resampling', () => {
  it('matches hand-computed Pillow results', () => {
    // Bicubic 4→2: centre 1.0 with support 4 (downscale ×2); Keys a = -0.5 weights at
    // ±0.25, 0.75, 1.25 → 0.8672, 0.8672, 0.2266, -0.0703, normalised; 60.35 and 220.68.
    expect([...resizePil([0, 100, 200, 255], 4, 1, 1, 2, 1, PIL_BICUBIC)]).toEqual([60, 221]);
    // Bilinear 2→4: centres 0.25, 0.75, 1.25, 1.75; the edges clamp (window cut, renormalised).
    expect([...resizePil([0, 100], 2, 1, 1, 4, 1, PIL_BILINEAR)]).toEqual([0, 25, 75, 100]);
    // Box 2×: means of pairs, halves rounded up.
    expect([...resizePil([0, 100, 200, 255], 4, 1, 1, 2, 1, PIL_BOX)]).toEqual([50, 228]);
    // Nearest: the pixel under each output centre, (i + 0.5)·4/3 → 0, 2, 3.
    expect([...resizePil([0, 100, 200, 255], 4, 1, 1, 3, 1, PIL_NEAREST)]).toEqual([0, 200, 255]);
    // Vertical pass the same as horizontal (a column).
    expect([...resizePil([0, 100, 200, 255], 1, 4, 1, 1, 2, PIL_BICUBIC)]).toEqual([60, 221]);
  });

  it('keeps a flat image flat for every filter and scale (no border leak), channels independent', () => {
    for (const filter of FILTERS) {
      for (const [w, h, ow, oh] of [[83, 47, 98, 56], [10, 10, 3, 7], [5, 9, 40, 31], [200, 3, 17, 1]] as const) {
        const px = [200, 100, 30];
        const data = new Uint8ClampedArray(w * h * 3);
        for (let i = 0; i < w * h; i++) data.set(px, i * 3);
        const out = resizePil(data, w, h, 3, ow, oh, filter);
        expect(out.length).toBe(ow * oh * 3);
        for (let i = 0; i < ow * oh; i++) if (out[i * 3] !== 200 || out[i * 3 + 1] !== 100 || out[i * 3 + 2] !== 30) expect.fail(`filter ${filter} ${w}×${h}→${ow}×${oh} pixel ${i}`);
      }
    }
  });

  it('returns a copy at the same size, stays within [0, 255] despite negative lobes, refuses bad input', () => {
    const rng = new Rng(4);
    const data = Uint8ClampedArray.from({ length: 6 * 5 * 3 }, () => rng.int(0, 256));
    const same = resizePil(data, 6, 5, 3, 6, 5, PIL_BICUBIC);
    expect(same).toEqual(data);
    expect(same).not.toBe(data);
    // A black/white checkerboard rings with bicubic and Lanczos: clipped, never wrapped.
    const board = Uint8ClampedArray.from({ length: 16 * 16 }, (_, i) => ((i % 16) + Math.floor(i / 16)) % 2 ? 255 : 0);
    for (const f of [PIL_BICUBIC, PIL_LANCZOS]) {
      const up = resizePil(board, 16, 16, 1, 37, 23, f);
      expect(Math.min(...up)).toBe(0);
      expect(Math.max(...up)).toBe(255);
    }
    expect(() => resizePil(data, 6, 5, 3, 0, 5)).toThrow(/output width must be a positive integer/);
    expect(() => resizePil(data, 6, 4, 3, 3, 3)).toThrow(/90 values for 6×4×3/);
    expect(() => resizePil(data, 6, 5, 3, 3, 3, 9)).toThrow(/unknown resample filter 9/);
  });

  it('shortest edge like Python transformers (long side truncated), integer centre crop with zero padding', () => {
    expect(shortestEdgeSize(83, 47, 56)).toEqual({ width: 98, height: 56 });
    expect(shortestEdgeSize(47, 83, 56)).toEqual({ width: 56, height: 98 });
    expect(shortestEdgeSize(640, 480, 336)).toEqual({ width: 448, height: 336 });
    expect(shortestEdgeSize(100, 100, 336)).toEqual({ width: 336, height: 336 });
    // 5×1 row cropped to 2: left = ⌊3/2⌋ = 1.
    expect([...centerCropPixels([1, 2, 3, 4, 5], 5, 1, 1, 2, 1)]).toEqual([2, 3]);
    // 2×2 padded to 4×4: offset ⌊-2/2⌋ = -1 each way.
    expect([...centerCropPixels([1, 2, 3, 4], 2, 2, 1, 4, 4)]).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
  });
});
