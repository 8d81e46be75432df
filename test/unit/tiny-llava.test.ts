import { LlamaTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { MemorySource, readJson } from '../../src/load/source';
import { parseLlavaConfig } from '../../src/models/llava/config';
import { detectLlavaLayout, llavaTensorDtypes, llavaWeightNames } from '../../src/models/llava/weights';
import { referenceGenerate } from '../../src/reference/llava';
import { bf16BitsToFloat } from '../../src/util/half';
import { loadPreprocessor } from '../../src/preprocess';
import {
  buildTinyTokenizer,
  LLAVA_CHAT_TEMPLATE,
  makeTinyLlava,
  presetImageTokens,
  PRESETS,
  QWEN2_LLAVA_CHAT_TEMPLATE,
  type PresetName,
  type TinyLlavaPreset,
} from '../fixtures/tiny/llava';
import { referenceWeights } from '../helpers/llava';
import { checkpointTensors, decoderShapes, expectExactTensors, llavaNames, llavaProjectorShapes, towerShapes, type Shapes } from '../helpers/tensor-shapes';

type Json = Record<string, any>;
const text = (files: Map<string, Uint8Array>, name: string) => new TextDecoder().decode(files.get(name)!);
const json = (files: Map<string, Uint8Array>, name: string): Json => JSON.parse(text(files, name));

/** The tensors an HF LlavaForConditionalGeneration checkpoint of this preset holds, written out independently of src/models. */
function expectedShapes(p: TinyLlavaPreset, vocab: number, layout: 'hub' | 'new'): Shapes {
  const n = llavaNames(layout);
  const m = towerShapes(new Map(), n.vt, p.vision, p.vision.kind ?? 'clip');
  llavaProjectorShapes(m, n.pj, p.text.hidden, p.vision.hidden);
  return decoderShapes(m, n.lm, p.text, vocab, { qkvBias: p.text.kind === 'qwen2', lmHead: p.text.tieEmbeddings ? null : n.lmHead });
}

const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

describe('tiny LLaVA checkpoint generator', () => {
  it('is deterministic from its seed', () => {
    const a = makeTinyLlava({ seed: 5 });
    const b = makeTinyLlava({ seed: 5 });
    const c = makeTinyLlava({ seed: 6 });
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [name, bytes] of a) expect(Buffer.from(bytes).equals(Buffer.from(b.get(name)!)), name).toBe(true);
    expect(Buffer.from(a.get('model.safetensors')!).equals(Buffer.from(c.get('model.safetensors')!))).toBe(false);
    // Only the weights depend on the seed.
    for (const name of a.keys()) if (name !== 'model.safetensors') expect(text(c, name), name).toBe(text(a, name));
  });

  it('writes the Hugging Face file set', () => {
    expect([...makeTinyLlava().keys()].sort()).toEqual([
      'chat_template.json',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'preprocessor_config.json',
      'processor_config.json',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect([...makeTinyLlava({ sharded: true }).keys()].filter((n) => n.startsWith('model')).sort()).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  it('has the visual-token counts the presets promise', () => {
    expect(Object.fromEntries(PRESET_NAMES.map((p) => [p, presetImageTokens(PRESETS[p])]))).toEqual({
      tiny: 64,
      'tiny-mha': 65,
      'tiny-nonsquare': 49,
      'tiny-144': 144,
      'bench-576': 576,
      'tiny-qwen2-siglip': 49,
      'tiny-qwen2-siglip-121': 121,
    });
  });

  for (const preset of PRESET_NAMES) {
    for (const layout of ['hub', 'new'] as const) {
      it(`${preset}, ${layout} layout: exactly the expected tensors, shapes from the config, F32`, () => {
        const files = makeTinyLlava({ seed: 3, preset, layout });
        const cfg = json(files, 'config.json');
        expectExactTensors(files, expectedShapes(PRESETS[preset], cfg.text_config.vocab_size, layout), 'F32');
        // Config agrees with the preset and the tokenizer.
        const p: TinyLlavaPreset = PRESETS[preset];
        const t = cfg.text_config;
        const v = cfg.vision_config;
        const qwen = p.text.kind === 'qwen2';
        const siglip = p.vision.kind === 'siglip';
        expect(cfg).toMatchObject({ model_type: 'llava', architectures: ['LlavaForConditionalGeneration'], vision_feature_layer: siglip ? -1 : -2, vision_feature_select_strategy: p.strategy, projector_hidden_act: 'gelu' });
        const sizes = { hidden_size: p.text.hidden, intermediate_size: p.text.intermediate, num_hidden_layers: p.text.layers, num_attention_heads: p.text.heads, num_key_value_heads: p.text.kvHeads, tie_word_embeddings: p.text.tieEmbeddings };
        if (qwen) expect(t).toMatchObject({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], ...sizes, rms_norm_eps: 1e-6, rope_theta: 1e6, use_sliding_window: false });
        else expect(t).toMatchObject({ model_type: 'llama', ...sizes, rms_norm_eps: 1e-5, rope_theta: 10000 });
        const visionSizes = { hidden_size: p.vision.hidden, intermediate_size: p.vision.intermediate, num_hidden_layers: p.vision.layers, num_attention_heads: p.vision.heads, image_size: p.vision.imageSize, patch_size: p.vision.patchSize, num_channels: 3 };
        if (siglip) expect(v).toEqual({ model_type: 'siglip_vision_model', ...visionSizes, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6, vision_use_head: false });
        else expect(v).toMatchObject({ model_type: 'clip_vision_model', ...visionSizes, hidden_act: 'quick_gelu' });
        const tok = json(files, 'tokenizer.json');
        const added = Object.fromEntries(tok.added_tokens.map((a: Json) => [a.content, a.id]));
        expect(cfg.image_token_index).toBe(added['<image>']);
        if (qwen) expect(cfg).not.toHaveProperty('pad_token_id'); // Qwen's own pad token, as the converter leaves it
        else expect(cfg.pad_token_id).toBe(added['<pad>']);
        // Base vocabulary + <image> <pad> (+ Qwen's three).
        expect(t.vocab_size).toBe(Object.keys(tok.model.vocab).length + 2 + (qwen ? 3 : 0));
        expect(json(files, 'processor_config.json')).toEqual({ image_token: '<image>', num_additional_image_tokens: siglip ? 0 : 1, patch_size: p.vision.patchSize, processor_class: 'LlavaProcessor', vision_feature_select_strategy: p.strategy });
        const pre = json(files, 'preprocessor_config.json');
        if (siglip) {
          expect(pre).toEqual({ do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_processor_type: 'SiglipImageProcessor', image_std: [0.5, 0.5, 0.5], processor_class: 'LlavaProcessor', resample: 3, rescale_factor: 1 / 255, size: { height: p.vision.imageSize, width: p.vision.imageSize } });
        } else {
          expect(pre).toMatchObject({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: p.vision.imageSize }, crop_size: { height: p.vision.imageSize, width: p.vision.imageSize }, resample: 3, do_convert_rgb: true });
        }
        if (qwen) expect(json(files, 'generation_config.json')).toMatchObject({ bos_token_id: added['<|endoftext|>'], eos_token_id: added['<|im_end|>'], pad_token_id: added['<|endoftext|>'] });
        else expect(json(files, 'generation_config.json')).toMatchObject({ bos_token_id: 1, eos_token_id: 2, pad_token_id: added['<pad>'] });
      });
    }
  }

  for (const preset of PRESET_NAMES) {
    for (const variant of [{ dtype: 'f32', layout: 'hub', shards: 1 }, { dtype: 'bf16', layout: 'new', shards: 3 }] as const) {
      it(`${preset} ${variant.dtype} ${variant.layout} ×${variant.shards}: loads with the runtime's config parser and weight names`, async () => {
        const files = makeTinyLlava({ seed: 1, preset, ...variant });
        const source = new MemorySource(files);
        const config = parseLlavaConfig(await readJson(source, 'config.json'));
        expect(config.tileTokens).toBe(presetImageTokens(PRESETS[preset]));
        const ck = await openCheckpoint(source);
        const layout = detectLlavaLayout(ck.tensors.keys());
        expect(layout).toBe(variant.layout);
        const names = llavaWeightNames(config, layout!);
        ck.require(llavaTensorDtypes(names).keys());
        const t = config.text;
        expect(ck.info(names.text.layers[0]!.k).shape).toEqual([t.numKvHeads * t.headDim, t.hiddenSize]);
        expect(ck.info(names.text.embed).dtype).toBe(variant.dtype === 'bf16' ? 'BF16' : 'F32');
      });
    }
  }

  it('bf16 holds the f32 weights rounded to bfloat16', () => {
    const f32 = checkpointTensors(makeTinyLlava({ seed: 9, preset: 'tiny-mha' }));
    const bf16 = checkpointTensors(makeTinyLlava({ seed: 9, preset: 'tiny-mha', dtype: 'bf16' }));
    expect(json(makeTinyLlava({ seed: 9, dtype: 'bf16' }), 'config.json').torch_dtype).toBe('bfloat16');
    expect([...bf16.keys()]).toEqual([...f32.keys()]);
    for (const [name, b] of bf16) {
      const exact = new Float32Array(f32.get(name)!.bytes.slice().buffer);
      const rounded = bf16BitsToFloat(new Uint16Array(b.bytes.slice().buffer));
      expect(b.dtype).toBe('BF16');
      // Round to nearest: within half a bf16 ulp (2^-8 relative). One expect per tensor (not
      // per element) keeps this fast; the message names the first element out of bounds.
      let firstBad = -1;
      for (let i = 0; i < exact.length && firstBad < 0; i++) {
        if (!(Math.abs(rounded[i]! - exact[i]!) <= Math.abs(exact[i]!) * 2 ** -8)) firstBad = i;
      }
      expect(firstBad, `${name}[${firstBad}]: ${rounded[firstBad]} vs ${exact[firstBad]}`).toBe(-1);
    }
  });

  it('shards: the index covers every tensor exactly once, in the file it names, with the right total size', () => {
    for (const shards of [2, 3, 5]) {
      const files = makeTinyLlava({ seed: 4, shards, dtype: 'bf16' });
      expect(files.has('model.safetensors')).toBe(false);
      const index = json(files, 'model.safetensors.index.json');
      const tensors = checkpointTensors(files);
      expect(Object.keys(index.weight_map).sort()).toEqual([...tensors.keys()].sort());
      for (const [name, t] of tensors) expect(index.weight_map[name], name).toBe(t.file);
      expect(new Set(Object.values(index.weight_map)).size).toBe(shards);
      expect(index.metadata.total_size).toBe([...tensors.values()].reduce((s, t) => s + t.bytes.byteLength, 0));
      // Same tensors as the single-file checkpoint, byte for byte.
      const single = checkpointTensors(makeTinyLlava({ seed: 4, dtype: 'bf16' }));
      for (const [name, t] of single) expect(Buffer.from(tensors.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
    }
  });

  it('pads the vocabulary like llava-1.5-7b-hf (32064 rows for 32002 tokens) with zero rows', () => {
    const files = makeTinyLlava({ seed: 2, vocabPadMultiple: 64 });
    const tokens = buildTinyTokenizer().size;
    const vocab = json(files, 'config.json').text_config.vocab_size;
    expect(vocab % 64).toBe(0);
    expect(vocab).toBeGreaterThan(tokens);
    const head = checkpointTensors(files).get('language_model.lm_head.weight')!;
    expect(head.shape).toEqual([vocab, 64]);
    const values = new Float32Array(head.bytes.slice().buffer);
    expect(values.subarray(tokens * 64).every((x) => x === 0)).toBe(true);
    expect(values.subarray(0, tokens * 64).some((x) => x !== 0)).toBe(true);
  });

  it('tokenizer: loads in transformers.js, round-trips text, tokenises like llava-1.5-hf around the image', () => {
    const files = makeTinyLlava();
    const tok = new LlamaTokenizer(json(files, 'tokenizer.json'), json(files, 'tokenizer_config.json'));
    const vocab = Object.fromEntries(tok.get_vocab() as Map<string, number>); // a Map in transformers.js 4
    expect(Object.keys(vocab).length).toBe(buildTinyTokenizer().size);
    expect(Object.keys(vocab).length).toBeGreaterThanOrEqual(450);
    expect(Object.keys(vocab).length).toBeLessThanOrEqual(600);
    expect([tok.unk_token_id, tok.bos_token_id, tok.eos_token_id]).toEqual([0, 1, 2]);
    for (const s of [
      'What is the color of the circle?',
      'How many objects are there in the picture? Answer with a single word.',
      'The quick brown fox jumps over the lazy dog: 0123456789 (x/y) "quoted" it\'s',
      'Is it red , or blue ?  Two  spaces.',
    ]) {
      const ids = tok.encode(s);
      expect(ids[0]).toBe(1);
      expect(tok.decode(ids, { skip_special_tokens: true }), s).toBe(s);
    }
    // Common words are single pieces; text is mostly word pieces, not letters.
    for (const w of ['▁the', '▁image', '▁color', '▁circle', '▁What', '▁How']) expect(vocab[w], w).toBeTypeOf('number');
    const sentence = 'What is the color of the square in the image?';
    expect(tok.encode(sentence, { add_special_tokens: false }).length).toBeLessThanOrEqual(12);
    // "<image>\n": the image token, then "▁" and the newline as the byte token <0x0A> (llava-1.5-hf: 32000, 29871, 13).
    const ids = tok.encode('USER: <image>\nWhat', { add_special_tokens: false });
    const imageId = vocab['<image>']!;
    const at = ids.indexOf(imageId);
    expect(at).toBeGreaterThan(0);
    expect(ids.slice(at, at + 3)).toEqual([imageId, vocab['▁'], vocab['<0x0A>']]);
    expect(tok.decode(ids)).toBe('USER: <image> \nWhat'); // special kept: the "▁" after it decodes to a space
  });

  it('chat template: the Hub text for llava-1.5, rendering its conversation format', () => {
    const files = makeTinyLlava();
    expect(json(files, 'chat_template.json')).toEqual({ chat_template: LLAVA_CHAT_TEMPLATE });
    expect(LLAVA_CHAT_TEMPLATE).toContain("{% generation %}{{ content['text'] + ' '}}{% endgeneration %}");
    const tok = new LlamaTokenizer(json(files, 'tokenizer.json'), json(files, 'tokenizer_config.json'));
    const render = (messages: unknown[], add_generation_prompt = true) =>
      tok.apply_chat_template(messages as never, { chat_template: LLAVA_CHAT_TEMPLATE, tokenize: false, add_generation_prompt }) as string;
    // Images first whatever their order in the content, text after with a trailing space.
    expect(render([{ role: 'user', content: [{ type: 'text', text: 'What is shown?' }, { type: 'image' }] }])).toBe('USER: <image>\nWhat is shown? ASSISTANT:');
    expect(
      render([
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Color?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Red.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Shape?' }] },
      ]),
    ).toBe('USER: <image>\nColor? ASSISTANT: Red. USER: Shape? ASSISTANT:');
    expect(render([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], false)).toBe('USER: Hi ');
  });

  it('random weights give finite, varied logits and non-degenerate greedy text', async () => {
    for (const preset of ['tiny', 'tiny-mha', 'tiny-nonsquare', 'tiny-qwen2-siglip'] as const) {
      for (const seed of [1, 2]) {
        const files = makeTinyLlava({ seed, preset });
        const w = await referenceWeights(files);
        const n = w.config.tileTokens;
        const S = w.config.vision.imageSize;
        // <s> USER : ▁ [image × n] ▁ <0x0A> … ASSISTANT : — the ids only matter as a plausible prompt.
        const ids = Uint32Array.from([1, 300, 320, 340, ...Array(n).fill(w.config.imageTokenIndex), 262, 13, 350, 360, 370, 380]);
        const pixels = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37 + seed));
        const g = referenceGenerate(w, ids, { start: 4, end: 4 + n }, pixels, 10, []);
        for (const l of g.logits) expect(l.every(Number.isFinite)).toBe(true);
        const first = g.logits[0]!;
        const mean = first.reduce((a, b) => a + b, 0) / first.length;
        const std = Math.sqrt(first.reduce((a, b) => a + (b - mean) ** 2, 0) / first.length);
        expect(std, `${preset} seed ${seed} logit spread`).toBeGreaterThan(0.3);
        expect(std, `${preset} seed ${seed} logit spread`).toBeLessThan(10);
        expect(new Set(g.tokens).size, `${preset} seed ${seed} tokens ${g.tokens}`).toBeGreaterThanOrEqual(3);
      }
    }
  });
});

describe('tiny SigLIP + Qwen2 LLaVA (llava-interleave-qwen-0.5b-hf layout)', () => {
  it('holds exactly the tensors of that checkpoint: SigLIP without CLS or pre-LN, conv bias, post-LN kept, q/k/v biases, no lm_head (tied)', () => {
    const files = makeTinyLlava({ seed: 3, preset: 'tiny-qwen2-siglip' });
    const tensors = checkpointTensors(files);
    const shape = (name: string) => tensors.get(name)?.shape;
    // Written out by hand (hidden 48 / 64, 7 × 7 = 49 patches of 8 px, GQA 4 / 2 heads of 16).
    expect(shape('vision_tower.vision_model.embeddings.patch_embedding.weight')).toEqual([48, 3, 8, 8]);
    expect(shape('vision_tower.vision_model.embeddings.patch_embedding.bias')).toEqual([48]);
    expect(shape('vision_tower.vision_model.embeddings.position_embedding.weight')).toEqual([49, 48]);
    expect(shape('vision_tower.vision_model.encoder.layers.1.self_attn.k_proj.bias')).toEqual([48]);
    expect(shape('vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight')).toEqual([96, 48]);
    expect(shape('vision_tower.vision_model.post_layernorm.weight')).toEqual([48]);
    expect(shape('multi_modal_projector.linear_1.weight')).toEqual([64, 48]);
    expect(shape('language_model.model.layers.0.self_attn.q_proj.bias')).toEqual([64]);
    expect(shape('language_model.model.layers.1.self_attn.k_proj.weight')).toEqual([32, 64]);
    expect(shape('language_model.model.layers.1.self_attn.v_proj.bias')).toEqual([32]);
    expect(shape('language_model.model.layers.1.mlp.down_proj.weight')).toEqual([64, 176]);
    const names = [...tensors.keys()];
    for (const absent of ['class_embedding', 'pre_layrnorm', 'lm_head', 'o_proj.bias', 'mlp.gate_proj.bias', '.head.']) {
      expect(names.filter((n) => n.includes(absent)), absent).toEqual([]);
    }
    // 3 embedding + 16 per encoder layer × 2 + 2 post-LN + 4 projector + 1 embed + 12 per decoder layer × 2 + 1 norm.
    expect(names.length).toBe(3 + 32 + 2 + 4 + 1 + 24 + 1);
    const renamed = [...checkpointTensors(makeTinyLlava({ seed: 3, preset: 'tiny-qwen2-siglip', layout: 'new' })).keys()];
    expect(renamed).toContain('model.vision_tower.vision_model.embeddings.patch_embedding.bias');
    expect(renamed).toContain('model.language_model.layers.0.self_attn.q_proj.bias');
    expect(renamed.filter((n) => n.includes('lm_head'))).toEqual([]);
  });

  it('parses in the runtime as SigLIP + Qwen2: biases, tied head, θ 1e6, eps 1e-6, last-layer full features, post-LN not read', async () => {
    const files = makeTinyLlava({ seed: 1, preset: 'tiny-qwen2-siglip' });
    const source = new MemorySource(files);
    const config = parseLlavaConfig(await readJson(source, 'config.json'));
    expect(config.text).toMatchObject({ modelType: 'qwen2', qkvBias: true, tieWordEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, numHeads: 4, numKvHeads: 2 });
    expect(config.vision).toMatchObject({ kind: 'siglip', imageSize: 60, patchSize: 8, hiddenAct: 'gelu_pytorch_tanh', layerNormEps: 1e-6 });
    expect([config.visionFeatureLayer, config.visionFeatureSelectStrategy, config.tileTokens]).toEqual([-1, 'full', 49]);
    const names = llavaWeightNames(config, 'hub');
    expect(names.text.lmHead).toBeNull();
    expect(names.vision.kind).toBe('siglip');
    const read = [...llavaTensorDtypes(names).keys()];
    expect(read.filter((n) => n.includes('post_layernorm'))).toEqual([]);
    expect(read).toContain('language_model.model.layers.1.self_attn.v_proj.bias');
  });

  it("tokenizer and processor files: Qwen's special tokens, no BOS, eos <|im_end|>, ChatML template, SigLIP resize without crop", async () => {
    const files = makeTinyLlava({ seed: 1, preset: 'tiny-qwen2-siglip' });
    expect(json(files, 'chat_template.json')).toEqual({ chat_template: QWEN2_LLAVA_CHAT_TEMPLATE });
    const tokConfig = json(files, 'tokenizer_config.json');
    expect(tokConfig).toMatchObject({ tokenizer_class: 'Qwen2Tokenizer', bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', unk_token: null });
    const pre = await loadPreprocessor(new MemorySource(files));
    const vocab = Object.fromEntries(pre.tokenizer.get_vocab() as Map<string, number>);
    const [endOfText, imStart, imEnd] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((t) => vocab[t]!);
    expect([imStart - endOfText, imEnd - endOfText]).toEqual([1, 2]); // in Qwen's order
    expect(pre.eosTokenIds).toEqual([imEnd]);
    expect(pre.bosTokenId).toBe(endOfText);
    expect(pre.padTokenId).toBe(endOfText);
    expect(pre.imageTokenCount).toBe(49); // 7 × 7 + 0 additional tokens, 'full'
    const prompt = pre.buildPrompt('What is shown?', { hasImage: true });
    expect(prompt).toBe('<|im_start|>user\n<image>\nWhat is shown?<|im_end|>\n<|im_start|>assistant\n');
    expect(pre.buildPrompt('Hi', { hasImage: false })).toBe('<|im_start|>user\n\nHi<|im_end|>\n<|im_start|>assistant\n');
    const { inputIds, imageSpans } = pre.encode(prompt);
    expect(inputIds[0]).toBe(imStart); // nothing added in front: Qwen2 has no BOS
    expect(imageSpans).toEqual([{ start: imageSpans[0]!.start, end: imageSpans[0]!.start + 49 }]);
    expect([...inputIds].filter((id) => id === imEnd)).toHaveLength(1);
    // Plain text round-trips; no token is added around it.
    const ids = pre.tokenizer.encode('What is the color of the circle?') as number[];
    expect(ids.includes(vocab['<s>']!)).toBe(false);
    expect(pre.decode(ids)).toBe('What is the color of the circle?');
    // SiglipImageProcessor: a plain resize to 60 × 60 whatever the aspect (no crop), (x/255 − 0.5) / 0.5.
    const rgb = [200, 100, 30];
    const solid = { data: new Uint8ClampedArray(83 * 47 * 4).map((_, i) => (i % 4 === 3 ? 255 : rgb[i % 4]!)), width: 83, height: 47, channels: 4 as const };
    const { pixelValues, width, height } = await pre.preprocessImage(solid);
    expect([width, height]).toEqual([60, 60]);
    for (let c = 0; c < 3; c++) {
      const plane = pixelValues.subarray(c * 3600, (c + 1) * 3600);
      const expected = (rgb[c]! / 255 - 0.5) / 0.5;
      expect(plane.every((x) => Math.abs(x - expected) < 1e-5), `channel ${c}`).toBe(true);
    }
  });
});
