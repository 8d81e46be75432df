import { describe, expect, it } from 'vitest';
import {
  anyresGatherPlan,
  anyresLayout,
  assembleAnyresFeatures,
  bilinearResizeHWC,
  llavaNextImageTokenCount,
  llavaOnevisionImageTokenCount,
  pyFloorDiv,
  pyRound,
  selectBestResolution,
  unpaddedFeatureShape,
  type Pinpoint,
} from '../../src/models/llava-next/anyres';
import { patchOutputSize, preprocessAnyres, type AnyresImageProcessorConfig } from '../../src/models/llava-next/image-processor';
import { Rng } from '../../src/util/random';

// llava-hf/llava-v1.6-*-hf image_grid_pinpoints (see src/models/llava-next/FACTS.md).
const NEXT_PINPOINTS: Pinpoint[] = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]];
// llava-onevision-qwen2-*-ov-hf: 384·i × 384·j, i, j = 1..6, i outer.
const OV_PINPOINTS: Pinpoint[] = [];
for (let i = 1; i <= 6; i++) for (let j = 1; j <= 6; j++) OV_PINPOINTS.push([384 * i, 384 * j]);

const NEXT_CONFIG: AnyresImageProcessorConfig = {
  image_processor_type: 'LlavaNextImageProcessor',
  do_resize: true, size: { shortest_edge: 336 }, resample: 3,
  do_center_crop: true, crop_size: { height: 336, width: 336 },
  do_rescale: true, rescale_factor: 0.00392156862745098,
  do_normalize: true, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
  do_pad: true, do_convert_rgb: true, image_grid_pinpoints: NEXT_PINPOINTS,
};
const OV_CONFIG: AnyresImageProcessorConfig = {
  image_processor_type: 'LlavaOnevisionImageProcessor',
  do_resize: true, size: { height: 384, width: 384 }, resample: 3,
  do_rescale: true, rescale_factor: 0.00392156862745098,
  do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
  do_pad: true, do_convert_rgb: true, image_grid_pinpoints: OV_PINPOINTS,
};

describe('Python numerics', () => {
  it('pyRound is round-half-even on exact binary ties, like Python round(x, n)', () => {
    expect(pyRound(2.5, 0)).toBe(2);
    expect(pyRound(3.5, 0)).toBe(4);
    expect(pyRound(-2.5, 0)).toBe(-2);
    expect(pyRound(0.125, 2)).toBe(0.12); // exact tie: Python 0.12, toFixed 0.13
    expect(pyRound(0.375, 2)).toBe(0.38);
    expect(pyRound(0.001953125, 7)).toBe(0.0019531); // 1/512, a tie at 7 decimals
    expect(pyRound(0.005859375, 7)).toBe(0.0058594); // 3/512: tie, rounds to the even 4
    expect(pyRound(2.675, 2)).toBe(2.67); // not a tie: 2.675 is 2.67499999… in binary
    expect(pyRound(54.99999999999, 7)).toBe(55);
    expect(pyRound(38.20253164556962, 7)).toBe(38.2025316);
  });

  it('pyFloorDiv matches Python float //', () => {
    expect(pyFloorDiv(7, 2)).toBe(3);
    expect(pyFloorDiv(-7, 2)).toBe(-4);
    expect(pyFloorDiv(1, 0.1)).toBe(9); // Python: 1 // 0.1 == 9.0, while floor(1 / 0.1) == 10
    expect(Math.floor(1 / 0.1)).toBe(10);
    expect(pyFloorDiv(162, 2)).toBe(81);
  });
});

describe('selectBestResolution', () => {
  it('maximises the effective resolution over (height, width) pinpoints', () => {
    expect(selectBestResolution(500, 316, NEXT_PINPOINTS)).toEqual([672, 336]);
    expect(selectBestResolution(316, 500, NEXT_PINPOINTS)).toEqual([336, 672]);
    expect(selectBestResolution(1000, 1000, NEXT_PINPOINTS)).toEqual([672, 672]);
    expect(selectBestResolution(899, 1024, OV_PINPOINTS)).toEqual([1152, 1152]);
  });

  it('breaks ties by least waste, then by order', () => {
    // Both fit the whole 100×100 image: the smaller canvas wastes less.
    expect(selectBestResolution(100, 100, [[400, 400], [200, 200]])).toEqual([200, 200]);
    // Same effective resolution and same waste: the first wins.
    expect(selectBestResolution(100, 100, [[200, 100], [100, 200]])).toEqual([200, 100]);
    expect(selectBestResolution(100, 100, [[100, 200], [200, 100]])).toEqual([100, 200]);
    // A tiny image: every pinpoint keeps all of it, the smallest canvas wins.
    expect(selectBestResolution(30, 40, OV_PINPOINTS)).toEqual([384, 384]);
  });

  it('truncates the downscaled size with int()', () => {
    // 10×3 into [4,2]: scale min(2/3, 0.4) = 0.4 → int(1.2)·int(4) = 4; into [3,1]: scale 1/3 →
    // int(1.0)·int(3.33) = 3. [4,2] wins.
    expect(selectBestResolution(10, 3, [[3, 1], [4, 2]])).toEqual([4, 2]);
    // 3×3 into [2,2]: scale 2/3 → 2·2 = 4; into [5,1]: scale 1/3 → int(1.0)·int(1.0) = 1.
    expect(selectBestResolution(3, 3, [[5, 1], [2, 2]])).toEqual([2, 2]);
  });
});

describe('image token counts (Hugging Face test vectors)', () => {
  it('llava-v1.6-vicuna-7b-hf: H=500 W=316 → 1526', () => {
    expect(llavaNextImageTokenCount({ imageHeight: 500, imageWidth: 316, pinpoints: NEXT_PINPOINTS })).toBe(1526);
    const l = anyresLayout({ family: 'llava_next', imageHeight: 500, imageWidth: 316, pinpoints: NEXT_PINPOINTS, tileSize: 336, patchSize: 14 });
    expect(l.numTiles).toBe(3);
    expect(l.baseTokens).toBe(576);
    expect(l.base.newlineAfter).toBe(false);
    expect(l.grid).toMatchObject({ tileRows: 2, tileCols: 1, rows: 48, cols: 24, unpaddedRows: 38, unpaddedCols: 24, padTop: 5, padLeft: 0 });
    expect(l.newlineTokens).toBe(38);
  });

  it('pinpoints [[672,336]], H=503 W=316: 1526 for LlavaNextProcessor', () => {
    // HF's 1525 for this input comes from the LlavaNextVideoProcessor test, whose fixture has
    // num_additional_image_tokens = 0 and still drops one token for the 'default' strategy;
    // LlavaNextProcessor with the real processor_config (1 added, 1 dropped) and the model
    // (576 base features) give 576 + 38·24 + 38 = 1526.
    expect(llavaNextImageTokenCount({ imageHeight: 503, imageWidth: 316, pinpoints: [[672, 336]] })).toBe(1526);
  });

  it('a 176×55 (W×H) image: 1360 with int(round(x, 7)), 1262 with the old int()', () => {
    expect(llavaNextImageTokenCount({ imageHeight: 55, imageWidth: 176, pinpoints: NEXT_PINPOINTS })).toBe(1360);
    expect(llavaNextImageTokenCount({ imageHeight: 55, imageWidth: 176, pinpoints: NEXT_PINPOINTS, rounding: 'trunc' })).toBe(1262);
    // The float that int() truncates: 55 · (48/176) = 14.999999999999998.
    expect(55 * (48 / 176)).toBeLessThan(15);
    // 15 fitted rows → (24 − 15) // 2 = 4 cut at each end → 16 kept; with 14: 5 cut → 14 kept.
    expect(unpaddedFeatureShape(55, 176, 24, 48)).toEqual({ rows: 16, cols: 48, padTop: 4, padLeft: 0 });
    expect(unpaddedFeatureShape(55, 176, 24, 48, 'trunc')).toEqual({ rows: 14, cols: 48, padTop: 5, padLeft: 0 });
  });

  it('llava-onevision-qwen2-0.5b-ov-hf: H=899 W=1024 → 10 tiles, 6551 tokens', () => {
    expect(llavaOnevisionImageTokenCount({ imageHeight: 899, imageWidth: 1024, pinpoints: OV_PINPOINTS })).toBe(6551);
    const l = anyresLayout({ family: 'llava_onevision', imageHeight: 899, imageWidth: 1024, pinpoints: OV_PINPOINTS, tileSize: 384, patchSize: 14 });
    expect(l.numTiles).toBe(10);
    expect(l.patchesPerSide).toBe(27); // 384 // 14
    expect(l.grid).toMatchObject({ tileRows: 3, tileCols: 3, rows: 81, cols: 81, unpaddedRows: 71, unpaddedCols: 81 });
    expect(l.grid!.downscaledRows).toBeUndefined(); // ratio sqrt(71·81 / (9·729)) ≈ 0.94
    expect(l.totalTokens).toBe(729 + 71 * 81 + 71);
  });

  it('onevision anyres_max_9 downscale and multi-image entries', () => {
    // 2304² → 6×6 tiles, 162×162 grid, ratio sqrt(162² / (9·27²)) = 2 → 81×81.
    const l = anyresLayout({ family: 'llava_onevision', imageHeight: 2304, imageWidth: 2304, pinpoints: OV_PINPOINTS, tileSize: 384, patchSize: 14 });
    expect(l.grid).toMatchObject({ rows: 162, cols: 162, unpaddedRows: 162, unpaddedCols: 162, downscaledRows: 81, downscaledCols: 81, outRows: 81, outCols: 81 });
    expect(l.totalTokens).toBe(729 + 81 * 81 + 81);
    expect(anyresGatherPlan(l)).toBeNull();
    expect(llavaOnevisionImageTokenCount({ imageHeight: 899, imageWidth: 1024, pinpoints: OV_PINPOINTS, multiImage: true })).toBe(730);
  });
});

describe('feature assembly', () => {
  // Tiny layout: tile 8 px, patch 2 → 4×4 patches per tile (16 tokens); one 8×16 pinpoint
  // (1 row × 2 tiles, a 4×8 grid); a 4×16 image fills half the height, so unpadding keeps grid
  // rows 1 and 2.
  const layout = anyresLayout({ family: 'llava_next', imageHeight: 4, imageWidth: 16, pinpoints: [[8, 16]], tileSize: 8, patchSize: 2 });

  it('has the hand-computed layout', () => {
    expect(layout.grid).toMatchObject({ tileRows: 1, tileCols: 2, rows: 4, cols: 8, padTop: 1, unpaddedRows: 2, unpaddedCols: 8 });
    expect(layout.totalTokens).toBe(16 + 16 + 2);
  });

  it('orders base, then each unpadded grid row followed by a newline', () => {
    const base = Float32Array.from({ length: 16 }, (_, i) => 1000 + i);
    const tiles = [0, 1].map((t) => Float32Array.from({ length: 16 }, (_, k) => t * 100 + k));
    const out = assembleAnyresFeatures(layout, base, tiles, Float32Array.of(-1), 1);
    const expected = [
      ...Array.from({ length: 16 }, (_, i) => 1000 + i),
      4, 5, 6, 7, 104, 105, 106, 107, -1, // grid row 1 = patch row 1 of both tiles
      8, 9, 10, 11, 108, 109, 110, 111, -1, // grid row 2
    ];
    expect(Array.from(out)).toEqual(expected);
    const plan = anyresGatherPlan(layout)!;
    expect(Array.from(plan)).toEqual([
      ...Array.from({ length: 16 }, (_, i) => i),
      20, 21, 22, 23, 36, 37, 38, 39, -1,
      24, 25, 26, 27, 40, 41, 42, 43, -1,
    ]);
  });

  it('gather plan reproduces the assembly on random features', () => {
    const rng = new Rng(7);
    const d = 5;
    const l = anyresLayout({ family: 'llava_next', imageHeight: 500, imageWidth: 316, pinpoints: NEXT_PINPOINTS, tileSize: 336, patchSize: 14 });
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
    const base = rand(l.tokensPerTile * d);
    const tiles = Array.from({ length: l.numTiles - 1 }, () => rand(l.tokensPerTile * d));
    const newline = rand(d);
    const out = assembleAnyresFeatures(l, base, tiles, newline, d);
    const all = new Float32Array((1 + tiles.length) * l.tokensPerTile * d);
    all.set(base, 0);
    tiles.forEach((t, i) => all.set(t, (i + 1) * l.tokensPerTile * d));
    const plan = anyresGatherPlan(l)!;
    expect(plan.length).toBe(l.totalTokens);
    const gathered = new Float32Array(plan.length * d);
    plan.forEach((src, row) => gathered.set(src < 0 ? newline : all.subarray(src * d, (src + 1) * d), row * d));
    expect(gathered).toEqual(out);
  });

  it('bilinear resize matches torch align_corners=False', () => {
    // F.interpolate([[1,2],[3,4]], size=(3,3), mode='bilinear'): source coords clamp at 0.
    const up = bilinearResizeHWC(Float32Array.of(1, 2, 3, 4), 2, 2, 1, 3, 3);
    expect(Array.from(up)).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  });

  it('onevision downscale: a 2× shrink averages 2×2 blocks', () => {
    // Tile 8, patch 2 → 4×4 patches; one 16×16 pinpoint → 2×2 tiles, an 8×8 grid; with
    // anyres_max_1 the ratio is sqrt(64/16) = 2 → a 4×4 grid.
    const l = anyresLayout({ family: 'llava_onevision', imageHeight: 16, imageWidth: 16, pinpoints: [[16, 16]], tileSize: 8, patchSize: 2, visionAspectRatio: 'anyres_max_1' });
    expect(l.grid).toMatchObject({ unpaddedRows: 8, unpaddedCols: 8, downscaledRows: 4, downscaledCols: 4 });
    expect(l.totalTokens).toBe(16 + 16 + 4);
    // Grid cell (R, C) holds 10·R + C; tile (tr, tc) token (py, px) is cell (4tr + py, 4tc + px).
    const tiles = [0, 1, 2, 3].map((t) => Float32Array.from({ length: 16 }, (_, k) => 10 * (4 * Math.floor(t / 2) + Math.floor(k / 4)) + 4 * (t % 2) + (k % 4)));
    const out = assembleAnyresFeatures(l, new Float32Array(16), tiles, Float32Array.of(-1), 1);
    const expected: number[] = [];
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) expected.push(10 * (2 * r + 0.5) + 2 * c + 0.5);
      expected.push(-1);
    }
    expect(Array.from(out.subarray(16))).toEqual(expected);
  });
});

function flat(width: number, height: number, rgb: readonly [number, number, number]): Uint8ClampedArray {
  const px = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(rgb, i * 3);
  return px;
}

/** Python's float32 rescale + normalise of one 8-bit value. */
function norm(v: number, mean: number, std: number): number {
  return Math.fround(Math.fround(Math.fround(v * 0.00392156862745098) - Math.fround(mean)) / Math.fround(std));
}

describe('pixel preprocessing', () => {
  it('get_patch_output_size: ceil, then min with the target', () => {
    expect(patchOutputSize(500, 316, 672, 336)).toEqual({ height: 532, width: 336 }); // 531.6 → 532
    expect(patchOutputSize(899, 1024, 1152, 1152)).toEqual({ height: 1012, width: 1152 });
  });

  it('llava_next: base square + 2 tiles, flat colour normalises to a constant, padding is black', () => {
    const colour = [200, 100, 50] as const;
    const { tiles, tileSize, layout } = preprocessAnyres(flat(316, 500, colour), 316, 500, NEXT_CONFIG, 'llava_next');
    expect(tileSize).toEqual({ height: 336, width: 336 });
    expect(tiles.length).toBe(3);
    expect(layout.numTiles).toBe(3);
    expect(layout.totalTokens).toBe(1526);
    const mean = NEXT_CONFIG.image_mean as number[];
    const std = NEXT_CONFIG.image_std as number[];
    const plane = 336 * 336;
    for (let c = 0; c < 3; c++) {
      const v = norm(colour[c], mean[c]!, std[c]!);
      const pad = norm(0, mean[c]!, std[c]!);
      expect(v).toBeCloseTo((colour[c] / 255 - mean[c]!) / std[c]!, 5);
      // Base: the whole image squashed to 336×336, all colour.
      expect(tiles[0]!.subarray(c * plane, (c + 1) * plane).every((x) => x === v)).toBe(true);
      // Tile 1 (top half of the 672×336 canvas): the 532-px fit is padded by 70 rows at the top.
      const t1 = tiles[1]!.subarray(c * plane, (c + 1) * plane);
      expect(t1.subarray(0, 70 * 336).every((x) => x === pad)).toBe(true);
      expect(t1.subarray(70 * 336).every((x) => x === v)).toBe(true);
      // Tile 2: canvas rows 336..671; the image ends at row 602 → local row 266.
      const t2 = tiles[2]!.subarray(c * plane, (c + 1) * plane);
      expect(t2.subarray(0, 266 * 336).every((x) => x === v)).toBe(true);
      expect(t2.subarray(266 * 336).every((x) => x === pad)).toBe(true);
    }
    expect(norm(0, mean[0]!, std[0]!)).toBeCloseTo(-1.7922626, 5);
  });

  it('llava_onevision: 384 tiles, mean/std 0.5 padding is exactly -1', () => {
    const colour = [10, 20, 30] as const;
    const { tiles, tileSize, layout } = preprocessAnyres(flat(40, 30, colour), 40, 30, OV_CONFIG, 'llava_onevision');
    expect(tileSize).toEqual({ height: 384, width: 384 });
    expect(tiles.length).toBe(2); // base + the single 384×384 canvas
    // 27×27 grid, newH = int(round(30 · 27/40, 7)) = 20, padding 3 → 21 rows.
    expect(layout.grid).toMatchObject({ unpaddedRows: 21, unpaddedCols: 27 });
    expect(layout.totalTokens).toBe(729 + 21 * 27 + 21);
    const plane = 384 * 384;
    // Fit 40×30 into 384×384: 384 × 288, padded 48 rows above and below.
    for (let c = 0; c < 3; c++) {
      const t = tiles[1]!.subarray(c * plane, (c + 1) * plane);
      expect(t.subarray(0, 48 * 384).every((x) => x === -1)).toBe(true);
      expect(t.subarray(48 * 384, 336 * 384).every((x) => x === norm(colour[c], 0.5, 0.5))).toBe(true);
      expect(t.subarray(336 * 384).every((x) => x === -1)).toBe(true);
    }
  });

  it('llava_onevision 1024×899 gives the 10 tiles of the HF test', () => {
    const rng = new Rng(3);
    const px = Uint8ClampedArray.from({ length: 1024 * 899 * 3 }, () => Math.floor(rng.next() * 256));
    const { tiles, layout } = preprocessAnyres(px, 1024, 899, OV_CONFIG, 'llava_onevision');
    expect(tiles.length).toBe(10);
    expect(tiles.every((t) => t.length === 3 * 384 * 384)).toBe(true);
    expect(layout.totalTokens).toBe(6551);
    // Fit 1152 × 1012 into the 1152² canvas: 70 padding rows on top (first tile row).
    expect(tiles[1]!.subarray(0, 70 * 384).every((x) => x === -1)).toBe(true);
  });

  it('onevision multi-image: one square tile padded with int(mean·255), 730 tokens', () => {
    const { tiles, layout } = preprocessAnyres(flat(40, 30, [250, 250, 250]), 40, 30, OV_CONFIG, 'llava_onevision', { multiImage: true });
    expect(tiles.length).toBe(1);
    expect(layout.totalTokens).toBe(730);
    expect(anyresGatherPlan(layout)!.at(-1)).toBe(-1);
    // The top-left corner is deep inside the 5-row band of fill colour 127, scaled ×9.6.
    expect(tiles[0]![0]).toBe(norm(127, 0.5, 0.5));
    expect(tiles[0]![192 * 384 + 192]).toBe(norm(250, 0.5, 0.5));
  });
});
