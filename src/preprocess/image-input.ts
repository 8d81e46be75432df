/** The images a request may carry, and their conversion to 3-channel 8-bit pixels. */
import { RawImage } from '@huggingface/transformers';
import { PreprocessError } from './errors';
import { MAX_INPUT_PIXELS } from './image-config';

/**
 * An image: a transformers.js RawImage, raw 8-bit pixels (what a canvas's getImageData gives:
 * RGBA; RGB and grey accepted too), or an encoded PNG/JPEG/WebP Blob.
 */
export type ImageInput = RawImage | { data: Uint8ClampedArray | Uint8Array; width: number; height: number; channels?: 1 | 3 | 4 } | Blob;

/**
 * Any accepted image → a new 3-channel RawImage (the caller's image is never modified).
 * Families with their own image processors (tiling) start from this.
 */
export async function toRgb(image: ImageInput): Promise<RawImage> {
  const expected = 'a RawImage, a Blob (PNG / JPEG / WebP) or { data: Uint8Array | Uint8ClampedArray, width, height, channels? }';
  if (image === null || typeof image !== 'object') throw new PreprocessError(`the image must be ${expected}; got ${image === null ? 'null' : typeof image}`);
  let data: ArrayLike<number>;
  let width: number;
  let height: number;
  let channels: number;
  if (image instanceof RawImage) {
    ({ data, width, height, channels } = image);
  } else if (typeof Blob !== 'undefined' && image instanceof Blob) {
    try {
      ({ data, width, height, channels } = await RawImage.fromBlob(image));
    } catch (e) {
      throw new PreprocessError(`the image (a ${image.size}-byte ${image.type || 'Blob'}) cannot be decoded: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    const img = image as { data: unknown; width: unknown; height: unknown; channels?: unknown };
    const tag = Object.prototype.toString.call(img.data);
    if (tag !== '[object Uint8Array]' && tag !== '[object Uint8ClampedArray]') {
      throw new PreprocessError(`the image's data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels; got ${img.data === null ? 'null' : Array.isArray(img.data) ? 'an array' : tag.slice(8, -1)} (an image must be ${expected})`);
    }
    data = img.data as Uint8Array;
    width = img.width as number;
    height = img.height as number;
    const n = width * height;
    if (img.channels !== undefined && img.channels !== 1 && img.channels !== 3 && img.channels !== 4) throw new PreprocessError(`the image's channels must be 1, 3 or 4; got ${String(img.channels)}`);
    channels = (img.channels as number | undefined) ?? (data.length === n * 4 ? 4 : data.length === n * 3 ? 3 : 1);
  }
  if (typeof width !== 'number' || typeof height !== 'number' || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new PreprocessError(`image size ${String(width)}×${String(height)} is not a positive whole number of pixels`);
  }
  if (width * height > MAX_INPUT_PIXELS) throw new PreprocessError(`the image is ${width}×${height} = ${width * height} pixels; at most ${MAX_INPUT_PIXELS} (8192×8192) are accepted`);
  if (data.length !== width * height * channels) {
    throw new PreprocessError(`image data has ${data.length} values, expected ${width}×${height}×${channels}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new PreprocessError(`images with ${channels} channels are not supported`);
  // Alpha is dropped (not composited), as PIL's convert("RGB") in Python transformers does.
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * channels + (channels === 1 ? 0 : c)]!;
  }
  return new RawImage(rgb, width, height, 3);
}
