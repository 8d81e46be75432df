import { describe, expect, it } from 'vitest';
import { headerLength, parseHeader } from '../../src/load/safetensors';
import { MemorySource, readJson } from '../../src/load/source';
import { anyresLayout } from '../../src/models/llava-next/anyres';
import { parseAnyresConfig } from '../../src/models/llava-next/config';
import { AnyresLlavaFacts } from '../../src/models/llava-next/model';
import { llavaNextFamily, llavaOnevisionFamily } from '../../src/models/llava-next';
import { familyFor } from '../../src/models/registry';
import { llavaNamesFor } from '../../src/models/llava/model';
import { llavaTensorDtypes } from '../../src/models/llava/weights';
import { makeTinyLlavaNext, makeTinyLlavaOnevision, NEXT_PRESETS, ONEVISION_PRESETS, type TinyAnyresPreset } from '../fixtures/tiny/llava-next';

type Json = Record<string, unknown>;
const json = (files: Map<string, Uint8Array>, name: string): Json => JSON.parse(new TextDecoder().decode(files.get(name)!)) as Json;

function tensors(files: Map<string, Uint8Array>): Map<string, { dtype: string; shape: number[] }> {
  const bytes = files.get('model.safetensors')!;
  const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, 'model.safetensors');
  const out = new Map<string, { dtype: string; shape: number[] }>();
  for (const t of parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength, 'model.safetensors').tensors.values()) out.set(t.name, { dtype: t.dtype, shape: t.shape });
  return out;
}

/** The tensors of an HF LlavaNext / LlavaOnevision checkpoint, written out independently of src/models. */
function expectedShapes(p: TinyAnyresPreset, vocab: number, o: { tower: 'clip' | 'siglip'; qwen2: boolean; layout: 'hub' | 'new' }): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const { text: t, vision: v } = p;
  const hd = t.hidden / t.heads;
  const hub = o.layout === 'hub';
  const lm = hub ? 'language_model.model' : 'model.language_model';
  const vt = hub ? 'vision_tower.vision_model' : 'model.vision_tower.vision_model';
  const pj = hub ? 'multi_modal_projector' : 'model.multi_modal_projector';
  const patches = (v.imageSize / v.patchSize) ** 2;
  if (o.tower === 'clip') {
    m.set(`${vt}.embeddings.class_embedding`, [v.hidden]);
    m.set(`${vt}.embeddings.patch_embedding.weight`, [v.hidden, 3, v.patchSize, v.patchSize]);
    m.set(`${vt}.embeddings.position_embedding.weight`, [patches + 1, v.hidden]);
    for (const x of ['weight', 'bias']) m.set(`${vt}.pre_layrnorm.${x}`, [v.hidden]);
  } else {
    m.set(`${vt}.embeddings.patch_embedding.weight`, [v.hidden, 3, v.patchSize, v.patchSize]);
    m.set(`${vt}.embeddings.patch_embedding.bias`, [v.hidden]);
    m.set(`${vt}.embeddings.position_embedding.weight`, [patches, v.hidden]);
  }
  for (const x of ['weight', 'bias']) m.set(`${vt}.post_layernorm.${x}`, [v.hidden]);
  for (let i = 0; i < v.layers; i++) {
    const l = `${vt}.encoder.layers.${i}`;
    for (const x of ['q', 'k', 'v', 'out']) {
      m.set(`${l}.self_attn.${x}_proj.weight`, [v.hidden, v.hidden]);
      m.set(`${l}.self_attn.${x}_proj.bias`, [v.hidden]);
    }
    for (const n of ['layer_norm1', 'layer_norm2']) for (const x of ['weight', 'bias']) m.set(`${l}.${n}.${x}`, [v.hidden]);
    m.set(`${l}.mlp.fc1.weight`, [v.intermediate, v.hidden]);
    m.set(`${l}.mlp.fc1.bias`, [v.intermediate]);
    m.set(`${l}.mlp.fc2.weight`, [v.hidden, v.intermediate]);
    m.set(`${l}.mlp.fc2.bias`, [v.hidden]);
  }
  m.set(`${pj}.linear_1.weight`, [t.hidden, v.hidden]);
  m.set(`${pj}.linear_1.bias`, [t.hidden]);
  m.set(`${pj}.linear_2.weight`, [t.hidden, t.hidden]);
  m.set(`${pj}.linear_2.bias`, [t.hidden]);
  m.set(hub ? 'image_newline' : 'model.image_newline', [t.hidden]);
  m.set(`${lm}.embed_tokens.weight`, [vocab, t.hidden]);
  for (let i = 0; i < t.layers; i++) {
    const l = `${lm}.layers.${i}`;
    m.set(`${l}.self_attn.q_proj.weight`, [t.heads * hd, t.hidden]);
    m.set(`${l}.self_attn.k_proj.weight`, [t.kvHeads * hd, t.hidden]);
    m.set(`${l}.self_attn.v_proj.weight`, [t.kvHeads * hd, t.hidden]);
    if (o.qwen2) {
      m.set(`${l}.self_attn.q_proj.bias`, [t.heads * hd]);
      m.set(`${l}.self_attn.k_proj.bias`, [t.kvHeads * hd]);
      m.set(`${l}.self_attn.v_proj.bias`, [t.kvHeads * hd]);
    }
    m.set(`${l}.self_attn.o_proj.weight`, [t.hidden, t.heads * hd]);
    m.set(`${l}.mlp.gate_proj.weight`, [t.intermediate, t.hidden]);
    m.set(`${l}.mlp.up_proj.weight`, [t.intermediate, t.hidden]);
    m.set(`${l}.mlp.down_proj.weight`, [t.hidden, t.intermediate]);
    m.set(`${l}.input_layernorm.weight`, [t.hidden]);
    m.set(`${l}.post_attention_layernorm.weight`, [t.hidden]);
  }
  m.set(`${lm}.norm.weight`, [t.hidden]);
  if (!o.qwen2) m.set(hub ? 'language_model.lm_head.weight' : 'lm_head.weight', [vocab, t.hidden]);
  return m;
}

const shapesOf = (files: Map<string, Uint8Array>) => new Map([...tensors(files)].map(([k, v]) => [k, v.shape]));

describe('tiny llava_next checkpoint (llava-v1.6-mistral-7b-hf layout)', () => {
  for (const layout of ['hub', 'new'] as const) {
    it(`${layout} layout: exactly the expected tensor names and shapes`, () => {
      const files = makeTinyLlavaNext({ seed: 3, layout });
      const config = json(files, 'config.json');
      const vocab = (config['text_config'] as Json)['vocab_size'] as number;
      expect(vocab % 64).toBe(0);
      expect(shapesOf(files)).toEqual(expectedShapes(NEXT_PRESETS.tiny, vocab, { tower: 'clip', qwen2: false, layout }));
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
    const plan = llavaTensorDtypes(llavaNamesFor(c.llava, tensors(files).keys(), { imageNewline: true }));
    expect(plan.get('image_newline')).toBe('f32');
    for (const name of plan.keys()) expect(tensors(files).has(name), name).toBe(true);
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
      expect(shapesOf(files)).toEqual(expectedShapes(ONEVISION_PRESETS.tiny, vocab, { tower: 'siglip', qwen2: true, layout }));
      for (const t of tensors(files).values()) expect(t.dtype).toBe('BF16');
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
