import { describe, expect, it } from 'vitest';
import { idefics3Grid, idefics3ResizeSize, idefics3VisionEncoderSize, preprocessIdefics3, type Idefics3PreprocessorConfig } from '../../src/models/idefics3/image-processor';
import { expandIdefics3Image, imageSeqLen } from '../../src/models/idefics3/prompt';
import { idefics3ConnectorRef, idefics3PositionIds, pixelShuffle, pixelShuffleRowPlan } from '../../src/models/idefics3/connector-ref';
import { Rng } from '../../src/util/random';

/** Idefics3ImageProcessor's defaults (Idefics3-8B geometry), used by the HF and transformers.js tests. */
const HF_DEFAULT: Idefics3PreprocessorConfig = {
  do_resize: true,
  size: { longest_edge: 4 * 364 },
  max_image_size: { longest_edge: 364 },
  do_image_splitting: true,
  resample: 1,
};

/** HuggingFaceTB/SmolVLM-256M-Instruct (and -500M-Instruct) preprocessor_config.json. */
const SMOLVLM: Idefics3PreprocessorConfig = {
  do_image_splitting: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
  max_image_size: { longest_edge: 512 },
  resample: 1,
  rescale_factor: 0.00392156862745098,
  size: { longest_edge: 2048 },
};

function flat(width: number, height: number, px: readonly [number, number, number]): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(px, i * 3);
  return data;
}

describe('idefics3 image processor (Python Idefics3ImageProcessor)', () => {
  it('gives the tile grids of the HF / transformers.js / Python test vectors', () => {
    // W×H. HF test: 1600×1067 → 1456×970 → 1456×1092 → 3×4 (+ global = 13 frames).
    expect(idefics3ResizeSize(1600, 1067, 1456)).toEqual({ width: 1456, height: 970 });
    expect(idefics3VisionEncoderSize(1456, 970, 364)).toEqual({ width: 1456, height: 1092 });
    expect(idefics3Grid(1600, 1067, HF_DEFAULT)).toEqual({ rows: 3, cols: 4, tileSize: 364 });
    expect(idefics3Grid(1280, 640, HF_DEFAULT)).toEqual({ rows: 2, cols: 4, tileSize: 364 });
    // transformers.js tiny-random test: a small image is rescaled *up* to the longest edge.
    expect(idefics3Grid(224, 224, HF_DEFAULT)).toEqual({ rows: 4, cols: 4, tileSize: 364 });
    // SmolVLM at 1158×1543: 2048·1158/1543 = 1536.99 → int 1536 → 3 columns (JS rounds to 1537 → 4).
    expect(idefics3ResizeSize(1158, 1543, 2048)).toEqual({ width: 1536, height: 2048 });
    expect(idefics3Grid(1158, 1543, SMOLVLM)).toEqual({ rows: 4, cols: 3, tileSize: 512 });
    // Idefics3-8B at 365×274 → 13 frames in Python (the doc's JS counterexample gives 17).
    const g = idefics3Grid(365, 274, HF_DEFAULT);
    expect(g.rows * g.cols + 1).toBe(13);
    // Extreme aspect: the short side never reaches 0 (1470×1 → 1456×1 → 1456×364).
    expect(idefics3ResizeSize(1470, 1, 1456)).toEqual({ width: 1456, height: 1 });
    expect(idefics3Grid(1470, 1, HF_DEFAULT)).toEqual({ rows: 1, cols: 4, tileSize: 364 });
    // Odd short side is bumped to even; longest edge capped at 4096.
    expect(idefics3ResizeSize(1000, 333, 1000)).toEqual({ width: 1000, height: 334 });
    expect(idefics3ResizeSize(1000, 500, 5000)).toEqual({ width: 4096, height: 2048 });
    // Fits one tile → unsplit (0×0); splitting off → 0×0 too.
    expect(idefics3Grid(300, 200, { ...SMOLVLM, size: { longest_edge: 512 } })).toEqual({ rows: 0, cols: 0, tileSize: 512 });
    expect(idefics3Grid(1600, 1067, { ...SMOLVLM, do_image_splitting: false })).toEqual({ rows: 0, cols: 0, tileSize: 512 });
  });

  it('produces rows×cols tiles plus the global image, CHW, for real pixels', () => {
    const rng = new Rng(7);
    const w = 1280;
    const h = 640;
    const rgb = new Uint8ClampedArray(w * h * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = Math.floor(rng.next() * 256);
    const out = preprocessIdefics3(rgb, w, h, HF_DEFAULT);
    expect([out.rows, out.cols, out.tileSize, out.tiles.length]).toEqual([2, 4, 364, 9]);
    for (const t of out.tiles) {
      expect(t.length).toBe(3 * 364 * 364);
      for (const v of t) if (!(v >= -1 && v <= 1)) expect.fail(`value ${v} outside [-1, 1]`);
    }
    // Unsplit: one square frame.
    const un = preprocessIdefics3(rgb, w, h, { ...HF_DEFAULT, do_image_splitting: false });
    expect([un.rows, un.cols, un.tiles.length, un.tiles[0]!.length]).toEqual([0, 0, 1, 3 * 364 * 364]);
  });

  it('keeps tiles as exact crops: a left/right split image gives uniform tiles of each colour', () => {
    // 1024×512 at SmolVLM: longest edge 1024 → 2048×1024 (same aspect) → 2×4 tiles of 512.
    // Left half black, right half white: LANCZOS rings only near the edge, which falls between
    // tile columns 1 and 2, so tile (0,0) stays exactly black and tile (0,3) exactly white.
    const w = 1024;
    const h = 512;
    const rgb = new Uint8ClampedArray(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = w / 2; x < w; x++) rgb.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = preprocessIdefics3(rgb, w, h, SMOLVLM);
    expect([out.rows, out.cols, out.tiles.length]).toEqual([2, 4, 9]);
    expect(out.tiles[0]!.every((v) => v === -1)).toBe(true);
    expect(out.tiles[3]!.every((v) => v === 1)).toBe(true);
    expect(out.tiles[7]!.every((v) => v === 1)).toBe(true);
  });

  it('normalises a flat colour to the numpy float32 constant in every frame', () => {
    const out = preprocessIdefics3(flat(700, 300, [0, 128, 255]), 700, 300, SMOLVLM);
    // 700×300 → 2048×878 → 2048×1024 → 2×4 tiles + global.
    expect([out.rows, out.cols, out.tiles.length]).toEqual([2, 4, 9]);
    // rescale: float64 128·(1/255) cast to float32; normalise in float32: (x − 0.5) / 0.5.
    const mid = Math.fround(Math.fround(Math.fround(128 * 0.00392156862745098) - 0.5) / 0.5);
    // numpy: ((np.uint8 128).astype(float64) · 0.00392156862745098).astype(float32), then (x − 0.5f) / 0.5f.
    expect(mid).toBe(0.003921627998352051);
    const n = 512 * 512;
    for (const t of out.tiles) {
      for (let i = 0; i < n; i++) {
        if (t[i] !== -1 || t[n + i] !== mid || t[2 * n + i] !== 1) expect.fail(`pixel ${i}: ${t[i]}, ${t[n + i]}, ${t[2 * n + i]}`);
      }
    }
  });

  it('rejects malformed input', () => {
    expect(() => preprocessIdefics3(new Uint8ClampedArray(5), 2, 1, SMOLVLM)).toThrow();
    expect(() => preprocessIdefics3(new Uint8ClampedArray(0), 0, 0, SMOLVLM)).toThrow();
  });
});

describe('idefics3 prompt expansion (Python processing_idefics3)', () => {
  it('image_seq_len = (image_size/patch_size)² / scale_factor²', () => {
    expect(imageSeqLen({ scale_factor: 4, vision_config: { image_size: 512, patch_size: 16 } })).toBe(64); // SmolVLM-256M/500M
    expect(imageSeqLen({ scale_factor: 2, vision_config: { image_size: 364, patch_size: 14 } })).toBe(169); // Idefics3-8B
    expect(imageSeqLen({ scale_factor: 3, vision_config: { image_size: 384, patch_size: 14 } })).toBe(81); // SmolVLM (2B)
  });

  it('expands a 2×2 split image exactly', () => {
    const F = '<fake_token_around_image>';
    const I = '<image>';
    const expected =
      `${F}<row_1_col_1>${I}${I}${F}<row_1_col_2>${I}${I}\n` +
      `${F}<row_2_col_1>${I}${I}${F}<row_2_col_2>${I}${I}\n` +
      `\n${F}<global-img>${I}${I}${F}`;
    expect(expandIdefics3Image(2, 2, 2)).toBe(expected);
  });

  it('expands an unsplit image to the global part only, and counts tokens like Python', () => {
    expect(expandIdefics3Image(0, 0, 3)).toBe('<fake_token_around_image><global-img><image><image><image><fake_token_around_image>');
    const s = expandIdefics3Image(4, 3, 64);
    expect(s.split('<image>').length - 1).toBe(13 * 64);
    expect(s.split('<fake_token_around_image>').length - 1).toBe(12 + 2);
    expect(s.includes('<row_4_col_3>') && !s.includes('<row_0_') && !s.includes('<row_4_col_4>')).toBe(true);
    expect(() => expandIdefics3Image(2, 0, 64)).toThrow();
  });
});

describe('idefics3 connector reference', () => {
  it('pixel_shuffle matches numpy reshape/transpose on hand vectors', () => {
    // numpy: x.reshape(h, w/s, d·s).transpose(1,0,2).reshape(w/s, h/s, d·s²).transpose(1,0,2).reshape(seq/s², d·s²)
    const a = pixelShuffle(Float32Array.from({ length: 32 }, (_, i) => i), 16, 2, 2);
    expect([...a]).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19, 24, 25, 26, 27, 20, 21, 22, 23, 28, 29, 30, 31]);
    const b = pixelShuffle(Float32Array.from({ length: 36 }, (_, i) => i), 36, 1, 3);
    expect([...b]).toEqual([0, 1, 2, 6, 7, 8, 12, 13, 14, 3, 4, 5, 9, 10, 11, 15, 16, 17, 18, 19, 20, 24, 25, 26, 30, 31, 32, 21, 22, 23, 27, 28, 29, 33, 34, 35]);
  });

  it('the row plan is a permutation and gathering input rows with it equals pixel_shuffle', () => {
    const rng = new Rng(3);
    for (const [seq, d, s] of [[36, 5, 3], [36, 7, 2], [16, 3, 4], [1024, 7, 4], [81, 1, 3], [729, 9, 3], [4, 5, 1]] as const) {
      const x = Float32Array.from({ length: seq * d }, () => rng.next() * 2 - 1);
      const direct = pixelShuffle(x, seq, d, s);
      const plan = pixelShuffleRowPlan(seq, d, s);
      expect(new Set(plan).size).toBe(seq);
      const gathered = new Float32Array(seq * d);
      for (let i = 0; i < seq; i++) gathered.set(x.subarray(plan[i]! * d, plan[i]! * d + d), i * d);
      expect(gathered).toEqual(direct);
    }
    expect(() => pixelShuffleRowPlan(35, 2, 1)).toThrow();
    expect(() => pixelShuffleRowPlan(36, 2, 4)).toThrow();
  });

  it('connector = pixel_shuffle then a bias-free linear', () => {
    const rng = new Rng(5);
    const seq = 16;
    const d = 3;
    const s = 2;
    const out = 5;
    const x = Float32Array.from({ length: seq * d }, () => rng.next() - 0.5);
    const w = Float32Array.from({ length: out * d * s * s }, () => rng.next() - 0.5);
    const y = idefics3ConnectorRef(x, seq, d, s, w, out);
    const sh = pixelShuffle(x, seq, d, s);
    expect(y.length).toBe((seq / 4) * out);
    for (let r = 0; r < seq / 4; r++) {
      for (let o = 0; o < out; o++) {
        let acc = 0;
        for (let k = 0; k < 12; k++) acc += sh[r * 12 + k]! * w[o * 12 + k]!;
        expect(y[r * out + o]).toBeCloseTo(acc, 6);
      }
    }
    // A zero input gives exactly zero: there is no bias.
    expect(idefics3ConnectorRef(new Float32Array(seq * d), seq, d, s, w, out).every((v) => v === 0)).toBe(true);
  });

  it('vision position ids: a full patch mask gives arange with the trained formula', () => {
    for (const n of [32, 26, 27, 24, 16, 7, 1]) {
      const ids = idefics3PositionIds(n, n, n);
      expect(ids).toEqual(Uint32Array.from({ length: n * n }, (_, i) => i));
    }
    // transformers ≥ 4.55 in float32 shifts ids down (issue #41190 / PR #47133: max id 990 for 32×32).
    const shifted = idefics3PositionIds(32, 32, 32, 'scaled-float32');
    expect(Math.max(...shifted)).toBe(990);
    // A partial mask (padded frame) buckets the real patches onto the full grid.
    expect([...idefics3PositionIds(2, 2, 4)]).toEqual([0, 2, 8, 10]);
  });
});
