/**
 * Idefics3 / SmolVLM image preprocessing on the CPU, following Python transformers'
 * Idefics3ImageProcessor (the slow, PIL-based processor the checkpoints were trained and
 * evaluated with), not transformers.js: the tile grid decides the prompt's token layout, and
 * transformers.js rounds the first resize differently (see
 * shared/docs/processors-python-vs-js.md §5–6), which changes the grid for some sizes.
 *
 * Pipeline (one image, do_resize and do_image_splitting as in the SmolVLM configs):
 *  1. resize so the longest edge is `size.longest_edge` (up or down; the other side int(),
 *     +1 if odd, ≥ 1), then cap the longest edge at 4096 (MAX_IMAGE_SIZE) — PIL LANCZOS on uint8;
 *  2. splitting: resize each side up to a multiple of `max_image_size.longest_edge` (T) — the
 *     second side is derived from the first through the aspect ratio, then rounded up — a
 *     second uint8 LANCZOS pass; if the result is larger than T×T, cut it into rows×cols T×T
 *     tiles (row-major) and append a global image = that resized image LANCZOS-resized to T×T;
 *     otherwise it already is T×T and is the only frame (rows = cols = 0);
 *     no splitting: the step-1 image is squashed to T×T (aspect not kept), rows = cols = 0;
 *  3. rescale (×rescale_factor, float64 → float32) and normalise ((x − mean) / std in float32),
 *     CHW.
 *
 * pixel_attention_mask: Python pads every frame of a batch to the largest H×W and masks the
 * padding. Every frame produced here is exactly T×T (tiles are exact crops of a T-multiple
 * image, the global and unsplit images are resized to T×T), so for one image — or several
 * images with either setting — the mask is all ones and padding is a no-op; we return none.
 * Downstream, Idefics3Model derives patch_attention_mask from it (all true), and the vision
 * embeddings' position-id bucketing then reduces to arange(n_patches) (see
 * connector-ref.ts `idefics3PositionIds`, verified in the unit test).
 */
import { checkImageProcessorConfig } from '../../preprocess/image-config';
import { PIL_LANCZOS, resizePil } from '../../preprocess/resample';

/** The fields of preprocessor_config.json this processor reads (all optional, Python defaults). */
export interface Idefics3PreprocessorConfig {
  do_resize?: boolean;
  size?: { longest_edge?: number };
  max_image_size?: { longest_edge?: number };
  do_image_splitting?: boolean;
  resample?: number;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number | readonly number[];
  image_std?: number | readonly number[];
}

export interface Idefics3Preprocessed {
  /** CHW float32 frames of tileSize×tileSize: row-major tiles, then the global image; or only the global image when unsplit. */
  tiles: Float32Array[];
  /** Tile rows; 0 when the image was not split (Python's convention, which the prompt expansion keys on). */
  rows: number;
  /** Tile columns; 0 when the image was not split. */
  cols: number;
  tileSize: number;
}

/** Python's MAX_IMAGE_SIZE: absolute cap on the longest edge after the first resize. */
export const IDEFICS3_MAX_IMAGE_SIZE = 4096;

/** Python defaults of Idefics3ImageProcessor (Idefics3-8B geometry); SmolVLM overrides them in its config. */
const DEFAULT_LONGEST_EDGE = 4 * 364;
const DEFAULT_TILE = 364;
/** IMAGENET_STANDARD_MEAN / STD. */
const DEFAULT_MEAN = 0.5;
const DEFAULT_STD = 0.5;

/** Python int() of a non-negative float: truncation. */
function pyInt(x: number): number {
  return Math.trunc(x);
}

/**
 * Output size of step 1 (`_resize_output_size_rescale_to_max_len` then
 * `_resize_output_size_scale_below_upper_bound` with MAX_IMAGE_SIZE), as { width, height }.
 */
export function idefics3ResizeSize(width: number, height: number, longestEdge: number): { width: number; height: number } {
  let w = width;
  let h = height;
  // Float arithmetic in the same order as Python so int() truncates at the same place.
  const aspect = w / h;
  if (w >= h) {
    w = longestEdge;
    h = pyInt(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = longestEdge;
    w = pyInt(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  h = Math.max(h, 1);
  w = Math.max(w, 1);
  // Scale below the upper bound; a no-op unless longest_edge exceeds 4096.
  const aspect2 = w / h;
  if (w >= h && w > IDEFICS3_MAX_IMAGE_SIZE) {
    w = IDEFICS3_MAX_IMAGE_SIZE;
    h = pyInt(w / aspect2);
  } else if (h > w && h > IDEFICS3_MAX_IMAGE_SIZE) {
    h = IDEFICS3_MAX_IMAGE_SIZE;
    w = pyInt(h * aspect2);
  }
  return { width: Math.max(w, 1), height: Math.max(h, 1) };
}

/**
 * Output size of `resize_for_vision_encoder`: the longer side up to a multiple of the tile,
 * the other side from the aspect ratio (int()), then up to a multiple of the tile too. Note
 * Python's `get_number_of_image_patches` rounds the original short side instead; the actual
 * resize (this) is what decides the pixels and the prompt.
 */
export function idefics3VisionEncoderSize(width: number, height: number, tile: number): { width: number; height: number } {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = Math.ceil(width / tile) * tile;
    h = Math.ceil(pyInt(w / aspect) / tile) * tile;
  } else {
    h = Math.ceil(height / tile) * tile;
    w = Math.ceil(pyInt(h * aspect) / tile) * tile;
  }
  if (w <= 0 || h <= 0) throw new Error(`idefics3: vision-encoder resize of ${width}×${height} gives ${w}×${h}`);
  return { width: w, height: h };
}

/** The tile grid (rows, cols; 0×0 when unsplit) Python produces for a width×height image, without touching pixels. */
export function idefics3Grid(width: number, height: number, config: Idefics3PreprocessorConfig): { rows: number; cols: number; tileSize: number } {
  const tile = config.max_image_size?.longest_edge ?? DEFAULT_TILE;
  if (config.do_image_splitting === false) return { rows: 0, cols: 0, tileSize: tile };
  const first = config.do_resize === false ? { width, height } : idefics3ResizeSize(width, height, config.size?.longest_edge ?? DEFAULT_LONGEST_EDGE);
  const v = idefics3VisionEncoderSize(first.width, first.height, tile);
  if (v.height > tile || v.width > tile) return { rows: v.height / tile, cols: v.width / tile, tileSize: tile };
  return { rows: 0, cols: 0, tileSize: tile };
}

function perChannel(v: number | readonly number[] | undefined, fallback: number, name: string): [number, number, number] {
  if (v === undefined) return [fallback, fallback, fallback];
  if (typeof v === 'number') return [v, v, v];
  if (v.length !== 3) throw new Error(`idefics3: ${name} must have 3 values, got ${v.length}`);
  return [v[0]!, v[1]!, v[2]!];
}

/** Crops a tile×tile window at (left, top) from interleaved RGB. */
function cropRgb(rgb: Uint8ClampedArray, width: number, left: number, top: number, tile: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(tile * tile * 3);
  for (let y = 0; y < tile; y++) {
    const src = ((top + y) * width + left) * 3;
    out.set(rgb.subarray(src, src + tile * 3), y * tile * 3);
  }
  return out;
}

/**
 * HWC uint8 → CHW float32, emulating numpy: `rescale` multiplies in float64 and casts to
 * float32; `normalize` subtracts and divides in float32 with float32 mean/std.
 */
function toChw(rgb: Uint8ClampedArray, size: number, config: Idefics3PreprocessorConfig): Float32Array {
  const doRescale = config.do_rescale !== false;
  const factor = config.rescale_factor ?? 1 / 255;
  const doNormalize = config.do_normalize !== false;
  const mean = perChannel(config.image_mean, DEFAULT_MEAN, 'image_mean').map(Math.fround);
  const std = perChannel(config.image_std, DEFAULT_STD, 'image_std').map(Math.fround);
  const n = size * size;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    // All 256 input values map to one of 256 outputs: tabulate once per channel.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = doRescale ? Math.fround(v * factor) : v;
      if (doNormalize) x = Math.fround(Math.fround(x - mean[c]!) / std[c]!);
      lut[v] = x;
    }
    const plane = c * n;
    for (let i = 0; i < n; i++) out[plane + i] = lut[rgb[i * 3 + c]!]!;
  }
  return out;
}

/**
 * Python Idefics3ImageProcessor on one RGB image (8-bit, interleaved, width×height).
 * Returns CHW float32 frames in the order Python emits them (tiles row-major, global last).
 */
export function preprocessIdefics3(rgb: Uint8ClampedArray, width: number, height: number, config: Idefics3PreprocessorConfig): Idefics3Preprocessed {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new Error(`idefics3: bad image size ${width}×${height}`);
  if (rgb.length !== width * height * 3) throw new Error(`idefics3: ${rgb.length} values for ${width}×${height} RGB`);
  // Sizes, mean / std / rescale in range (an ImageConfigError naming the field otherwise).
  checkImageProcessorConfig(config);
  const tile = config.max_image_size?.longest_edge ?? DEFAULT_TILE;
  const resample = config.resample ?? PIL_LANCZOS;

  let img = rgb;
  let w = width;
  let h = height;
  const resize = (ow: number, oh: number): void => {
    // PIL returns a copy for a same-size resize, so skipping it is exact.
    if (ow !== w || oh !== h) img = resizePil(img, w, h, 3, ow, oh, resample);
    w = ow;
    h = oh;
  };

  if (config.do_resize !== false) {
    const s = idefics3ResizeSize(w, h, config.size?.longest_edge ?? DEFAULT_LONGEST_EDGE);
    resize(s.width, s.height);
  }

  if (config.do_image_splitting === false) {
    resize(tile, tile);
    return { tiles: [toChw(img, tile, config)], rows: 0, cols: 0, tileSize: tile };
  }

  const v = idefics3VisionEncoderSize(w, h, tile);
  resize(v.width, v.height);
  if (h <= tile && w <= tile) return { tiles: [toChw(img, tile, config)], rows: 0, cols: 0, tileSize: tile };

  const rows = h / tile;
  const cols = w / tile;
  const tiles: Float32Array[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) tiles.push(toChw(cropRgb(img, w, c * tile, r * tile, tile), tile, config));
  // The global image is resized from the T-multiple image (not from the original).
  tiles.push(toChw(resizePil(img, w, h, 3, tile, tile, resample), tile, config));
  return { tiles, rows, cols, tileSize: tile };
}
