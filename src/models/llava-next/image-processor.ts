/**
 * Pixel preprocessing of LlavaNextImageProcessor and LlavaOnevisionImageProcessor (Python
 * transformers, PIL path) on 8-bit RGB, in plain TypeScript: the base image and the anyres tiles
 * as CHW float32, plus the token layout the composer needs.
 *
 * What Python does, step by step (image_processing_llava_next.py get_image_patches/_preprocess;
 * the OneVision processor copies it):
 *  - best resolution: select_best_resolution on (height, width);
 *  - resize-to-fit into it keeping the aspect: the limiting side becomes the target, the other
 *    min(ceil(side · scale), target) (get_patch_output_size), resampled with PIL (`resample`);
 *  - pad centred to the best resolution with 0 on the uint8 pixels, i.e. BEFORE rescale and
 *    normalise, so the padding is black: (0 − mean)/std after normalisation, not 0;
 *  - cut into tile×tile patches, row-major (divide_to_patches), tile = crop_size.height
 *    (llava_next) or size.height (onevision);
 *  - the base image: the whole image resized to a square (shortest_edge × shortest_edge for
 *    llava_next, size.height × size.width = 384×384 for onevision), aspect NOT kept;
 *  - every patch (base first) then goes through resize to `size` (shortest_edge for llava_next,
 *    a no-op on the 336² patches; 384×384 for onevision, also a no-op), centre crop to crop_size
 *    (llava_next only), rescale (×1/255 in float64, stored as float32) and normalise (float32).
 * Transformers 5 also ships a torchvision backend (the default "fast" processor); it resizes
 * tensors with torchvision's bicubic, which is not PIL-exact, so its pixels differ slightly from
 * these (and from what the checkpoints were converted and validated with).
 */

import { checkImageProcessorConfig } from '../../preprocess/image-config';
import { centerCropPixels, PIL_BICUBIC, resizePil, shortestEdgeSize } from '../../preprocess/resample';
import { anyresLayout, selectBestResolution, type AnyresFamily, type AnyresLayout, type Pinpoint } from './anyres';

/** The fields of preprocessor_config.json that these processors read. */
export interface AnyresImageProcessorConfig {
  image_processor_type?: string;
  do_resize?: boolean;
  size?: { shortest_edge?: number; height?: number; width?: number };
  resample?: number;
  do_center_crop?: boolean | null;
  crop_size?: { height: number; width: number } | number | null;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: readonly number[] | number;
  image_std?: readonly number[] | number;
  do_pad?: boolean;
  do_convert_rgb?: boolean;
  image_grid_pinpoints?: readonly (readonly number[])[];
}

export interface AnyresPreprocessOptions {
  /** The vision tower's patch_size (not in preprocessor_config.json): 14 for all three references. */
  patchSize?: number;
  /** OneVision's vision_aspect_ratio from config.json; default "anyres_max_9". */
  visionAspectRatio?: string;
  /**
   * OneVision: the image is one of several in its prompt. Python then pads it to a square with
   * the colour int(mean·255) and resizes it to one tile (no anyres grid).
   */
  multiImage?: boolean;
}

export interface AnyresPreprocessed {
  /** CHW float32 [3, tileSize.height, tileSize.width] per tile, the base image first. */
  tiles: Float32Array[];
  tileSize: { height: number; width: number };
  layout: AnyresLayout;
}

const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The class defaults of the Python processors, used where preprocessor_config.json is silent. */
function defaultsFor(family: AnyresFamily): Required<Pick<AnyresImageProcessorConfig, 'size' | 'image_grid_pinpoints'>> & { crop_size: { height: number; width: number } | null; do_center_crop: boolean } {
  if (family === 'llava_next') {
    return {
      size: { shortest_edge: 224 },
      crop_size: { height: 224, width: 224 },
      do_center_crop: true,
      image_grid_pinpoints: [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
    };
  }
  const pinpoints: number[][] = [];
  for (let i = 1; i <= 6; i++) for (let j = 1; j <= 6; j++) pinpoints.push([384 * i, 384 * j]);
  return { size: { height: 384, width: 384 }, crop_size: null, do_center_crop: false, image_grid_pinpoints: pinpoints };
}

function perChannel(v: readonly number[] | number | undefined, fallback: readonly number[], name: string): number[] {
  if (v === undefined) return [...fallback];
  if (typeof v === 'number') return [v, v, v];
  if (v.length !== 3) throw new RangeError(`${name} must have 3 values for RGB, got ${v.length}`);
  return [...v];
}

function cropSizeOf(c: AnyresImageProcessorConfig['crop_size']): { height: number; width: number } | null {
  if (c === null || c === undefined) return null;
  if (typeof c === 'number') return { height: c, width: c };
  return { height: c.height, width: c.width };
}

/** get_patch_output_size: the aspect-preserving fit of H×W into the target (ceil, then min). */
export function patchOutputSize(height: number, width: number, targetH: number, targetW: number): { height: number; width: number } {
  const scaleW = targetW / width;
  const scaleH = targetH / height;
  if (scaleW < scaleH) return { height: Math.min(Math.ceil(height * scaleW), targetH), width: targetW };
  return { height: targetH, width: Math.min(Math.ceil(width * scaleH), targetW) };
}

/** Centred zero padding of HWC RGB pixels (divmod split: the odd pixel goes after). */
function padCentred(data: Uint8ClampedArray, width: number, height: number, outW: number, outH: number, fill: readonly number[]): Uint8ClampedArray {
  const top = Math.floor((outH - height) / 2);
  const left = Math.floor((outW - width) / 2);
  const out = new Uint8ClampedArray(outW * outH * 3);
  if (fill.some((v) => v !== 0)) for (let i = 0; i < outW * outH; i++) out.set(fill, i * 3);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * width * 3, (y + 1) * width * 3), ((y + top) * outW + left) * 3);
  return out;
}

/** One patch → CHW float32: resize to `size`, crop, rescale, normalise, as Python's _preprocess. */
function finishPatch(
  data: Uint8ClampedArray,
  width: number,
  height: number,
  s: {
    doResize: boolean; size: AnyresImageProcessorConfig['size'] & object; resample: number;
    crop: { height: number; width: number } | null; doRescale: boolean; rescale: number;
    doNormalize: boolean; mean: number[]; std: number[];
  },
): { chw: Float32Array; width: number; height: number } {
  let px = data;
  let w = width;
  let h = height;
  if (s.doResize) {
    const target = s.size.shortest_edge !== undefined ? shortestEdgeSize(w, h, s.size.shortest_edge) : { width: s.size.width!, height: s.size.height! };
    if (target.width !== w || target.height !== h) {
      px = resizePil(px, w, h, 3, target.width, target.height, s.resample);
      w = target.width;
      h = target.height;
    }
  }
  if (s.crop) {
    px = centerCropPixels(px, w, h, 3, s.crop.width, s.crop.height);
    w = s.crop.width;
    h = s.crop.height;
  }
  const plane = w * h;
  const chw = new Float32Array(3 * plane);
  // numpy: rescale multiplies in float64 and stores float32; normalise subtracts and divides
  // in float32 with mean/std cast to float32. Math.fround reproduces each rounding.
  const mean32 = s.mean.map(Math.fround);
  const std32 = s.std.map(Math.fround);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = px[i * 3 + c]!;
      if (s.doRescale) v = Math.fround(v * s.rescale);
      if (s.doNormalize) v = Math.fround(Math.fround(v - mean32[c]!) / std32[c]!);
      chw[c * plane + i] = v;
    }
  }
  return { chw, width: w, height: h };
}

/**
 * Python's LlavaNextImageProcessor / LlavaOnevisionImageProcessor on one RGB image (8-bit,
 * interleaved, width × height), returning the base image and the tiles as CHW float32 (base
 * first, tiles row-major) and the matching token layout. `config` is preprocessor_config.json.
 */
export function preprocessAnyres(
  rgb: Uint8ClampedArray,
  width: number,
  height: number,
  config: AnyresImageProcessorConfig,
  family: AnyresFamily,
  options: AnyresPreprocessOptions = {},
): AnyresPreprocessed {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  if (rgb.length !== width * height * 3) throw new RangeError(`preprocessAnyres: ${rgb.length} values for ${width}×${height} RGB`);
  if (options.multiImage && family !== 'llava_onevision') throw new RangeError('multiImage applies to llava_onevision only');
  // Sizes, crop, pinpoints, mean / std / rescale in range (an ImageConfigError naming the field otherwise).
  checkImageProcessorConfig(config);
  const d = defaultsFor(family);
  const size = config.size ?? d.size;
  const pinpoints: Pinpoint[] = (config.image_grid_pinpoints ?? d.image_grid_pinpoints).map((pp) => {
    if (pp.length !== 2) throw new RangeError(`image_grid_pinpoints entries must be [height, width], got ${JSON.stringify(pp)}`);
    return [pp[0]!, pp[1]!] as const;
  });
  const doCenterCrop = config.do_center_crop ?? d.do_center_crop;
  const cropSize = config.crop_size === undefined ? d.crop_size : cropSizeOf(config.crop_size);
  const mean = perChannel(config.image_mean, OPENAI_CLIP_MEAN, 'image_mean');
  const settings = {
    doResize: config.do_resize ?? true,
    size,
    resample: config.resample ?? PIL_BICUBIC,
    crop: doCenterCrop && cropSize ? cropSize : null,
    doRescale: config.do_rescale ?? true,
    rescale: config.rescale_factor ?? 1 / 255,
    doNormalize: config.do_normalize ?? true,
    mean,
    std: perChannel(config.image_std, OPENAI_CLIP_STD, 'image_std'),
  };
  // The square the base image is resized to, and the side of the tiles the padded image is
  // cut into (the vision tower's input size).
  let baseSize: { height: number; width: number };
  if (size.shortest_edge !== undefined) baseSize = { height: size.shortest_edge, width: size.shortest_edge };
  else if (size.height !== undefined && size.width !== undefined) baseSize = { height: size.height, width: size.width };
  else throw new RangeError('preprocessor size needs shortest_edge or height and width');
  const tile = cropSize?.height ?? size.height ?? size.shortest_edge!;

  const tiles: Float32Array[] = [];
  let tileSize: { height: number; width: number } | null = null;
  const push = (px: Uint8ClampedArray, w: number, h: number): void => {
    const r = finishPatch(px, w, h, settings);
    if (tileSize && (tileSize.width !== r.width || tileSize.height !== r.height)) throw new Error(`tile ${tiles.length} is ${r.width}×${r.height}, tile 0 was ${tileSize.width}×${tileSize.height}`);
    tileSize = { height: r.height, width: r.width };
    tiles.push(r.chw);
  };

  if (options.multiImage) {
    // pad_to_square with int(mean·255) (the configured mean), then the normal patch pipeline.
    const side = Math.max(width, height);
    const fill = mean.map((m) => Math.trunc(m * 255));
    push(padCentred(rgb, width, height, side, side, fill), side, side);
  } else {
    const [bestH, bestW] = selectBestResolution(height, width, pinpoints);
    const fit = patchOutputSize(height, width, bestH, bestW);
    const resized = resizePil(rgb, width, height, 3, fit.width, fit.height, settings.resample);
    const padded = padCentred(resized, fit.width, fit.height, bestW, bestH, [0, 0, 0]);
    push(resizePil(rgb, width, height, 3, baseSize.width, baseSize.height, settings.resample), baseSize.width, baseSize.height);
    if (bestH % tile !== 0 || bestW % tile !== 0) throw new RangeError(`best resolution ${bestH}×${bestW} is not a multiple of the tile size ${tile}`);
    for (let y = 0; y < bestH; y += tile) {
      for (let x = 0; x < bestW; x += tile) {
        const patch = new Uint8ClampedArray(tile * tile * 3);
        for (let r = 0; r < tile; r++) patch.set(padded.subarray(((y + r) * bestW + x) * 3, ((y + r) * bestW + x + tile) * 3), r * tile * 3);
        push(patch, tile, tile);
      }
    }
  }

  const finalSize = tileSize as { height: number; width: number } | null;
  if (!finalSize) throw new Error('preprocessAnyres produced no tiles');
  const layout = anyresLayout({
    family, imageHeight: height, imageWidth: width, pinpoints,
    tileSize: finalSize.height, patchSize: options.patchSize ?? 14,
    visionAspectRatio: options.visionAspectRatio, multiImage: options.multiImage,
  });
  if (layout.numTiles !== tiles.length) throw new Error(`layout expects ${layout.numTiles} tiles, the processor made ${tiles.length}`);
  return { tiles, tileSize: finalSize, layout };
}
