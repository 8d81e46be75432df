/**
 * Tiny random LLaVA-1.5 checkpoints in the exact Hugging Face layout, deterministic from a
 * seed: config.json, safetensors (F32 or BF16, one file or shards + index), a Llama-style
 * byte-fallback BPE tokenizer.json + tokenizer_config.json with llava-1.5-hf's chat format,
 * special_tokens_map.json, preprocessor_config.json (CLIPImageProcessor),
 * processor_config.json and generation_config.json. Pure: returns file name → bytes, so tests
 * can build checkpoints in memory (Node or browser) and the CLI can write them to disk.
 */
import { encodeSafetensors, type TensorToWrite } from '../src/load/safetensors';
import { Rng } from '../src/util/random';

export interface TinyLlavaPreset {
  text: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number; tieEmbeddings: boolean };
  vision: { hidden: number; intermediate: number; layers: number; heads: number; imageSize: number; patchSize: number };
  strategy: 'default' | 'full';
}

export const PRESETS = {
  /** GQA (4 query heads, 2 KV heads), 64 visual tokens. */
  tiny: {
    text: { hidden: 64, intermediate: 172, layers: 2, heads: 4, kvHeads: 2, tieEmbeddings: false },
    vision: { hidden: 48, intermediate: 96, layers: 2, heads: 3, imageSize: 56, patchSize: 7 },
    strategy: 'default',
  },
  /** Multi-head attention, tied embeddings, 'full' features (CLS kept): 65 visual tokens. */
  'tiny-mha': {
    text: { hidden: 64, intermediate: 160, layers: 3, heads: 4, kvHeads: 4, tieEmbeddings: true },
    vision: { hidden: 32, intermediate: 64, layers: 2, heads: 2, imageSize: 56, patchSize: 7 },
    strategy: 'full',
  },
  /** 144 visual tokens, 4 layers: a pruning-sized prompt. */
  'tiny-144': {
    text: { hidden: 64, intermediate: 172, layers: 4, heads: 4, kvHeads: 2, tieEmbeddings: false },
    vision: { hidden: 32, intermediate: 64, layers: 2, heads: 2, imageSize: 84, patchSize: 7 },
    strategy: 'default',
  },
  /** LLaVA-1.5's 576 visual tokens (336 px, patch 14) on a small 8-layer decoder: for benchmarks. */
  'bench-576': {
    text: { hidden: 256, intermediate: 688, layers: 8, heads: 8, kvHeads: 4, tieEmbeddings: false },
    vision: { hidden: 64, intermediate: 128, layers: 2, heads: 2, imageSize: 336, patchSize: 14 },
    strategy: 'default',
  },
} satisfies Record<string, TinyLlavaPreset>;

export type PresetName = keyof typeof PRESETS;

export interface TinyLlavaOptions {
  seed?: number;
  preset?: PresetName | TinyLlavaPreset;
  dtype?: 'f32' | 'bf16';
  /** Split the weights into this many shards with model.safetensors.index.json. */
  shards?: number;
  /** 'hub': language_model.model.* (checkpoints on the Hub); 'new': model.language_model.* (transformers ≥ 4.52). */
  layout?: 'hub' | 'new';
}

// ---- tokenizer ---------------------------------------------------------------------------

const SPACE = '▁';
const WORDS = [
  'what', 'is', 'the', 'color', 'of', 'how', 'many', 'are', 'there', 'in', 'image', 'picture', 'a', 'an',
  'left', 'right', 'above', 'below', 'red', 'green', 'blue', 'yellow', 'white', 'black', 'circle', 'square',
  'triangle', 'yes', 'no', 'one', 'two', 'three', 'four', 'five', 'to', 'and', 'this', 'shape', 'object',
  'describe', 'answer', 'question', 'with', 'word', 'single', 'number', 'USER', 'ASSISTANT',
];

/** Llama-style BPE vocabulary: specials, 256 byte tokens, characters, word pieces by chain merges. */
function buildTokenizer(): { json: unknown; vocabSize: number; imageTokenId: number; padTokenId: number } {
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  ['<unk>', '<s>', '</s>'].forEach(add);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const chars = `${SPACE}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!:;'"-()/\n`;
  for (const ch of chars) add(ch);
  const merges: [string, string][] = [];
  const seen = new Set<string>();
  for (const word of WORDS) {
    // "▁what": ▁+w → ▁w, ▁w+h → ▁wh, … (a chain of merges per word)
    let piece = SPACE;
    for (const ch of word) {
      const merged = piece + ch;
      if (!seen.has(merged)) {
        seen.add(merged);
        merges.push([piece, ch]);
        add(merged);
      }
      piece = merged;
    }
  }
  const imageTokenId = Object.keys(vocab).length;
  vocab['<image>'] = imageTokenId;
  const padTokenId = imageTokenId + 1;
  vocab['<pad>'] = padTokenId;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>'), special(imageTokenId, '<image>'), special(padTokenId, '<pad>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return { json, vocabSize: padTokenId + 1, imageTokenId, padTokenId };
}

/**
 * llava-1.5-hf's conversation format — "USER: <image>\n{text} ASSISTANT:" — written as a
 * plain loop (same output as the Hub's template for user/assistant turns with images first).
 */
export const LLAVA_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}" +
  "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<image>\\n' }}{% endif %}{% endfor %}" +
  "{% for content in message['content'] %}{% if content['type'] == 'text' %}{{ content['text'] + ' ' }}{% endif %}{% endfor %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

// ---- weights --------------------------------------------------------------------------------

function bf16Bytes(values: Float32Array): Uint8Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = u[i]!;
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // round to nearest even
  }
  return new Uint8Array(out.buffer);
}

export function makeTinyLlava(options: TinyLlavaOptions = {}): Map<string, Uint8Array> {
  const preset: TinyLlavaPreset = typeof options.preset === 'object' ? options.preset : PRESETS[options.preset ?? 'tiny'];
  const rng = new Rng(options.seed ?? 1);
  const dtype = options.dtype ?? 'f32';
  const layout = options.layout ?? 'hub';
  const tok = buildTokenizer();
  const t = preset.text;
  const v = preset.vision;
  const headDim = t.hidden / t.heads;
  const patches = (v.imageSize / v.patchSize) ** 2;

  const tensors: TensorToWrite[] = [];
  const put = (name: string, shape: number[], values: Float32Array) => {
    tensors.push({
      name,
      dtype: dtype === 'bf16' ? 'BF16' : 'F32',
      shape,
      data: dtype === 'bf16' ? bf16Bytes(values) : new Uint8Array(values.buffer.slice(0)),
    });
  };
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    put(`${name}.weight`, [out, inp], rng.floats(out * inp, 1 / Math.sqrt(inp)));
    if (bias) put(`${name}.bias`, [out], rng.floats(out, 0.02));
  };
  const norm = (name: string, dim: number, bias: boolean) => {
    put(`${name}.weight`, [dim], Float32Array.from(rng.floats(dim, 0.1), (x) => 1 + x));
    if (bias) put(`${name}.bias`, [dim], rng.floats(dim, 0.02));
  };

  const lm = layout === 'hub' ? 'language_model.model' : 'model.language_model';
  const vt = layout === 'hub' ? 'vision_tower.vision_model' : 'model.vision_tower.vision_model';
  const pj = layout === 'hub' ? 'multi_modal_projector' : 'model.multi_modal_projector';

  put(`${vt}.embeddings.class_embedding`, [v.hidden], rng.floats(v.hidden, 0.5));
  put(`${vt}.embeddings.patch_embedding.weight`, [v.hidden, 3, v.patchSize, v.patchSize], rng.floats(v.hidden * 3 * v.patchSize ** 2, 1 / Math.sqrt(3 * v.patchSize ** 2)));
  put(`${vt}.embeddings.position_embedding.weight`, [patches + 1, v.hidden], rng.floats((patches + 1) * v.hidden, 0.5));
  norm(`${vt}.pre_layrnorm`, v.hidden, true);
  for (let i = 0; i < v.layers; i++) {
    const p = `${vt}.encoder.layers.${i}`;
    for (const x of ['q', 'k', 'v']) linear(`${p}.self_attn.${x}_proj`, v.hidden, v.hidden, true);
    linear(`${p}.self_attn.out_proj`, v.hidden, v.hidden, true);
    norm(`${p}.layer_norm1`, v.hidden, true);
    linear(`${p}.mlp.fc1`, v.intermediate, v.hidden, true);
    linear(`${p}.mlp.fc2`, v.hidden, v.intermediate, true);
    norm(`${p}.layer_norm2`, v.hidden, true);
  }
  norm(`${vt}.post_layernorm`, v.hidden, true);
  linear(`${pj}.linear_1`, t.hidden, v.hidden, true);
  linear(`${pj}.linear_2`, t.hidden, t.hidden, true);
  put(`${lm}.embed_tokens.weight`, [tok.vocabSize, t.hidden], rng.floats(tok.vocabSize * t.hidden, 1));
  for (let i = 0; i < t.layers; i++) {
    const p = `${lm}.layers.${i}`;
    linear(`${p}.self_attn.q_proj`, t.heads * headDim, t.hidden, false);
    linear(`${p}.self_attn.k_proj`, t.kvHeads * headDim, t.hidden, false);
    linear(`${p}.self_attn.v_proj`, t.kvHeads * headDim, t.hidden, false);
    linear(`${p}.self_attn.o_proj`, t.hidden, t.heads * headDim, false);
    linear(`${p}.mlp.gate_proj`, t.intermediate, t.hidden, false);
    linear(`${p}.mlp.up_proj`, t.intermediate, t.hidden, false);
    linear(`${p}.mlp.down_proj`, t.hidden, t.intermediate, false);
    norm(`${p}.input_layernorm`, t.hidden, false);
    norm(`${p}.post_attention_layernorm`, t.hidden, false);
  }
  norm(`${lm}.norm`, t.hidden, false);
  if (!t.tieEmbeddings) linear(layout === 'hub' ? 'language_model.lm_head' : 'lm_head', tok.vocabSize, t.hidden, false);

  const files = new Map<string, Uint8Array>();
  const json = (name: string, value: unknown) => files.set(name, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
  const shards = Math.max(1, options.shards ?? 1);
  if (shards === 1) {
    files.set('model.safetensors', encodeSafetensors(tensors, { format: 'pt' }));
  } else {
    const per = Math.ceil(tensors.length / shards);
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let s = 0; s < shards; s++) {
      const part = tensors.slice(s * per, (s + 1) * per);
      const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      files.set(name, encodeSafetensors(part, { format: 'pt' }));
      for (const x of part) {
        weightMap[x.name] = name;
        total += x.data.byteLength;
      }
    }
    json('model.safetensors.index.json', { metadata: { total_size: total }, weight_map: weightMap });
  }

  json('config.json', {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    ignore_index: -100,
    image_token_index: tok.imageTokenId,
    pad_token_id: tok.padTokenId,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: preset.strategy,
    tie_word_embeddings: t.tieEmbeddings,
    torch_dtype: dtype === 'bf16' ? 'bfloat16' : 'float32',
    text_config: {
      model_type: 'llama',
      hidden_size: t.hidden,
      intermediate_size: t.intermediate,
      num_hidden_layers: t.layers,
      num_attention_heads: t.heads,
      num_key_value_heads: t.kvHeads,
      hidden_act: 'silu',
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      max_position_embeddings: 1024,
      vocab_size: tok.vocabSize,
      tie_word_embeddings: t.tieEmbeddings,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: tok.padTokenId,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: v.hidden,
      intermediate_size: v.intermediate,
      num_hidden_layers: v.layers,
      num_attention_heads: v.heads,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      num_channels: 3,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      projection_dim: t.hidden,
    },
  });
  json('generation_config.json', { bos_token_id: 1, eos_token_id: 2, pad_token_id: tok.padTokenId, max_new_tokens: 32 });
  json('tokenizer.json', tok.json);
  json('tokenizer_config.json', {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    add_bos_token: true,
    add_eos_token: false,
    legacy: false,
    model_max_length: 1024,
    padding_side: 'left',
    chat_template: LLAVA_CHAT_TEMPLATE,
  });
  json('special_tokens_map.json', { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', image_token: '<image>' });
  const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
  const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
  json('preprocessor_config.json', {
    image_processor_type: 'CLIPImageProcessor',
    processor_class: 'LlavaProcessor',
    do_resize: true,
    size: { shortest_edge: v.imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: v.imageSize, width: v.imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
    do_convert_rgb: true,
  });
  json('processor_config.json', {
    processor_class: 'LlavaProcessor',
    image_token: '<image>',
    patch_size: v.patchSize,
    num_additional_image_tokens: 1,
    vision_feature_select_strategy: preset.strategy,
  });
  return files;
}
