/**
 * Checks of the image processor's settings (preprocessor_config.json) and of images given to
 * the preprocessors, before any pixel is touched: a size of 1e9 would make the resampler
 * allocate terabytes, a crop of −1 or 112.5 throws deep inside it, and an image_std of 0 or a
 * mean given as strings turns every pixel into NaN or Infinity without an error.
 *
 * Allowed (every family): every pixel size (size.shortest_edge / longest_edge / height /
 * width, a plain `size` number, crop_size, max_image_size.longest_edge, each pinpoint side) is
 * an integer in 1..MAX_IMAGE_SIDE (4096, Python Idefics3's MAX_IMAGE_SIZE; the largest real
 * setting, OneVision's 2304-px pinpoints, is below it); image_mean a number in ±MAX_MEAN or 3 of
 * them; image_std a number in [MIN_STD, MAX_STD] or 3 of them; max_image_size an object;
 * rescale_factor a finite number in (0, 1]; resample a PIL
 * code 0–5; the do_* switches booleans (or null); at most MAX_PINPOINTS pinpoints. image_mean,
 * image_std and rescale_factor may be absent but not null.
 */

/** Largest pixel size any image processor setting may ask for. */
export const MAX_IMAGE_SIDE = 4096;
/** Most anyres pinpoints accepted (OneVision has 36). */
export const MAX_PINPOINTS = 256;
/** image_mean bound (pixel units at most: 255 is the largest meaningful mean). */
export const MAX_MEAN = 1000;
/** image_std bounds: below MIN_STD normalised pixels reach ~1e5 and more; above MAX_STD they are all ~0. */
export const MIN_STD = 0.001;
export const MAX_STD = 1000;
/** Largest image accepted as input, in pixels (8192 × 8192). */
export const MAX_INPUT_PIXELS = 8192 * 8192;

export class ImageConfigError extends Error {
  override readonly name = 'ImageConfigError';
}

type Json = Record<string, unknown>;

const show = (v: unknown): string => {
  let s: string;
  if (typeof v === 'number') s = String(v);
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
};

/**
 * Throws an ImageConfigError naming `file` and the field unless the image processor settings
 * are in the allowed ranges (see the file comment). Fields that are absent are not checked.
 */
export function checkImageProcessorConfig(config: unknown, file = 'preprocessor_config.json'): void {
  const fail = (field: string, value: unknown, allowed: string): never => {
    throw new ImageConfigError(`${file}: ${field} is ${show(value)}; it must be ${allowed}`);
  };
  if (!config || typeof config !== 'object' || Array.isArray(config)) fail('the file', config, 'a JSON object');
  const c = config as Json;
  const side = (field: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_IMAGE_SIDE) fail(field, v, `an integer from 1 to ${MAX_IMAGE_SIDE} (pixels)`);
  };
  const sizeDict = (field: string, keys: readonly string[]) => {
    const v = c[field];
    if (v === undefined || v === null) return;
    if (typeof v === 'number') return side(field, v);
    if (typeof v !== 'object' || Array.isArray(v)) return fail(field, v, `a number or an object with ${keys.join(' / ')}`);
    for (const [k, x] of Object.entries(v as Json)) {
      if (keys.includes(k)) side(`${field}.${k}`, x);
    }
  };
  sizeDict('size', ['shortest_edge', 'longest_edge', 'height', 'width']);
  sizeDict('crop_size', ['height', 'width']);
  sizeDict('max_image_size', ['longest_edge']);
  // Python indexes max_image_size["longest_edge"]; a plain number there was silently read as "absent".
  if (c['max_image_size'] !== undefined && c['max_image_size'] !== null && (typeof c['max_image_size'] !== 'object' || (c['max_image_size'] as Json)['longest_edge'] === undefined)) {
    fail('max_image_size', c['max_image_size'], 'an object with longest_edge (pixels)');
  }
  for (const field of ['size', 'crop_size']) {
    const v = c[field];
    if (v && typeof v === 'object') {
      const { height, width } = v as Json;
      if ((height === undefined) !== (width === undefined)) fail(field, v, 'an object with both height and width, or neither');
    }
  }
  // null is refused (not read as "the default"): transformers.js and our processors would compute NaN with it.
  // Bounded, not only finite: a mean of 1e30 or a std of 1e-30 gives finite pixels of ~1e30
  // whose squares overflow float32 in the tower's first layer norm, and every logit is NaN.
  // Real values are on the 0–1 scale (0.26–0.5) or, without rescaling, the 0–255 one (58.4).
  const perChannel = (field: string, lo: number, hi: number, allowed: string) => {
    const v = c[field];
    if (v === undefined) return;
    const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= lo && x <= hi;
    if (Array.isArray(v) ? v.length !== 3 || !v.every(ok) : !ok(v)) fail(field, v, `${allowed} or a list of 3 of them (one per RGB channel)`);
  };
  perChannel('image_mean', -MAX_MEAN, MAX_MEAN, `a number from -${MAX_MEAN} to ${MAX_MEAN}`);
  perChannel('image_std', MIN_STD, MAX_STD, `a number from ${MIN_STD} to ${MAX_STD}`);
  const rf = c['rescale_factor'];
  if (rf !== undefined && (typeof rf !== 'number' || !Number.isFinite(rf) || rf <= 0 || rf > 1)) fail('rescale_factor', rf, 'a number in (0, 1] (1/255 for 8-bit pixels)');
  const rs = c['resample'];
  if (rs !== undefined && rs !== null && (typeof rs !== 'number' || !Number.isInteger(rs) || rs < 0 || rs > 5)) fail('resample', rs, 'a PIL filter code 0–5');
  for (const [k, v] of Object.entries(c)) {
    if (k.startsWith('do_') && v !== undefined && v !== null && typeof v !== 'boolean') fail(k, v, 'true or false');
  }
  const pp = c['image_grid_pinpoints'];
  if (pp !== undefined && pp !== null) {
    if (!Array.isArray(pp) || pp.length === 0 || pp.length > MAX_PINPOINTS) {
      // A long list is shown by its length (its first 120 characters say little); "a list of 1000" read as a quoted string before.
      if (Array.isArray(pp) && pp.length > 0) throw new ImageConfigError(`${file}: image_grid_pinpoints has ${pp.length} pinpoints; it must be a list of 1 to ${MAX_PINPOINTS} [height, width] pairs`);
      fail('image_grid_pinpoints', pp, `a list of 1 to ${MAX_PINPOINTS} [height, width] pairs`);
    }
    (pp as unknown[]).forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) fail(`image_grid_pinpoints[${i}]`, p, 'a [height, width] pair');
      side(`image_grid_pinpoints[${i}][0]`, (p as unknown[])[0]);
      side(`image_grid_pinpoints[${i}][1]`, (p as unknown[])[1]);
    });
  }
}
