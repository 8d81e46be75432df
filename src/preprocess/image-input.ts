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
 * Cap of one encoded image (a request's Blob, a data set's or sample's image file): more than an
 * 8192² photo (MAX_INPUT_PIXELS) takes as PNG or JPEG. A larger file is refused before its
 * bytes are read into memory.
 */
export const MAX_ENCODED_IMAGE_BYTES = 64 * 2 ** 20;

/** An encoded image's format and size, read from its header alone (no pixel decoded). */
export interface ImageHeader {
  format: 'PNG' | 'JPEG' | 'WebP' | 'GIF' | 'BMP';
  width: number;
  height: number;
}

const hex = (b: Uint8Array) => Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
const ascii = (b: Uint8Array, at: number, text: string) => text.split('').every((ch, i) => b[at + i] === ch.charCodeAt(0));

/**
 * The format and size an encoded image's header states, or the reason there is none. Read
 * before decoding so a file claiming 100000×100000 pixels is refused without a decoder
 * allocating for it (sharp in Node stops only at 16383², 0.8 GB of pixels; a browser's
 * createImageBitmap has no limit of ours). Formats: PNG, JPEG, WebP, GIF, BMP.
 */
export function readImageHeader(b: Uint8Array): ImageHeader | string {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length;
  if (n === 0) return 'it is empty (0 bytes)';
  if (n >= 8 && b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n')) {
    if (n < 24 || !ascii(b, 12, 'IHDR')) return 'it is a truncated PNG (no IHDR header after the signature)';
    return { format: 'PNG', width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (n >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    // Walk the marker segments to the first frame header (SOFn), which holds the size.
    let i = 2;
    while (i + 4 <= n) {
      if (b[i] !== 0xff) return `it is a corrupt JPEG (no marker at byte ${i})`;
      const m = b[i + 1]!;
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2;
        continue;
      }
      if (m === 0xd9 || m === 0xda) break; // end of image, or scan data before any frame header
      const len = v.getUint16(i + 2);
      const sof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (sof) {
        if (i + 9 > n) break;
        return { format: 'JPEG', width: v.getUint16(i + 7), height: v.getUint16(i + 5) };
      }
      if (len < 2) return `it is a corrupt JPEG (segment length ${len} at byte ${i})`;
      i += 2 + len;
    }
    return 'it is a truncated or corrupt JPEG (no frame header with its size)';
  }
  if (n >= 12 && ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) {
    if (n >= 30 && ascii(b, 12, 'VP8 ')) return { format: 'WebP', width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
    if (n >= 25 && ascii(b, 12, 'VP8L')) {
      const bits = v.getUint32(21, true);
      return { format: 'WebP', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (n >= 30 && ascii(b, 12, 'VP8X')) {
      const u24 = (at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
      return { format: 'WebP', width: u24(24) + 1, height: u24(27) + 1 };
    }
    return 'it is a truncated or unknown kind of WebP (no VP8, VP8L or VP8X header)';
  }
  if (n >= 10 && (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a'))) return { format: 'GIF', width: v.getUint16(6, true), height: v.getUint16(8, true) };
  if (n >= 26 && ascii(b, 0, 'BM')) return { format: 'BMP', width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)) };
  return `it is not a PNG, JPEG, WebP, GIF or BMP file (it starts with the bytes ${hex(b)})`;
}

/**
 * An encoded image's header, checked: a known format whose stated size is a positive number of
 * pixels, at most MAX_INPUT_PIXELS. `what` names the image in the message ("the image
 * "eval/0001.png"").
 */
export function checkImageHeader(bytes: Uint8Array, what = 'the image'): ImageHeader {
  const h = readImageHeader(bytes);
  if (typeof h === 'string') throw new PreprocessError(`${what} cannot be decoded: ${h}`);
  if (h.width <= 0 || h.height <= 0) throw new PreprocessError(`${what} is a ${h.format} whose header says it is ${h.width}×${h.height} pixels; an image has at least 1×1`);
  if (h.width * h.height > MAX_INPUT_PIXELS) {
    throw new PreprocessError(`${what} is a ${h.format} whose header says it is ${h.width}×${h.height} = ${h.width * h.height} pixels; at most ${MAX_INPUT_PIXELS} (8192×8192) are accepted (refused before decoding)`);
  }
  return h;
}

/** A width, height or channels value as a message quotes it (a string stays quoted: "40" is not 40). */
function valueText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}…` : v);
  if (v === undefined) return 'missing';
  return typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : typeof v;
}

/** How a Blob is named in messages: a File by its name, any Blob by its size and type. */
function blobLabel(blob: Blob): string {
  const name = typeof File !== 'undefined' && blob instanceof File && blob.name ? `"${blob.name.slice(0, 200)}" ` : '';
  return `the image ${name}(a ${blob.size}-byte ${blob.type || 'Blob'})`;
}

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
    // A RawImage may hold floats (0–1) or 16-bit values: copied into bytes they would be black.
    const tag = Object.prototype.toString.call(data);
    if (tag !== '[object Uint8Array]' && tag !== '[object Uint8ClampedArray]') {
      throw new PreprocessError(`the image is a RawImage whose data is a ${tag.slice(8, -1)}; its data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels`);
    }
  } else if (typeof Blob !== 'undefined' && image instanceof Blob) {
    const what = blobLabel(image);
    if (image.size > MAX_ENCODED_IMAGE_BYTES) {
      throw new PreprocessError(`${what} is ${image.size} bytes; an encoded image may have at most ${MAX_ENCODED_IMAGE_BYTES} (64 MiB)`);
    }
    // The header first: a huge claimed size or a non-image is refused before any decoder runs.
    const header = checkImageHeader(new Uint8Array(await image.arrayBuffer()), what);
    try {
      ({ data, width, height, channels } = await RawImage.fromBlob(image));
    } catch (e) {
      throw new PreprocessError(`${what} cannot be decoded as the ${header.width}×${header.height} ${header.format} its header says: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    const img = image as { data: unknown; width: unknown; height: unknown; channels?: unknown };
    const tag = Object.prototype.toString.call(img.data);
    if (tag !== '[object Uint8Array]' && tag !== '[object Uint8ClampedArray]') {
      const got = img.data === undefined ? 'no data field' : img.data === null ? 'null' : Array.isArray(img.data) ? 'an array' : tag.slice(8, -1);
      throw new PreprocessError(`the image's data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels; got ${got} (an image must be ${expected})`);
    }
    data = img.data as Uint8Array;
    width = img.width as number;
    height = img.height as number;
    const n = width * height;
    if (img.channels !== undefined && img.channels !== 1 && img.channels !== 3 && img.channels !== 4) throw new PreprocessError(`the image's channels must be 1, 3 or 4; got ${valueText(img.channels)} (or leave channels out)`);
    // Without channels, the data length says them; a length that fits none is refused below as 1 channel.
    channels = (img.channels as number | undefined) ?? (data.length === n * 4 ? 4 : data.length === n * 3 ? 3 : 1);
  }
  if (typeof width !== 'number' || typeof height !== 'number' || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new PreprocessError(`image size ${String(width)}×${String(height)} is not a positive whole number of pixels (the image's width is ${valueText(width)}, its height ${valueText(height)}: both must be positive integers)`);
  }
  if (width * height > MAX_INPUT_PIXELS) throw new PreprocessError(`the image is ${width}×${height} = ${width * height} pixels; at most ${MAX_INPUT_PIXELS} (8192×8192) are accepted`);
  if (data.length !== width * height * channels) {
    throw new PreprocessError(`image data has ${data.length} values, expected ${width}×${height}×${channels} = ${width * height * channels}${image instanceof RawImage || (image as { channels?: unknown }).channels !== undefined ? '' : ' (channels left out: the data length must be 1, 3 or 4 values per pixel)'}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new PreprocessError(`images with ${channels} channels are not supported: the image must have 1 (grey), 3 (RGB) or 4 (RGBA) channels`);
  // Alpha is dropped (not composited), as PIL's convert("RGB") in Python transformers does.
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * channels + (channels === 1 ? 0 : c)]!;
  }
  return new RawImage(rgb, width, height, 3);
}
