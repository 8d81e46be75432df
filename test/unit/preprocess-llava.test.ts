import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIPImageProcessor, LlavaProcessor, RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource, readJson } from '../../src/load/source';
import { parseLlavaConfig } from '../../src/models/llava/config';
import { llavaImageTokenCount, loadPreprocessor, truncateAtStop, type Preprocessor } from '../../src/preprocess';
import { readImageFile } from '../../src/preprocess/node';
import { encodePng } from '../../tools/png';
import { CLIP_MEAN, CLIP_STD, LLAVA_CHAT_TEMPLATE, makeTinyLlava, type PresetName } from '../fixtures/tiny/llava';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

async function setup(preset: PresetName = 'tiny', edit?: (files: Map<string, Uint8Array>) => void) {
  const files = makeTinyLlava({ seed: 2, preset });
  edit?.(files);
  const source = new MemorySource(files);
  return { pre: await loadPreprocessor(source), config: parseLlavaConfig(await readJson(source, 'config.json')), files };
}

function solid(w: number, h: number, rgb: number[], channels: 3 | 4 = 4) {
  const data = new Uint8ClampedArray(w * h * channels);
  for (let i = 0; i < w * h; i++) data.set(channels === 4 ? [...rgb, 255] : rgb, i * channels);
  return { data, width: w, height: h, channels };
}

function gradient(w: number, h: number) {
  const data = new Uint8ClampedArray(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 255) / (w - 1), (y * 255) / (h - 1), (x * y) % 256], (y * w + x) * 3);
  return { data, width: w, height: h, channels: 3 as const };
}

const QUESTION = 'What is the color of the circle?';

describe('preprocessing with transformers.js (tokenizer, chat template, image processor)', () => {
  let pre: Preprocessor;
  beforeAll(async () => {
    pre = (await setup()).pre;
  });

  it('builds the llava-1.5 prompt from the chat template (chat_template.json)', () => {
    expect(pre.chatTemplate).toBe(LLAVA_CHAT_TEMPLATE);
    expect(pre.buildPrompt(QUESTION, { hasImage: true })).toBe('USER: <image>\nWhat is the color of the circle? ASSISTANT:');
    expect(pre.buildPrompt('Hello', { hasImage: false })).toBe('USER: Hello ASSISTANT:');
  });

  it('takes the template from chat_template.jinja first, then chat_template.json, then tokenizer_config.json; falls back without one', async () => {
    const jinja = "{% for m in messages %}[{{ m['role'] }}]{% for c in m['content'] %}{{ c['text'] if c['type'] == 'text' else '<image>' }}{% endfor %}{% endfor %}{% if add_generation_prompt %}>{% endif %}";
    const a = await setup('tiny', (f) => f.set('chat_template.jinja', new TextEncoder().encode(jinja)));
    expect(a.pre.buildPrompt('Hi', { hasImage: true })).toBe('[user]<image>Hi>');
    const b = await setup('tiny', (f) => {
      f.delete('chat_template.json');
      f.set('tokenizer_config.json', enc({ ...dec(f.get('tokenizer_config.json')!), chat_template: LLAVA_CHAT_TEMPLATE }));
    });
    expect(b.pre.buildPrompt(QUESTION, { hasImage: true })).toBe('USER: <image>\nWhat is the color of the circle? ASSISTANT:');
    const c = await setup('tiny', (f) => f.delete('chat_template.json'));
    expect(c.pre.chatTemplate).toBeNull();
    expect(c.pre.buildPrompt(QUESTION, { hasImage: true })).toBe('USER: <image>\nWhat is the color of the circle? ASSISTANT:');
    expect(c.pre.buildPrompt('Hi', { hasImage: false })).toBe('USER: Hi ASSISTANT:');
  });

  it('round-trips text through the tokenizer', () => {
    for (const s of [QUESTION, 'How many: 3, 42 and (x)!', 'Is it red , or blue ?', 'naïve café ✓ 🙂', 'two  spaces\nand a newline']) {
      const { inputIds, imageSpans } = pre.encode(s);
      expect(imageSpans).toEqual([]);
      expect(inputIds[0]).toBe(pre.bosTokenId);
      expect(pre.decode([...inputIds])).toBe(s);
    }
    expect(pre.decode([])).toBe('');
  });

  it('exposes the special ids (from generation_config / tokenizer_config / special_tokens_map)', async () => {
    const { config } = await setup();
    expect(pre.bosTokenId).toBe(1);
    expect(pre.eosTokenIds).toEqual([2]);
    expect(pre.padTokenId).toBe(config.raw['pad_token_id']);
    expect(pre.imageTokenId).toBe(config.imageTokenIndex);
    expect(pre.imageToken).toBe('<image>');
    // Special tokens only in special_tokens_map.json (as { content } objects) still resolve.
    const { pre: p } = await setup('tiny', (f) => {
      const { bos_token, eos_token, unk_token, pad_token, ...rest } = dec(f.get('tokenizer_config.json')!);
      void [bos_token, eos_token, unk_token, pad_token];
      f.set('tokenizer_config.json', enc(rest));
      f.delete('generation_config.json');
    });
    expect([p.bosTokenId, p.eosTokenIds, p.padTokenId]).toEqual([1, [2], config.raw['pad_token_id']]);
  });

  it('expands <image> to the visual-token count of the strategy and finds the span from the ids', async () => {
    for (const [preset, expected] of [['tiny', 64], ['tiny-mha', 65], ['tiny-nonsquare', 49], ['tiny-144', 144]] as const) {
      const { pre: p, config } = await setup(preset);
      // 'default' drops CLS: 64 patches → 64 tokens; 'full' keeps it: 65 (as Python's LlavaProcessor).
      expect(p.imageTokenCount).toBe(expected);
      expect(config.tileTokens).toBe(expected);
      const prompt = p.buildPrompt('Describe the image.', { hasImage: true });
      const { inputIds, imageSpans } = p.encode(prompt); // count defaults to the processor's
      expect(imageSpans).toHaveLength(1);
      const span = imageSpans[0]!;
      expect(span.end - span.start).toBe(expected);
      expect(inputIds.filter((id) => id === p.imageTokenId).length).toBe(expected);
      expect([...inputIds.subarray(span.start, span.end)].every((id) => id === p.imageTokenId)).toBe(true);
      expect(inputIds[span.start - 1]).not.toBe(p.imageTokenId);
      expect(inputIds[span.end]).not.toBe(p.imageTokenId);
      expect(p.decode([...inputIds.subarray(0, span.start)])).toBe('USER: ');
      expect(p.decode([...inputIds.subarray(span.end)])).toBe('\nDescribe the image. ASSISTANT:');
      // Same ids as tokenizing the prompt once and repeating the image id (what the model sees).
      const once = p.encode(prompt, { imageTokenCount: 1 }).inputIds;
      const at = once.indexOf(p.imageTokenId);
      expect([...inputIds]).toEqual([...once.subarray(0, at), ...Array(expected).fill(p.imageTokenId), ...once.subarray(at + 1)]);
    }
  });

  it('several images: one span each, adjacent placeholders split by the count', () => {
    const { inputIds, imageSpans } = pre.encode('USER: <image><image>\nand <image>\nCompare. ASSISTANT:', { imageTokenCount: 5 });
    expect(imageSpans.map((s) => s.end - s.start)).toEqual([5, 5, 5]);
    expect(imageSpans[1]!.start).toBe(imageSpans[0]!.end);
    expect(imageSpans[2]!.start).toBeGreaterThan(imageSpans[1]!.end);
    expect(inputIds.filter((id) => id === pre.imageTokenId).length).toBe(15);
    expect(() => pre.encode('USER: <image>\nHi', { imageTokenCount: 0 })).toThrow(/placeholder.*no valid image token count/);
  });

  it('counts visual tokens like Python transformers, not like transformers.js 4.3.1', async () => {
    expect(llavaImageTokenCount({ height: 336, width: 336, patchSize: 14, numAdditionalImageTokens: 1, strategy: 'default' })).toBe(576);
    expect(llavaImageTokenCount({ height: 336, width: 336, patchSize: 14, numAdditionalImageTokens: 1, strategy: 'full' })).toBe(577);
    expect(llavaImageTokenCount({ height: 84, width: 84, patchSize: 12 })).toBe(49);
    // transformers.js's LlavaProcessor ignores the strategy: one token more than the model consumes for 'default'.
    const { files } = await setup();
    const processorConfig = dec(files.get('processor_config.json')!);
    const js = new LlavaProcessor(processorConfig, { tokenizer: pre.tokenizer, image_processor: new CLIPImageProcessor(dec(files.get('preprocessor_config.json')!)) }, null);
    const out = await js(new RawImage(solid(56, 56, [1, 2, 3], 3).data, 56, 56, 3), 'USER: <image>\nHi ASSISTANT:');
    const ids = Array.from(out.input_ids.data as BigInt64Array, Number);
    expect(ids.filter((id) => id === pre.imageTokenId).length).toBe(65);
    expect(pre.imageTokenCount).toBe(64);
  });

  it('normalises pixels like CLIP and crops a non-square image to the model size (every pixel)', async () => {
    for (const preset of ['tiny', 'tiny-nonsquare'] as const) {
      const { pre: p, config } = await setup(preset);
      const S = config.vision.imageSize;
      for (const [w, h] of [[83, 47], [47, 83], [S, S], [20, 30], [500, 120]] as const) {
        const rgb = [200, 100, 30];
        const { pixelValues, width, height } = await p.preprocessImage(solid(w, h, rgb));
        expect([width, height]).toEqual([S, S]);
        expect(pixelValues.length).toBe(3 * S * S);
        for (let c = 0; c < 3; c++) {
          const expected = (rgb[c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
          const plane = pixelValues.subarray(c * S * S, (c + 1) * S * S);
          for (let i = 0; i < plane.length; i++) if (Math.abs(plane[i]! - expected) > 1e-5) expect.fail(`${preset} ${w}×${h} channel ${c} pixel ${i}: ${plane[i]} ≠ ${expected}`);
        }
      }
    }
  });

  it('resizes and crops like PIL + transformers: shortest edge to the size, integer centre crop', async () => {
    // A horizontal ramp, 2× wider than tall: resized to 112×56 (bicubic) then columns 28…83 kept.
    const { pre: p } = await setup();
    const [w, h] = [224, 112];
    const img = gradient(w, h);
    const { pixelValues } = await p.preprocessImage(img);
    const S = 56;
    const denorm = (c: number, y: number, x: number) => Math.round((pixelValues[c * S * S + y * S + x]! * CLIP_STD[c]! + CLIP_MEAN[c]!) * 255);
    // Red channel is the x ramp: 2× down then the crop starting at column 28 of 112 → source column ≈ 2·(28 + x) + 0.5.
    for (const x of [0, 10, 27, 55]) {
      const sourceX = 2 * (28 + x) + 0.5;
      expect(Math.abs(denorm(0, 20, x) - (sourceX * 255) / (w - 1))).toBeLessThanOrEqual(1.5);
    }
    // Green is the y ramp, unaffected by the crop.
    for (const y of [0, 30, 55]) expect(Math.abs(denorm(1, y, 10) - ((2 * y + 0.5) * 255) / (h - 1))).toBeLessThanOrEqual(1.5);
  });

  it('gives the same pixels for RGBA, RGB, grey-as-RGB, RawImage and a PNG file, without modifying the input', async () => {
    const { pre: p } = await setup('tiny-nonsquare');
    const rgb = gradient(83, 47);
    const rgba = new Uint8ClampedArray(83 * 47 * 4);
    for (let i = 0; i < 83 * 47; i++) rgba.set([...rgb.data.subarray(i * 3, i * 3 + 3), 17], i * 4);
    const raw = new RawImage(rgba.slice(), 83, 47, 4);
    const a = (await p.preprocessImage(rgb)).pixelValues;
    expect((await p.preprocessImage({ data: rgba, width: 83, height: 47 })).pixelValues).toEqual(a);
    expect((await p.preprocessImage(raw)).pixelValues).toEqual(a);
    expect(raw.channels).toBe(4); // transformers.js's own processor would have converted it in place
    expect(raw.data).toEqual(rgba);
    const png = new Uint8Array(encodePng(new Uint8Array(rgb.data), 83, 47));
    expect((await p.preprocessImage(new Blob([png]))).pixelValues).toEqual(a);
    const grey = new Uint8ClampedArray(83 * 47).map((_, i) => i % 256);
    const greyRgb = new Uint8ClampedArray(83 * 47 * 3).map((_, i) => Math.floor(i / 3) % 256);
    expect((await p.preprocessImage({ data: grey, width: 83, height: 47, channels: 1 })).pixelValues).toEqual((await p.preprocessImage({ data: greyRgb, width: 83, height: 47 })).pixelValues);
  });

  it("optionally uses transformers.js's own resize (shape right, borders not exact in Node)", async () => {
    const { files } = await setup();
    const p = await loadPreprocessor(new MemorySource(files), { resize: 'transformers' });
    const { pixelValues, width, height } = await p.preprocessImage(solid(83, 47, [200, 100, 30]));
    expect([width, height]).toEqual([56, 56]);
    // Interior pixels match; sharp's affine resize rings at the borders.
    const expected = (200 / 255 - CLIP_MEAN[0]!) / CLIP_STD[0]!;
    expect(pixelValues[28 * 56 + 28]).toBeCloseTo(expected, 5);
  });

  it('refuses image data of the wrong size, and images when the model has no image processor', async () => {
    await expect(pre.preprocessImage({ data: new Uint8ClampedArray(10), width: 4, height: 4, channels: 4 })).rejects.toThrow(/image data has 10 values, expected 4×4×4/);
    const { pre: p } = await setup('tiny', (f) => f.delete('preprocessor_config.json'));
    expect(p.imageSize).toBeNull();
    await expect(p.preprocessImage(solid(4, 4, [0, 0, 0]))).rejects.toThrow(/no preprocessor_config\.json/);
  });

  it('refuses a checkpoint whose config image_token_index is not the tokenizer\'s <image>', async () => {
    await expect(setup('tiny', (f) => f.set('config.json', enc({ ...dec(f.get('config.json')!), image_token_index: 5 })))).rejects.toThrow(/image_token_index 5 is not the tokenizer's "<image>"/);
  });

  it('cuts generated text at the earliest stop string', () => {
    expect(truncateAtStop('The circle is red. USER: and', ['USER:', '.'])).toEqual({ text: 'The circle is red', stop: '.' });
    expect(truncateAtStop('abc', ['x', ''])).toEqual({ text: 'abc', stop: null });
    expect(truncateAtStop('abc', undefined)).toEqual({ text: 'abc', stop: null });
  });
});

describe('readImageFile (Node)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fitprune-img-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes PNG and JPEG files through sharp', async () => {
    const img = gradient(40, 24);
    const pngPath = join(dir, 'a.png');
    await writeFile(pngPath, encodePng(new Uint8Array(img.data), 40, 24));
    const png = await readImageFile(pngPath);
    expect([png.width, png.height, png.channels]).toEqual([40, 24, 3]);
    expect(png.data).toEqual(img.data);

    const jpegPath = join(dir, 'a.jpg');
    const solidImg = solid(32, 16, [30, 160, 220], 3);
    await writeFile(jpegPath, await new RawImage(solidImg.data, 32, 16, 3).toSharp().jpeg({ quality: 95 }).toBuffer());
    const jpeg = await readImageFile(jpegPath);
    expect([jpeg.width, jpeg.height]).toEqual([32, 16]);
    for (let c = 0; c < 3; c++) expect(Math.abs(jpeg.data[(8 * 32 + 16) * jpeg.channels + c]! - solidImg.data[c]!)).toBeLessThanOrEqual(3);

    await expect(readImageFile(join(dir, 'missing.png'))).rejects.toThrow(/cannot read image/);
    await writeFile(join(dir, 'bad.png'), 'not an image');
    await expect(readImageFile(join(dir, 'bad.png'))).rejects.toThrow(/not an image sharp can decode/);
  });
});
