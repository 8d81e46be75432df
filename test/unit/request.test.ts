// Hostile generate requests (issue 20's fuzzer, request family): each field is refused by name
// and range before any work, instead of being read as something else (stop "x" as the
// characters x, rawPrompt "yes" as true, image null as a text-only question, NaN temperature as
// greedy) or failing deep in the engine with a TypeError (an unknown pruning kind, hooks "x").
import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../src/engine/engine';
import { checkGenerateRequest, MAX_PROMPT_CHARS } from '../../src/engine/request';
import { checkImageHeader, MAX_ENCODED_IMAGE_BYTES, readImageHeader, toRgb } from '../../src/preprocess/image-input';
import { checkPruningPolicy } from '../../src/prune/policies';
import { encodePng } from '../../tools/png';

const image = { data: new Uint8ClampedArray(4 * 3 * 3), width: 4, height: 3, channels: 3 as const };
const base: GenerateRequest = { prompt: 'What is it?', image, maxNewTokens: 2 };
const refused = (edit: Record<string, unknown>, message: RegExp) => expect(() => checkGenerateRequest({ ...base, ...edit } as GenerateRequest)).toThrow(message);

describe('checkGenerateRequest', () => {
  it('passes ordinary requests, with and without options', () => {
    for (const r of [
      base,
      { prompt: '' },
      { ...base, rawPrompt: false, recordKeptIndices: true, stop: ['', 'END'], sampling: { temperature: 0.7, topK: 5, topP: 0.9, seed: 4294967295 } },
      { ...base, hooks: {}, signal: new AbortController().signal, pruning: { kind: 'none' as const } },
      { ...base, hooks: null, pruning: { kind: 'fastv' as const, layer: 1, ratio: 1 } },
      { ...base, pruning: { kind: 'random' as const, seed: 0, recipe: { counts: [1e6, 0], referenceVisualTokens: 576 } } },
    ]) {
      expect(() => checkGenerateRequest(r as GenerateRequest)).not.toThrow();
    }
  });

  it('refuses prompts that are not strings, or too long to ever fit a model, before tokenizing', () => {
    refused({ prompt: 42 }, /request\.prompt must be a string, got 42/);
    refused({ prompt: { text: 'hi' } }, /request\.prompt must be a string, got an object/);
    refused({ prompt: 'ab '.repeat(1_700_000) }, new RegExp(`request\\.prompt is 5100000 characters long; at most ${MAX_PROMPT_CHARS}`));
  });

  it('refuses rawPrompt and recordKeptIndices that are not booleans (rawPrompt "yes" was taken as true)', () => {
    refused({ rawPrompt: 'yes' }, /request\.rawPrompt must be true, false or left out; got "yes"/);
    refused({ rawPrompt: 1 }, /request\.rawPrompt must be true, false or left out; got 1/);
    refused({ recordKeptIndices: 'yes' }, /request\.recordKeptIndices must be true, false or left out; got "yes"/);
  });

  it('refuses an image of null, a number or a string (null was answered as a text-only question)', () => {
    refused({ image: null }, /request\.image must be an image .* or left out for a text-only question; got null/);
    refused({ image: 7 }, /request\.image must be an image .*; got 7/);
    refused({ image: 'https://example.com/cat.png' }, /request\.image must be an image .*; got "https:\/\/example\.com\/cat\.png"/);
  });

  it('refuses stop lists that are not lists of strings (stop "x" was iterated as its characters) or are huge', () => {
    refused({ stop: 'x' }, /request\.stop must be a list of strings; got "x"/);
    refused({ stop: [1, 2] }, /request\.stop\[0\] must be a string; got 1/);
    refused({ stop: [null] }, /request\.stop\[0\] must be a string; got null/);
    refused({ stop: Array.from({ length: 100_000 }, (_, i) => `s${i}`) }, /request\.stop has 100000 strings; at most 1024/);
    refused({ stop: ['q'.repeat(100_000)] }, /request\.stop\[0\] is 100000 characters long; at most 65536/);
  });

  it('refuses sampling options that would be read as something else', () => {
    refused({ sampling: 'greedy' }, /request\.sampling must be an object \{ temperature\?, topK\?, topP\?, seed\? \}; got "greedy"/);
    refused({ sampling: [1] }, /request\.sampling must be an object/);
    refused({ sampling: { temperature: Number.NaN } }, /request\.sampling\.temperature must be a finite number ≥ 0 \(0: greedy\); got NaN/);
    refused({ sampling: { temperature: 1, topP: 1.5 } }, /request\.sampling\.topP must be a number in \[0, 1\]/);
    refused({ sampling: { temperature: 1, seed: 2 ** 53 } }, /request\.sampling\.seed must be an integer in \[0, 4294967295\]; got 9007199254740992/);
  });

  it('refuses a signal that is not an AbortSignal and hooks that are not functions (TypeErrors in the engine before)', () => {
    refused({ signal: 'abort' }, /request\.signal must be an AbortSignal .*; got "abort"/);
    refused({ hooks: 'x' }, /request\.hooks must be an object of decoder hooks \(wantsRowStats, afterAttention, afterLayer\) or null; got "x"/);
    refused({ hooks: { afterAttention: 5 } }, /request\.hooks\.afterAttention must be a function or left out; got 5/);
    refused({ hooks: { wantsRowStats: 'yes' } }, /request\.hooks\.wantsRowStats must be a function or left out; got "yes"/);
  });

  it('refuses pruning policies that are not one, naming the field and its range (an unknown kind was "factory is not a function")', () => {
    refused({ pruning: 'fastv' }, /request\.pruning must be an object \{ kind: "none" \| "fitprune" \| "fastv" \| "random", … \}; got "fastv"/);
    refused({ pruning: { kind: 'topk', k: 3 } }, /request\.pruning\.kind must be one of "none", "fitprune", "fastv", "random"; got "topk"/);
    refused({ pruning: { layer: 1, ratio: 0.5 } }, /request\.pruning\.kind must be one of .*; got missing/);
    refused({ pruning: { kind: 'fastv', layer: 0, ratio: 0.5 } }, /request\.pruning\.layer \(FastV's K\) must be an integer ≥ 1 .*; got 0/);
    refused({ pruning: { kind: 'fastv', layer: '1', ratio: 0.5 } }, /request\.pruning\.layer \(FastV's K\) .*; got "1"/);
    refused({ pruning: { kind: 'fastv', layer: 1, ratio: Number.NaN } }, /request\.pruning\.ratio \(FastV's R, .*\) must be a number in \[0, 1\]; got NaN/);
    refused({ pruning: { kind: 'random', seed: 1 } }, /request\.pruning\.recipe \(random\) must be an object \{ counts, referenceVisualTokens \}.*; got missing/);
    refused({ pruning: { kind: 'random', seed: '1', recipe: { counts: [1], referenceVisualTokens: 4 } } }, /request\.pruning\.seed \(random\) must be an integer in \[0, 4294967295\]; got "1"/);
    refused({ pruning: { kind: 'fitprune', recipe: { counts: [0.5, 0], referenceVisualTokens: 4 } } }, /recipe "counts" must be a list of non-negative integers/);
    refused({ pruning: { kind: 'fitprune', recipe: { counts: [1, 0], referenceVisualTokens: '576' } } }, /recipe "referenceVisualTokens" must be an integer in \[1, 1048576\]/);
    refused({ hooks: {}, pruning: { kind: 'fitprune', recipe: { counts: [1, 0], referenceVisualTokens: 4 } } }, /pass either request\.pruning or request\.hooks, not both/);
    // A policy built in code (not through a request) gets the same check.
    expect(() => checkPruningPolicy({ kind: 'fastv', layer: 1.5, ratio: 0.5 })).toThrow(/request\.pruning\.layer \(FastV's K\) must be an integer ≥ 1/);
  });
});

/** A 1×1 PNG whose IHDR (CRC fixed) claims width×height. */
function pngClaiming(width: number, height: number): Uint8Array {
  const out = encodePng(new Uint8Array(3), 1, 1).slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return out;
}

describe('encoded images: the header is read before any decoder runs', () => {
  it('reads the stated size of PNG, JPEG, WebP, GIF and BMP headers', () => {
    expect(readImageHeader(encodePng(new Uint8Array(2 * 3 * 3), 2, 3))).toEqual({ format: 'PNG', width: 2, height: 3 });
    // A JPEG with an APP0 segment before its baseline frame header (SOF0: height 480, width 640).
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03]);
    expect(readImageHeader(jpeg)).toEqual({ format: 'JPEG', width: 640, height: 480 });
    const gif = Uint8Array.from([...new TextEncoder().encode('GIF89a'), 0x20, 0x00, 0x10, 0x00]);
    expect(readImageHeader(gif)).toEqual({ format: 'GIF', width: 32, height: 16 });
    const bmp = new Uint8Array(26);
    bmp.set([0x42, 0x4d]);
    new DataView(bmp.buffer).setInt32(18, 7, true);
    new DataView(bmp.buffer).setInt32(22, -5, true); // top-down rows
    expect(readImageHeader(bmp)).toEqual({ format: 'BMP', width: 7, height: 5 });
    const webp = new Uint8Array(30);
    webp.set(new TextEncoder().encode('RIFF'), 0);
    webp.set(new TextEncoder().encode('WEBPVP8X'), 8);
    webp.set([99, 0, 0, 49, 0, 0], 24); // canvas 100×50, stored minus one
    expect(readImageHeader(webp)).toEqual({ format: 'WebP', width: 100, height: 50 });
  });

  it('refuses empty, non-image, truncated and oversized files naming them, before decoding', () => {
    expect(() => checkImageHeader(new Uint8Array(0), 'x.png')).toThrow(/x\.png cannot be decoded: it is empty \(0 bytes\)/);
    expect(() => checkImageHeader(new TextEncoder().encode('hello, not a picture'), 'x.png')).toThrow(/x\.png cannot be decoded: it is not a PNG, JPEG, WebP, GIF or BMP file \(it starts with the bytes 68 65 6c 6c 6f 2c 20 6e\)/);
    expect(() => checkImageHeader(encodePng(new Uint8Array(3), 1, 1).subarray(0, 8))).toThrow(/it is a truncated PNG \(no IHDR header/);
    expect(() => checkImageHeader(Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]))).toThrow(/truncated or corrupt JPEG \(no frame header/);
    expect(() => checkImageHeader(pngClaiming(0, 20))).toThrow(/a PNG whose header says it is 0×20 pixels; an image has at least 1×1/);
    expect(() => checkImageHeader(pngClaiming(100000, 100000), 'huge.png')).toThrow(/huge\.png is a PNG whose header says it is 100000×100000 = 10000000000 pixels; at most 67108864 \(8192×8192\) are accepted \(refused before decoding\)/);
  });

  it("toRgb refuses a Blob claiming 100000×100000 (or 16000², under sharp's own limit) before decoding, and names a File", async () => {
    await expect(toRgb(new Blob([new Uint8Array(pngClaiming(100000, 100000))], { type: 'image/png' }))).rejects.toThrow(/the image \(a 69-byte image\/png\) is a PNG whose header says it is 100000×100000/);
    await expect(toRgb(new Blob([new Uint8Array(pngClaiming(16000, 16000))]))).rejects.toThrow(/16000×16000 = 256000000 pixels; at most 67108864/);
    await expect(toRgb(new Blob([]))).rejects.toThrow(/the image \(a 0-byte Blob\) cannot be decoded: it is empty/);
    const png = encodePng(Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => i), 5, 4);
    await expect(toRgb(new File([new Uint8Array(png.subarray(0, png.length - 20))], 'eval/cut.png'))).rejects.toThrow(/the image "eval\/cut\.png" \(a \d+-byte Blob\) cannot be decoded as the 5×4 PNG its header says/);
    const rgb = await toRgb(new Blob([new Uint8Array(png)]));
    expect([rgb.width, rgb.height, rgb.channels, rgb.data[3]]).toEqual([5, 4, 3, 3]);
  });

  it('raw pixels: quotes a string width as a string, and says when the data length fits no channel count', async () => {
    await expect(toRgb({ ...image, width: '4' } as never)).rejects.toThrow(/the image's width is "4", its height 3: both must be positive integers/);
    await expect(toRgb({ ...image, channels: '3' } as never)).rejects.toThrow(/the image's channels must be 1, 3 or 4; got "3"/);
    await expect(toRgb({ data: new Uint8Array(4 * 3 * 2), width: 4, height: 3 })).rejects.toThrow(/image data has 24 values, expected 4×3×1 = 12 \(channels left out: the data length must be 1, 3 or 4 values per pixel\)/);
    await expect(toRgb({ width: 4, height: 3 } as never)).rejects.toThrow(/the image's data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels; got no data field/);
    // A RawImage of floats was copied into bytes as 0s and 1s: a black image, no error.
    const { RawImage } = await import('@huggingface/transformers');
    await expect(toRgb(new RawImage(new Float32Array(4 * 3 * 3).fill(0.5) as never, 4, 3, 3))).rejects.toThrow(/the image is a RawImage whose data is a Float32Array; its data must be a Uint8Array or Uint8ClampedArray/);
    await expect(toRgb(new RawImage(new Uint8ClampedArray(4 * 3 * 2), 4, 3, 2 as never))).rejects.toThrow(/images with 2 channels are not supported: the image must have 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels/);
  });
});

describe('encoded image size', () => {
  it('refuses a Blob over 64 MiB before reading its bytes, naming its size and the cap', async () => {
    const huge = new Blob([new Uint8Array(MAX_ENCODED_IMAGE_BYTES + 1)], { type: 'image/png' });
    await expect(toRgb(huge)).rejects.toThrow(/67108865 bytes; an encoded image may have at most 67108864 \(64 MiB\)/);
  });
});
