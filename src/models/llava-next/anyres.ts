/**
 * "anyres" tiling and image-token layout of LLaVA-NeXT (`llava_next`) and LLaVA-OneVision
 * (`llava_onevision`), in plain CPU arithmetic, reproducing Python transformers exactly.
 *
 * Why every rounding step is spelled out: the number of `<image>` placeholders the processor
 * writes into the prompt must equal the number of feature rows the model packs, and both come
 * from float arithmetic with Python semantics (`int()` truncation, `round(x, 7)` with
 * round-half-even, float floor division `//`). A one-off in any of them shifts every text token
 * after the image, and the model then answers about a scrambled prompt.
 *
 * Feature packing (modeling_llava_next.py / modeling_llava_onevision.py `pack_image_features`):
 *  1. the vision tower encodes the base image and each tile; each gives p×p patch features
 *     (p = image_size / patch_size; the CLS token of CLIP is dropped by the `default` strategy,
 *     SigLIP has none);
 *  2. the tile features are laid out as one (rows·p)×(cols·p) grid, tile (r, c) covering grid
 *     rows r·p… and columns c·p…;
 *  3. `unpad_image` cuts the rows (or columns) that only saw the padding of the resize-to-fit;
 *  4. OneVision only: if the unpadded grid is larger than about N tiles (`anyres_max_N`) it is
 *     bilinearly downscaled (align_corners=False);
 *  5. one `image_newline` vector is appended after every grid row;
 *  6. the base image's p² features come first, with no newline after them.
 * A OneVision image in a multi-image prompt is a single padded-to-square tile: p² features and
 * one newline after them (the `else` branch of pack_image_features).
 */

/** A pinpoint (one allowed tiling resolution) as Python stores it: [height, width]. */
export type Pinpoint = readonly [height: number, width: number];

export type AnyresFamily = 'llava_next' | 'llava_onevision';

/**
 * Python's `round(x, ndigits)` on a float: the exact binary value of x rounded to ndigits
 * decimals, ties to even (banker's rounding), read back as the nearest double.
 *
 * JavaScript's toFixed also rounds the exact binary value, so it agrees everywhere except on
 * exact ties, where it rounds away from zero. An exact tie at n decimals needs x·10ⁿ = m + ½
 * exactly, which for a double happens iff x·2ⁿ⁺¹ is an odd integer (x = j / 2ⁿ⁺¹, j odd; for
 * n = 7: multiples of 1/256 with an odd numerator). Only those values are redone with
 * half-to-even in BigInt. The caveat that matters: round(2.5) is 2 in Python, 3 in JS's
 * Math.round; e.g. pyRound(0.001953125, 7) = 0.0019531 (Python) where toFixed gives 0.0019532.
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isInteger(ndigits) || ndigits < 0 || ndigits > 20) throw new RangeError(`pyRound: ndigits must be an integer in 0..20, got ${ndigits}`);
  if (!Number.isFinite(x)) return x;
  // Every double of magnitude ≥ 2^53 is an integer, so it has no decimals to round; toFixed
  // would switch to exponent notation past 1e21 anyway.
  if (Math.abs(x) >= 2 ** 53) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const scaled = a * 2 ** (ndigits + 1); // exact: a power-of-two scaling of a small double
  if (Number.isInteger(scaled) && scaled % 2 === 1) {
    // Exact tie: a·10ⁿ = (scaled·5ⁿ)/2 with scaled·5ⁿ odd; the candidates are (v∓1)/2.
    const v = BigInt(scaled) * 5n ** BigInt(ndigits);
    let m = (v - 1n) / 2n;
    if (m % 2n !== 0n) m += 1n;
    const digits = m.toString().padStart(ndigits + 1, '0');
    const text = ndigits === 0 ? digits : `${digits.slice(0, digits.length - ndigits)}.${digits.slice(digits.length - ndigits)}`;
    return sign * Number(text);
  }
  return sign * Number(a.toFixed(ndigits));
}

/**
 * Python's float floor division `a // b` (CPython float_floor_div): floor of the quotient,
 * computed from fmod so that it is exact where `Math.floor(a / b)` can be off by one when the
 * rounded quotient lands on an integer. OneVision uses it for the downscaled grid size.
 */
export function pyFloorDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('pyFloorDiv: division by zero');
  let mod = a % b; // JS % on doubles is C fmod, exact
  let div = (a - mod) / b;
  if (mod !== 0 && b < 0 !== mod < 0) {
    mod += b;
    div -= 1;
  }
  if (div === 0) return Math.sign(a / b) * 0;
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

function checkSize(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

/**
 * image_processing_utils.select_best_resolution: the pinpoint that keeps the most of the
 * original pixels after an aspect-preserving fit (downscaled sides truncated with int()), ties
 * broken by the least wasted area, first pinpoint winning an exact tie. Pinpoints are
 * (height, width). Returns [height, width].
 */
export function selectBestResolution(origH: number, origW: number, pinpoints: readonly Pinpoint[]): [height: number, width: number] {
  checkSize('image height', origH);
  checkSize('image width', origW);
  let best: Pinpoint | null = null;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const [h, w] of pinpoints) {
    const scale = Math.min(w / origW, h / origH);
    const downW = Math.trunc(origW * scale);
    const downH = Math.trunc(origH * scale);
    const effective = Math.min(downW * downH, origW * origH);
    const wasted = w * h - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [h, w];
    }
  }
  if (!best) throw new RangeError('selectBestResolution: no pinpoints');
  return [best[0], best[1]];
}

/**
 * modeling get_anyres_image_grid_shape: the tile grid (rows × cols) that the best resolution
 * is cut into, tileSize being the vision tower's image_size (= the processor's crop/patch size).
 */
export function anyresGridShape(
  origH: number,
  origW: number,
  pinpoints: readonly Pinpoint[],
  tileSize: number,
): { rows: number; cols: number; bestResolution: { height: number; width: number } } {
  checkSize('tile size', tileSize);
  const [height, width] = selectBestResolution(origH, origW, pinpoints);
  return { rows: Math.floor(height / tileSize), cols: Math.floor(width / tileSize), bestResolution: { height, width } };
}

/**
 * How the unpadded size is rounded. 'round7' is current transformers (`int(round(v, 7))`, which
 * absorbs float error like 54.99999999 → 55); 'trunc' is the older `int(v)`, kept only so tests
 * can show the difference (a 176×55 llava-v1.6 image: 1360 tokens now, 1262 before).
 */
export type UnpadRounding = 'round7' | 'trunc';

export interface UnpaddedShape {
  /** Rows and columns of the feature grid that survive unpadding. */
  rows: number;
  cols: number;
  /** Grid rows cut at the top (and bottom) / columns cut at the left (and right). */
  padTop: number;
  padLeft: number;
}

/**
 * unpad_image arithmetic on a feature grid of gridH × gridW patches (patches-per-side × tiles
 * in each direction): whichever side the resize-to-fit padded loses ⌊(grid − fitted)/2⌋ rows or
 * columns at each end, the fitted size being `int(round(orig · grid/orig_other, 7))`.
 */
export function unpaddedFeatureShape(origH: number, origW: number, gridH: number, gridW: number, rounding: UnpadRounding = 'round7'): UnpaddedShape {
  checkSize('image height', origH);
  checkSize('image width', origW);
  checkSize('grid height', gridH);
  checkSize('grid width', gridW);
  const fit = (v: number): number => Math.trunc(rounding === 'round7' ? pyRound(v, 7) : v);
  if (origW / origH > gridW / gridH) {
    const newH = fit(origH * (gridW / origW));
    const pad = Math.floor((gridH - newH) / 2);
    return { rows: gridH - 2 * pad, cols: gridW, padTop: pad, padLeft: 0 };
  }
  const newW = fit(origW * (gridH / origH));
  const pad = Math.floor((gridW - newW) / 2);
  return { rows: gridH, cols: gridW - 2 * pad, padTop: 0, padLeft: pad };
}

/** N of OneVision's `vision_aspect_ratio` "anyres_max_N" (Python: int(s.strip("anyres_max_"))). */
export function parseAnyresMax(visionAspectRatio: string): number {
  const m = /^anyres_max_(\d+)$/.exec(visionAspectRatio);
  if (!m) throw new RangeError(`unsupported vision_aspect_ratio ${JSON.stringify(visionAspectRatio)} (expected "anyres_max_N")`);
  return Number(m[1]);
}

/**
 * OneVision's anyres_max_N downscale of an unpadded rows × cols grid (p patches per tile side):
 * ratio = sqrt(rows·cols / (N·p²)); above 1.1 the grid becomes int(rows // ratio) ×
 * int(cols // ratio) (Python float floor division, as both the processor and the model write
 * it), else it is kept (null).
 */
export function onevisionDownscale(rows: number, cols: number, patchesPerSide: number, maxTiles: number): { rows: number; cols: number; ratio: number } | null {
  const ratio = Math.sqrt((rows * cols) / (maxTiles * patchesPerSide * patchesPerSide));
  if (!(ratio > 1.1)) return null;
  return { rows: Math.trunc(pyFloorDiv(rows, ratio)), cols: Math.trunc(pyFloorDiv(cols, ratio)), ratio };
}

/** The token layout of one image, as data a GPU composer can follow. */
export interface AnyresLayout {
  family: AnyresFamily;
  /** Original image size, as the processor's image_sizes. */
  image: { height: number; width: number };
  /** Patches per tile side (image_size // patch_size): 24 for CLIP-336/14, 27 for SigLIP-384/14. */
  patchesPerSide: number;
  /** Feature rows per encoded tile (patchesPerSide²; the CLS token is already dropped). */
  tokensPerTile: number;
  /** Tiles the vision tower encodes for this image, base included. */
  numTiles: number;
  /**
   * The base (whole-image) tile, first in the output. `newlineAfter` is true only for a
   * OneVision multi-image entry, whose single tile is followed by one newline.
   */
  base: { tokens: number; newlineAfter: boolean };
  /**
   * The high-resolution grid, or null when the image is a single tile (OneVision multi-image).
   * rows/cols are in patches over the whole padded best resolution; the unpadded window starts
   * at (padTop, padLeft); downscaled* are set when OneVision shrinks that window.
   */
  grid: {
    tileRows: number;
    tileCols: number;
    bestResolution: { height: number; width: number };
    rows: number;
    cols: number;
    padTop: number;
    padLeft: number;
    unpaddedRows: number;
    unpaddedCols: number;
    downscaledRows?: number;
    downscaledCols?: number;
    /** Rows and columns actually emitted (downscaled if set, else unpadded). */
    outRows: number;
    outCols: number;
  } | null;
  /** One image_newline after each emitted grid row (and after the single tile, see base). */
  newline: 'per-row';
  /** Feature rows contributed by the base, the grid and the newlines, and their sum. */
  baseTokens: number;
  gridTokens: number;
  newlineTokens: number;
  totalTokens: number;
}

export interface AnyresLayoutParams {
  family: AnyresFamily;
  imageHeight: number;
  imageWidth: number;
  pinpoints: readonly Pinpoint[];
  /** The vision tower's image_size, which is also the tile (crop) size: 336 or 384. */
  tileSize: number;
  /** The vision tower's patch_size (14 for all three reference checkpoints). */
  patchSize: number;
  /** OneVision's vision_aspect_ratio; default "anyres_max_9" (the Python default). */
  visionAspectRatio?: string;
  /** OneVision: the image is one of several in its prompt (single padded tile, no grid). */
  multiImage?: boolean;
  rounding?: UnpadRounding;
}

/** The full layout of one image; totalTokens is what the processor expands `<image>` into. */
export function anyresLayout(params: AnyresLayoutParams): AnyresLayout {
  const { family, imageHeight, imageWidth, pinpoints, tileSize, patchSize } = params;
  checkSize('tile size', tileSize);
  checkSize('patch size', patchSize);
  if (params.multiImage && family !== 'llava_onevision') throw new RangeError('multiImage applies to llava_onevision only (llava_next tiles every image)');
  // Floor, as the patch-embedding convolution (stride = patch size) and Python's
  // image_size // patch_size: SigLIP-384/14 gives 27 patches and ignores the last 6 pixels.
  const p = Math.floor(tileSize / patchSize);
  const tokensPerTile = p * p;
  const image = { height: imageHeight, width: imageWidth };
  checkSize('image height', imageHeight);
  checkSize('image width', imageWidth);

  if (params.multiImage) {
    return {
      family, image, patchesPerSide: p, tokensPerTile, numTiles: 1,
      base: { tokens: tokensPerTile, newlineAfter: true }, grid: null, newline: 'per-row',
      baseTokens: tokensPerTile, gridTokens: 0, newlineTokens: 1, totalTokens: tokensPerTile + 1,
    };
  }

  const shape = anyresGridShape(imageHeight, imageWidth, pinpoints, tileSize);
  const rows = shape.rows * p;
  const cols = shape.cols * p;
  const unpadded = unpaddedFeatureShape(imageHeight, imageWidth, rows, cols, params.rounding ?? 'round7');
  let outRows = unpadded.rows;
  let outCols = unpadded.cols;
  let down: { rows: number; cols: number } | null = null;
  if (family === 'llava_onevision') {
    down = onevisionDownscale(unpadded.rows, unpadded.cols, p, parseAnyresMax(params.visionAspectRatio ?? 'anyres_max_9'));
    if (down) {
      outRows = down.rows;
      outCols = down.cols;
    }
  }
  // The processor cuts the padded best resolution into ceil(H/tile)·ceil(W/tile) tiles
  // (divide_to_patches), the model then views them as rows × cols (floor): only equal when
  // every pinpoint is a multiple of the tile size, which all real checkpoints satisfy.
  const [bestH, bestW] = [shape.bestResolution.height, shape.bestResolution.width];
  if (bestH % tileSize !== 0 || bestW % tileSize !== 0) {
    throw new RangeError(`pinpoint ${bestH}×${bestW} is not a multiple of the tile size ${tileSize}`);
  }
  const gridTokens = outRows * outCols;
  return {
    family, image, patchesPerSide: p, tokensPerTile,
    numTiles: 1 + shape.rows * shape.cols,
    base: { tokens: tokensPerTile, newlineAfter: false },
    grid: {
      tileRows: shape.rows, tileCols: shape.cols, bestResolution: shape.bestResolution,
      rows, cols, padTop: unpadded.padTop, padLeft: unpadded.padLeft,
      unpaddedRows: unpadded.rows, unpaddedCols: unpadded.cols,
      ...(down ? { downscaledRows: down.rows, downscaledCols: down.cols } : {}),
      outRows, outCols,
    },
    newline: 'per-row',
    baseTokens: tokensPerTile, gridTokens, newlineTokens: outRows,
    totalTokens: tokensPerTile + gridTokens + outRows,
  };
}

/** Parameters of llavaNextImageTokenCount; defaults are llava-v1.6's CLIP-336/14. */
export interface LlavaNextCountParams {
  imageHeight: number;
  imageWidth: number;
  pinpoints: readonly Pinpoint[];
  tileSize?: number;
  patchSize?: number;
  rounding?: UnpadRounding;
}

/**
 * LlavaNextProcessor._get_number_of_features for the `default` strategy: (tile/patch)² base
 * features (CLS dropped: num_additional_image_tokens is added and subtracted again), the
 * unpadded grid, and one newline per grid row. The base gets no newline.
 */
export function llavaNextImageTokenCount(p: LlavaNextCountParams): number {
  return anyresLayout({
    family: 'llava_next', imageHeight: p.imageHeight, imageWidth: p.imageWidth, pinpoints: p.pinpoints,
    tileSize: p.tileSize ?? 336, patchSize: p.patchSize ?? 14, rounding: p.rounding,
  }).totalTokens;
}

/** Parameters of llavaOnevisionImageTokenCount; defaults are the 0.5b/7b-ov SigLIP-384/14. */
export interface LlavaOnevisionCountParams {
  imageHeight: number;
  imageWidth: number;
  pinpoints: readonly Pinpoint[];
  tileSize?: number;
  patchSize?: number;
  visionAspectRatio?: string;
  multiImage?: boolean;
}

/**
 * LlavaOnevisionProcessor._get_number_of_features (strategy `full`, SigLIP has no CLS): 729 base
 * features, the unpadded (and maybe downscaled) grid, one newline per emitted row; an image in
 * a multi-image prompt is num_image_tokens + 1 = 730.
 */
export function llavaOnevisionImageTokenCount(p: LlavaOnevisionCountParams): number {
  return anyresLayout({
    family: 'llava_onevision', imageHeight: p.imageHeight, imageWidth: p.imageWidth, pinpoints: p.pinpoints,
    tileSize: p.tileSize ?? 384, patchSize: p.patchSize ?? 14, visionAspectRatio: p.visionAspectRatio, multiImage: p.multiImage,
  }).totalTokens;
}

/**
 * For each output feature row: the index of the row to copy from the concatenation
 * [base; tile0; tile1; …] (each tokensPerTile rows, tiles in processor order: row-major over
 * the tile grid), or -1 for an image_newline row. Null when OneVision downscales, since then
 * rows are interpolated, not copied (use assembleAnyresFeatures as the reference).
 */
export function anyresGatherPlan(layout: AnyresLayout): Int32Array | null {
  const t = layout.tokensPerTile;
  const plan = new Int32Array(layout.totalTokens);
  let o = 0;
  for (let i = 0; i < layout.base.tokens; i++) plan[o++] = i;
  if (layout.base.newlineAfter) plan[o++] = -1;
  const g = layout.grid;
  if (g) {
    if (g.downscaledRows !== undefined) return null;
    for (let r = 0; r < g.outRows; r++) {
      for (let c = 0; c < g.outCols; c++) plan[o++] = t + gridFeatureRow(layout, g.padTop + r, g.padLeft + c);
      plan[o++] = -1;
    }
  }
  if (o !== layout.totalTokens) throw new Error(`anyresGatherPlan: produced ${o} rows for ${layout.totalTokens}`);
  return plan;
}

/**
 * Row, within the concatenated tile features (base excluded), of grid cell (R, C) of the full
 * padded grid: the model views the tiles as (tileRows, tileCols, p, p) and permutes to
 * (tileRows·p, tileCols·p), so cell (R, C) is token (R mod p)·p + (C mod p) of tile
 * ⌊R/p⌋·tileCols + ⌊C/p⌋.
 */
function gridFeatureRow(layout: AnyresLayout, R: number, C: number): number {
  const p = layout.patchesPerSide;
  const tile = Math.floor(R / p) * layout.grid!.tileCols + Math.floor(C / p);
  return tile * layout.tokensPerTile + (R % p) * p + (C % p);
}

/**
 * torch.nn.functional.interpolate(mode='bilinear', align_corners=False) with an explicit output
 * size, on an HWC grid of d-vectors: source coordinate (dst + ½)·in/out − ½, clamped at 0; the
 * upper neighbour clamped to the last row/column. Computed in float64.
 */
export function bilinearResizeHWC(src: Float32Array, inH: number, inW: number, d: number, outH: number, outW: number): Float32Array {
  if (src.length !== inH * inW * d) throw new RangeError(`bilinearResizeHWC: ${src.length} values for ${inH}×${inW}×${d}`);
  const out = new Float32Array(outH * outW * d);
  const axis = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const l1 = new Float64Array(outSize);
    for (let j = 0; j < outSize; j++) {
      const s = Math.max(0, scale * (j + 0.5) - 0.5);
      const lo = Math.floor(s);
      i0[j] = lo;
      i1[j] = lo + (lo < inSize - 1 ? 1 : 0);
      l1[j] = s - lo;
    }
    return { i0, i1, l1 };
  };
  const ay = axis(inH, outH);
  const ax = axis(inW, outW);
  for (let y = 0; y < outH; y++) {
    const ly1 = ay.l1[y]!;
    const ly0 = 1 - ly1;
    const r0 = ay.i0[y]! * inW;
    const r1 = ay.i1[y]! * inW;
    for (let x = 0; x < outW; x++) {
      const lx1 = ax.l1[x]!;
      const lx0 = 1 - lx1;
      const c0 = ax.i0[x]!;
      const c1 = ax.i1[x]!;
      const o = (y * outW + x) * d;
      const a = (r0 + c0) * d, b = (r0 + c1) * d, c = (r1 + c0) * d, e = (r1 + c1) * d;
      for (let k = 0; k < d; k++) {
        out[o + k] = ly0 * (lx0 * src[a + k]! + lx1 * src[b + k]!) + ly1 * (lx0 * src[c + k]! + lx1 * src[e + k]!);
      }
    }
  }
  return out;
}

/**
 * CPU reference of pack_image_features for one image: base [tokensPerTile, d], tiles (processor
 * order) [tokensPerTile, d] each, newline [d] → [totalTokens, d] in the model's token order.
 */
export function assembleAnyresFeatures(layout: AnyresLayout, base: Float32Array, tiles: readonly Float32Array[], newline: Float32Array, d: number): Float32Array {
  const t = layout.tokensPerTile;
  if (base.length !== t * d) throw new RangeError(`base has ${base.length} values, expected ${t}×${d}`);
  if (newline.length !== d) throw new RangeError(`newline has ${newline.length} values, expected ${d}`);
  if (tiles.length !== layout.numTiles - 1) throw new RangeError(`${tiles.length} tiles, layout has ${layout.numTiles - 1}`);
  for (const [i, tile] of tiles.entries()) if (tile.length !== t * d) throw new RangeError(`tile ${i} has ${tile.length} values, expected ${t}×${d}`);
  const out = new Float32Array(layout.totalTokens * d);
  let o = 0;
  out.set(base.subarray(0, layout.base.tokens * d), 0);
  o += layout.base.tokens;
  if (layout.base.newlineAfter) out.set(newline, o++ * d);
  const g = layout.grid;
  if (g) {
    const p = layout.patchesPerSide;
    const window = new Float32Array(g.unpaddedRows * g.unpaddedCols * d);
    for (let r = 0; r < g.unpaddedRows; r++) {
      for (let c = 0; c < g.unpaddedCols; c++) {
        const R = g.padTop + r, C = g.padLeft + c;
        const tile = tiles[Math.floor(R / p) * g.tileCols + Math.floor(C / p)]!;
        const k = ((R % p) * p + (C % p)) * d;
        window.set(tile.subarray(k, k + d), (r * g.unpaddedCols + c) * d);
      }
    }
    const grid = g.downscaledRows !== undefined ? bilinearResizeHWC(window, g.unpaddedRows, g.unpaddedCols, d, g.outRows, g.outCols) : window;
    for (let r = 0; r < g.outRows; r++) {
      out.set(grid.subarray(r * g.outCols * d, (r + 1) * g.outCols * d), o * d);
      o += g.outCols;
      out.set(newline, o++ * d);
    }
  }
  if (o !== layout.totalTokens) throw new Error(`assembleAnyresFeatures: produced ${o} rows for ${layout.totalTokens}`);
  return out;
}
