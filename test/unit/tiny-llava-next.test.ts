import { describe, expect, it } from 'vitest';
import { MemorySource, readJson } from '../../src/load/source';
import { anyresLayout } from '../../src/models/llava-next/anyres';
import { parseAnyresConfig } from '../../src/models/llava-next/config';
import { AnyresLlavaFacts } from '../../src/models/llava-next/model';
import { llavaNextFamily, llavaOnevisionFamily } from '../../src/models/llava-next';
import { familyFor } from '../../src/models/registry';
import { llavaNamesFor } from '../../src/models/llava/model';
import { llavaTensorDtypes } from '../../src/models/llava/weights';
import { makeTinyLlavaNext, makeTinyLlavaOnevision, NEXT_PRESETS, ONEVISION_PRESETS, type TinyAnyresPreset } from '../fixtures/tiny/llava-next';
import { checkpointTensors, decoderShapes, expectExactTensors, llavaNames, llavaProjectorShapes, towerShapes, type Shapes } from '../helpers/tensor-shapes';

type Json = Record<string, unknown>;
const json = (files: Map<string, Uint8Array>, name: string): Json => JSON.parse(new TextDecoder().decode(files.get(name)!)) as Json;

/** The tensors of an HF LlavaNext / LlavaOnevision checkpoint, written out independently of src/models. */
function expectedShapes(p: TinyAnyresPreset, vocab: number, o: { tower: 'clip' | 'siglip'; qwen2: boolean; layout: 'hub' | 'new' }): Shapes {
  const n = llavaNames(o.layout);
  const m = towerShapes(new Map(), n.vt, p.vision, o.tower);
  llavaProjectorShapes(m, n.pj, p.text.hidden, p.vision.hidden);
  m.set(n.newline, [p.text.hidden]);
  return decoderShapes(m, n.lm, p.text, vocab, { qkvBias: o.qwen2, lmHead: o.qwen2 ? null : n.lmHead });
}

describe('tiny llava_next checkpoint (llava-v1.6-mistral-7b-hf layout)', () => {
  for (const layout of ['hub', 'new'] as const) {
    it(`${layout} layout: exactly the expected tensor names and shapes`, () => {
      const files = makeTinyLlavaNext({ seed: 3, layout });
      const config = json(files, 'config.json');
      const vocab = (config['text_config'] as Json)['vocab_size'] as number;
      expect(vocab % 64).toBe(0);
      expectExactTensors(files, expectedShapes(NEXT_PRESETS.tiny, vocab, { tower: 'clip', qwen2: false, layout }), 'F32');
    });
  }

  it('parses as llava_next: mistral decoder, CLIP tower, default strategy, pinpoints; the registry picks the family', async () => {
    const files = makeTinyLlavaNext({ seed: 3 });
    const raw = await readJson(new MemorySource(files), 'config.json');
    expect(familyFor(raw)).toBe(llavaNextFamily);
    const c = parseAnyresConfig(raw, 'llava_next');
    expect(c.llava.text.modelType).toBe('mistral');
    expect(c.llava.text.qkvBias).toBe(false);
    expect(c.llava.vision.kind).toBe('clip');
    expect(c.llava.visionFeatureSelectStrategy).toBe('default');
    expect(c.llava.tileTokens).toBe(16);
    expect(c.pinpoints).toEqual([[28, 56], [56, 28], [56, 56], [84, 28], [28, 84]]);
    expect(c.visionAspectRatio).toBeNull();
    // The weight plan (memory check) names exactly the tensors the forward reads, newline included.
    const plan = llavaTensorDtypes(llavaNamesFor(c.llava, checkpointTensors(files).keys(), { imageNewline: true }));
    expect(plan.get('image_newline')).toBe('f32');
    for (const name of plan.keys()) expect(checkpointTensors(files).has(name), name).toBe(true);
    const pre = json(files, 'preprocessor_config.json');
    expect(pre['image_processor_type']).toBe('LlavaNextImageProcessor');
    expect(pre['image_grid_pinpoints']).toEqual(c.pinpoints);
    expect(json(files, 'processor_config.json')['processor_class']).toBe('LlavaNextProcessor');
  });

  it('the bench preset gives ≥ 2,000 visual tokens (2,336 on a 448×224 image)', () => {
    const p = NEXT_PRESETS['bench-2336'];
    const l = anyresLayout({ family: 'llava_next', imageHeight: 224, imageWidth: 448, pinpoints: p.pinpoints, tileSize: p.vision.imageSize, patchSize: p.vision.patchSize });
    expect(l.totalTokens).toBe(2336);
    expect(l.numTiles).toBe(9);
  });
});

describe('tiny llava_onevision checkpoint (llava-onevision-qwen2-0.5b-ov-hf layout)', () => {
  for (const layout of ['hub', 'new'] as const) {
    it(`${layout} layout: exactly the expected tensor names and shapes (SigLIP, q/k/v biases, tied: no lm_head)`, () => {
      const files = makeTinyLlavaOnevision({ seed: 4, layout, dtype: 'bf16' });
      const vocab = (json(files, 'config.json')['text_config'] as Json)['vocab_size'] as number;
      expectExactTensors(files, expectedShapes(ONEVISION_PRESETS.tiny, vocab, { tower: 'siglip', qwen2: true, layout }), 'BF16');
    });
  }

  it('parses as llava_onevision: qwen2 (biases, tied), SigLIP full features, anyres_max_9; Qwen2 chat tokens', async () => {
    const files = makeTinyLlavaOnevision({ seed: 4 });
    const raw = await readJson(new MemorySource(files), 'config.json');
    expect(familyFor(raw)).toBe(llavaOnevisionFamily);
    const c = parseAnyresConfig(raw, 'llava_onevision');
    expect(c.llava.text.modelType).toBe('qwen2');
    expect(c.llava.text.qkvBias).toBe(true);
    expect(c.llava.text.tieWordEmbeddings).toBe(true);
    expect(c.llava.vision.kind).toBe('siglip');
    expect(c.llava.visionFeatureSelectStrategy).toBe('full');
    expect(c.llava.visionFeatureLayer).toBe(-1);
    expect(c.llava.tileTokens).toBe(16);
    expect(c.pinpoints).toHaveLength(16);
    expect(c.visionAspectRatio).toBe('anyres_max_9');
    const tokenizer = json(files, 'tokenizer.json');
    const added = (tokenizer['added_tokens'] as { content: string; id: number }[]).map((t) => t.content);
    for (const t of ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<image>', '<video>']) expect(added).toContain(t);
    expect(tokenizer['post_processor']).toBeNull();
    const ids = Object.fromEntries((tokenizer['added_tokens'] as { content: string; id: number }[]).map((t) => [t.content, t.id]));
    expect(json(files, 'config.json')['image_token_index']).toBe(ids['<image>']);
    expect(json(files, 'config.json')['video_token_index']).toBe(ids['<video>']);
    expect(json(files, 'generation_config.json')['eos_token_id']).toBe(ids['<|im_end|>']);
    expect(json(files, 'preprocessor_config.json')['image_processor_type']).toBe('LlavaOnevisionImageProcessor');
  });

  it('facts: a reference image of the tower size, variable counts, a fingerprint that changes with the pinpoints', async () => {
    const raw = (await readJson(new MemorySource(makeTinyLlavaOnevision({ seed: 4 })), 'config.json')) as Json;
    const facts = new AnyresLlavaFacts(parseAnyresConfig(raw, 'llava_onevision'));
    // A 28×28 image fits the 1×1 pinpoint: base 16 + 4×4 grid + 4 newlines.
    expect(facts.referenceImageTokens()).toBe(36);
    expect(facts.referenceTiles()).toBe(2);
    expect(facts.describe('x').variableImageTokens).toBe(true);
    expect(facts.describe('x').flops.vision!.tiles).toBe(2);
    const fewer = new AnyresLlavaFacts(parseAnyresConfig({ ...raw, image_grid_pinpoints: [[28, 28]] }, 'llava_onevision'));
    expect(fewer.fingerprint()).not.toBe(facts.fingerprint());
  });

  it('refuses what cannot be packed, naming the field', async () => {
    const raw = (await readJson(new MemorySource(makeTinyLlavaOnevision({ seed: 4 })), 'config.json')) as Json;
    expect(() => parseAnyresConfig({ ...raw, vision_feature_select_strategy: 'default' }, 'llava_onevision')).toThrow(/vision_feature_select_strategy "default" leaves 15/);
    expect(() => parseAnyresConfig({ ...raw, image_grid_pinpoints: [[30, 28]] }, 'llava_onevision')).toThrow(/image_grid_pinpoints\[0\] 30×28 is not a multiple/);
    expect(() => parseAnyresConfig({ ...raw, vision_aspect_ratio: 'pad' }, 'llava_onevision')).toThrow(/vision_aspect_ratio/);
  });
});
