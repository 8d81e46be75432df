import { describe, expect, it } from 'vitest';
import { bilinearResize } from '../../src/kernels/bilinear-resize';
import { bilinearResizeHWC } from '../../src/models/llava-next/anyres';
import { expectClose } from '../helpers/compare';
import { poisoned, readChecked, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

describe('bilinearResize (torch align_corners=False) vs bilinearResizeHWC', () => {
  // OneVision's downscale shapes (16×16 → 12×12), a non-integer ratio with odd sides, and an upscale.
  const cases: [number, number, number, number, number][] = [
    [16, 16, 12, 12, 64],
    [13, 21, 9, 14, 5],
    [2, 3, 5, 7, 3],
  ];
  for (const [inH, inW, outH, outW, d] of cases) {
    it(`${inH}×${inW} → ${outH}×${outW}, d = ${d}`, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const src = rng.floats(inH * inW * d);
      const out = poisoned(ctx, [outH * outW, d]);
      bilinearResize(ctx, ctx.upload(src, [inH * inW, d], 'f32'), { inH, inW, outH, outW }, { out });
      expectClose(await readChecked(ctx, out), bilinearResizeHWC(src, inH, inW, d, outH, outW), { rtol: 1e-5 }, `seed ${rng.seed}`);
    });
  }

  it('refuses a source that is not inH·inW rows', async () => {
    const ctx = await testGpu();
    expect(() => bilinearResize(ctx, ctx.empty([10, 4], 'f32'), { inH: 3, inW: 3, outH: 2, outW: 2 })).toThrow(/bilinearResize: src must be/);
  });
});
