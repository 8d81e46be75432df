/**
 * Pillow-compatible image resizing and Hugging Face's integer centre crop, on 8-bit interleaved
 * pixels, in plain TypeScript (identical results in the browser, a worker and Node).
 *
 * Why not transformers.js's RawImage.resize: in Node it resizes with sharp's affine transform,
 * which samples outside the image at the borders (a flat 83×47 image resized to 98×56 comes
 * back with rows of 178–209 instead of 200); in the browser it draws on a canvas, ignoring
 * the resample filter, and its centre crop uses fractional offsets (a second interpolation).
 * So the same image gave different pixels in Node and in the browser, and neither matched
 * Python transformers' CLIPImageProcessor (PIL `Image.resize`, then an integer crop), which is
 * what the models were trained and evaluated with.
 *
 * The algorithm is Pillow's separable convolution resampling (Resample.c), written from its
 * documented behaviour: for each output pixel, the filter is centred on (i + 0.5)·scale in
 * input coordinates, its support widened by the scale when downsampling (antialiasing),
 * weights normalised to sum 1 and then quantised to 22-bit fixed point; the horizontal pass
 * runs first and is rounded to 8 bits before the vertical pass.
 */

/**
 * Largest output (pixels) a resize or crop may make: 8192², as the largest input image
 * accepted (src/preprocess/image-config.ts MAX_INPUT_PIXELS). A hostile size would otherwise
 * allocate gigabytes to terabytes here.
 */
export const MAX_RESIZE_PIXELS = 8192 * 8192;

/** PIL's resample codes, as in preprocessor_config.json "resample". */
export const PIL_NEAREST = 0;
export const PIL_LANCZOS = 1;
export const PIL_BILINEAR = 2;
export const PIL_BICUBIC = 3;
export const PIL_BOX = 4;
export const PIL_HAMMING = 5;

interface Filter {
  support: number;
  weight(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

const FILTERS: Record<number, Filter> = {
  [PIL_BOX]: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  [PIL_BILINEAR]: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  [PIL_HAMMING]: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      return sinc(a) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(Math.PI * a)); // float literals in Pillow
    },
  },
  [PIL_BICUBIC]: {
    support: 2,
    weight: (x) => {
      // Keys' cubic with a = -0.5, as Pillow.
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  [PIL_LANCZOS]: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Coefficients {
  /** First input index of each output pixel's window. */
  start: Int32Array;
  /** Window length of each output pixel. */
  length: Int32Array;
  /** Fixed-point weights, `window` per output pixel. */
  weights: Int32Array;
  window: number;
}

function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const window = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const length = new Int32Array(outSize);
  const weights = new Int32Array(outSize * window);
  const k = new Float64Array(window);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      k[x] = filter.weight((x + lo - center + 0.5) / filterScale);
      sum += k[x]!;
    }
    for (let x = 0; x < n; x++) {
      const w = sum !== 0 ? k[x]! / sum : k[x]!;
      weights[i * window + x] = Math.trunc(w < 0 ? w * ONE - 0.5 : w * ONE + 0.5);
    }
    start[i] = lo;
    length[i] = n;
  }
  return { start, length, weights, window };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel, each channel independent) to
 * outWidth×outHeight with a PIL filter code. Returns new pixel data.
 */
export function resizePil(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  resample: number = PIL_BICUBIC,
): Uint8ClampedArray {
  for (const [name, v] of [['width', width], ['height', height], ['output width', outWidth], ['output height', outHeight]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`resizePil: ${name} must be a positive integer, got ${v}`);
  }
  if (outWidth * outHeight > MAX_RESIZE_PIXELS) throw new RangeError(`resizePil: a ${outWidth}×${outHeight} output is over ${MAX_RESIZE_PIXELS} pixels`);
  if (data.length !== width * height * channels) throw new Error(`resizePil: ${data.length} values for ${width}×${height}×${channels}`);
  if (resample === PIL_NEAREST) return resizeNearest(data, width, height, channels, outWidth, outHeight);
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`resizePil: unknown resample filter ${resample} (PIL codes 0–5)`);

  let src: ArrayLike<number> = data;
  let w = width;
  if (outWidth !== width) {
    const c = coefficients(width, outWidth, filter);
    const out = new Uint8ClampedArray(outWidth * height * channels);
    for (let y = 0; y < height; y++) {
      const row = y * width * channels;
      for (let x = 0; x < outWidth; x++) {
        const s = c.start[x]!;
        const n = c.length[x]!;
        const kOff = x * c.window;
        for (let ch = 0; ch < channels; ch++) {
          let acc = HALF;
          for (let i = 0; i < n; i++) acc += src[row + (s + i) * channels + ch]! * c.weights[kOff + i]!;
          out[(y * outWidth + x) * channels + ch] = clip8(acc);
        }
      }
    }
    src = out;
    w = outWidth;
  }
  if (outHeight !== height) {
    const c = coefficients(height, outHeight, filter);
    const out = new Uint8ClampedArray(w * outHeight * channels);
    const stride = w * channels;
    for (let y = 0; y < outHeight; y++) {
      const s = c.start[y]!;
      const n = c.length[y]!;
      const kOff = y * c.window;
      for (let xc = 0; xc < stride; xc++) {
        let acc = HALF;
        for (let i = 0; i < n; i++) acc += src[(s + i) * stride + xc]! * c.weights[kOff + i]!;
        out[y * stride + xc] = clip8(acc);
      }
    }
    src = out;
  }
  return src === data ? Uint8ClampedArray.from(data) : (src as Uint8ClampedArray);
}

/** PIL NEAREST: each output pixel takes the input pixel under its centre. */
function resizeNearest(data: ArrayLike<number>, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight));
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth));
      for (let ch = 0; ch < channels; ch++) out[(y * outWidth + x) * channels + ch] = data[(sy * width + sx) * channels + ch]!;
    }
  }
  return out;
}

/**
 * transformers' `center_crop` on an HWC array: top = ⌊(H − h)/2⌋, left = ⌊(W − w)/2⌋ (integer
 * offsets, so no resampling); where the crop reaches outside a smaller image it is zero.
 */
export function centerCropPixels(data: ArrayLike<number>, width: number, height: number, channels: number, cropWidth: number, cropHeight: number): Uint8ClampedArray {
  for (const [name, v] of [['crop width', cropWidth], ['crop height', cropHeight]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`centerCropPixels: ${name} must be a positive integer, got ${v}`);
  }
  if (cropWidth * cropHeight > MAX_RESIZE_PIXELS) throw new RangeError(`centerCropPixels: a ${cropWidth}×${cropHeight} crop is over ${MAX_RESIZE_PIXELS} pixels`);
  const top = Math.floor((height - cropHeight) / 2);
  const left = Math.floor((width - cropWidth) / 2);
  const out = new Uint8ClampedArray(cropWidth * cropHeight * channels);
  for (let y = 0; y < cropHeight; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < cropWidth; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= width) continue;
      for (let ch = 0; ch < channels; ch++) out[(y * cropWidth + x) * channels + ch] = data[(sy * width + sx) * channels + ch]!;
    }
  }
  return out;
}

/**
 * Python transformers' get_resize_output_image_size(default_to_square=False) for
 * {"shortest_edge": S}: the short side becomes S, the long side int(S · long / short).
 */
export function shortestEdgeSize(width: number, height: number, shortestEdge: number): { width: number; height: number } {
  if (width <= height) return { width: shortestEdge, height: Math.trunc((shortestEdge * height) / width) };
  return { width: Math.trunc((shortestEdge * width) / height), height: shortestEdge };
}
