import { describe, expect, it } from 'vitest';
import { MemorySource, readJson } from '../../src/load/source';
import { parseLlavaConfig } from '../../src/models/config';
import { loadPreprocessor } from '../../src/preprocess';
import { makeTinyLlava } from '../../tools/tiny-llava';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

async function setup(preset: 'tiny' | 'tiny-mha' = 'tiny') {
  const source = new MemorySource(makeTinyLlava({ seed: 2, preset }));
  return { pre: await loadPreprocessor(source), config: parseLlavaConfig(await readJson(source, 'config.json')) };
}

describe('preprocessing with transformers.js (tokenizer, chat template, image processor)', () => {
  it('builds the llava-1.5 prompt from the chat template', async () => {
    const { pre } = await setup();
    expect(pre.buildPrompt('What is the color of the circle?', { hasImage: true })).toBe('USER: <image>\nWhat is the color of the circle? ASSISTANT:');
    expect(pre.buildPrompt('Hello', { hasImage: false })).toBe('USER: Hello ASSISTANT:');
  });

  it('round-trips text through the tokenizer', async () => {
    const { pre } = await setup();
    expect(pre.decode([])).toBe(''); // an answer that starts with EOS
    for (const s of ['What is the color of the circle?', 'How many: 3, 42 and (x)!', 'naïve café ✓']) {
      const { inputIds } = pre.encode(s, { imageTokenCount: 1 });
      expect(inputIds[0]).toBe(pre.bosTokenId);
      expect(pre.decode([...inputIds])).toBe(s);
    }
  });

  it('expands <image> to the visual-token count of the strategy and finds the span from the ids', async () => {
    for (const preset of ['tiny', 'tiny-mha'] as const) {
      const { pre, config } = await setup(preset);
      // 'default' drops CLS: 64 patches → 64 tokens; 'full' keeps it: 65 (as HF's LlavaProcessor).
      expect(config.imageTokens).toBe(preset === 'tiny' ? 64 : 65);
      const prompt = pre.buildPrompt('Describe the image.', { hasImage: true });
      const { inputIds, imageSpans } = pre.encode(prompt, { imageTokenCount: config.imageTokens });
      expect(imageSpans).toHaveLength(1);
      const span = imageSpans[0]!;
      expect(span.end - span.start).toBe(config.imageTokens);
      expect(inputIds.filter((id) => id === pre.imageTokenId).length).toBe(config.imageTokens);
      expect(inputIds[span.start - 1]).not.toBe(pre.imageTokenId);
      expect(pre.decode([...inputIds.subarray(span.end)])).toBe('\nDescribe the image. ASSISTANT:');
    }
    const { pre } = await setup();
    expect(pre.encode('USER: no image here', { imageTokenCount: 64 }).imageSpans).toEqual([]);
  });

  it('normalises pixels like CLIP and crops a non-square image to the model size', async () => {
    const { pre, config } = await setup();
    const [w, h] = [83, 47];
    const rgb = [200, 100, 30];
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
    const { pixelValues, width, height } = await pre.preprocessImage({ data, width: w, height: h, channels: 4 });
    const S = config.vision.imageSize;
    expect([width, height]).toEqual([S, S]);
    expect(pixelValues.length).toBe(3 * S * S);
    // Interior pixels only: transformers.js resizes with sharp in Node, whose bicubic filter
    // leaves a 1–3 pixel border off even on a uniform image at fractional scales (83×47 → 99×56).
    for (let c = 0; c < 3; c++) {
      const expected = (rgb[c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
      for (let y = 4; y < S - 4; y += 7) {
        for (let x = 4; x < S - 4; x += 5) expect(pixelValues[c * S * S + y * S + x]).toBeCloseTo(expected, 5);
      }
    }
  });

  it('refuses image data of the wrong size', async () => {
    const { pre } = await setup();
    await expect(pre.preprocessImage({ data: new Uint8ClampedArray(10), width: 4, height: 4, channels: 4 })).rejects.toThrow(/image data has 10 values, expected 4×4×4/);
  });
});
