/**
 * Tiny random LLaVA-1.5 checkpoints in the exact Hugging Face layout, deterministic from a
 * seed: config.json, safetensors (F32 or BF16, one file or shards + index), a Llama-style
 * byte-fallback BPE tokenizer.json + tokenizer_config.json, llava-1.5-hf's chat template
 * (chat_template.json), special_tokens_map.json, preprocessor_config.json
 * (CLIPImageProcessor), processor_config.json (LlavaProcessor) and generation_config.json.
 * Pure (no I/O, no Node APIs): returns file name → bytes, so tests build checkpoints in memory
 * in Node or the browser and the CLI (tools/make-tiny-llava.ts) writes them to disk.
 *
 * Fidelity notes, checked against llava-hf/llava-1.5-7b-hf:
 * - tokenizer.json is the Llama-2 "legacy" SentencePiece-BPE conversion: normalizer
 *   Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer, BPE with byte_fallback, decoder
 *   Replace/ByteFallback/Fuse/Strip. The normalizer runs on every piece between added tokens,
 *   which is why llava-1.5-hf tokenises "USER: <image>\nWhat" as
 *   [<s>, ▁US, ER, :, ▁, <image>, ▁, <0x0A>, What]: a "▁" after the image token and the newline
 *   as a byte token. Our tokenizer has no "\n" piece either, so it behaves the same way.
 * - `<image>` and `<pad>` are added special tokens after the base vocabulary (32000 and 32001
 *   there); image_token_index and pad_token_id point at them.
 * - The chat template is the Hub's text verbatim (chat_template.json), `{% generation %}` included.
 * - Weight names: 'hub' is the layout on the Hub (converted before transformers 4.52):
 *   language_model.model.*, language_model.lm_head.weight, vision_tower.vision_model.*,
 *   multi_modal_projector.*. 'new' is what transformers ≥ 4.52 saves; its
 *   LlavaForConditionalGeneration._checkpoint_conversion_mapping is
 *     ^language_model.model → model.language_model, ^vision_tower → model.vision_tower,
 *     ^multi_modal_projector → model.multi_modal_projector, ^language_model.lm_head → lm_head,
 *   so e.g. model.language_model.layers.0.self_attn.q_proj.weight,
 *   model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.bias,
 *   model.multi_modal_projector.linear_1.weight and lm_head.weight.
 */
import { encodeSafetensors, type TensorToWrite } from '../src/load/safetensors';
import { Rng } from '../src/util/random';

export interface TinyLlavaPreset {
  /** ropeTheta defaults to Llama-2's 10 000. */
  text: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number; tieEmbeddings: boolean; ropeTheta?: number };
  vision: { hidden: number; intermediate: number; layers: number; heads: number; imageSize: number; patchSize: number };
  strategy: 'default' | 'full';
}

export const PRESETS = {
  /** GQA (4 query heads, 2 KV heads), 'default' features: 56 px / patch 7 → 64 visual tokens. */
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
  /**
   * For non-square input images (e.g. 83×47): the CLIP processor resizes the shortest edge to
   * 84 and centre-crops 84×84, patch 12 → 7×7 = 49 visual tokens. A patch size that is not a
   * power of two and an odd patch grid.
   */
  'tiny-nonsquare': {
    text: { hidden: 64, intermediate: 172, layers: 2, heads: 4, kvHeads: 2, tieEmbeddings: false },
    vision: { hidden: 48, intermediate: 96, layers: 2, heads: 3, imageSize: 84, patchSize: 12 },
    strategy: 'default',
  },
  /** 144 visual tokens (84 px, patch 7), 4 layers: a pruning-sized prompt. */
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
  /** Split the weights into this many shards with model.safetensors.index.json (default 1). */
  shards?: number;
  /** Shorthand for `shards: 3` when `shards` is not given. */
  sharded?: boolean;
  /** 'hub': language_model.model.* (checkpoints on the Hub); 'new': model.language_model.* (transformers ≥ 4.52). */
  layout?: 'hub' | 'new';
  /**
   * Round the embedding/lm_head rows (config vocab_size) up to a multiple of this, as
   * llava-1.5-7b-hf does (vocab_size 32064 for a 32002-token tokenizer). The extra rows are
   * zero. Default 1: vocab_size equals the tokenizer's size.
   */
  vocabPadMultiple?: number;
  /** Extra text for the tokenizer's BPE merges (appended to the generic corpus) and how many merges to learn. */
  tokenizerCorpus?: TokenizerCorpus;
}

/** Visual tokens one image contributes (HF LlavaProcessor: patches + 1 CLS, minus CLS for 'default'). */
export function presetImageTokens(preset: TinyLlavaPreset): number {
  const side = Math.floor(preset.vision.imageSize / preset.vision.patchSize);
  return side * side + 1 - (preset.strategy === 'default' ? 1 : 0);
}

// ---- tokenizer ---------------------------------------------------------------------------

const SPACE = '▁';

/**
 * What the BPE merges are learned from: ordinary English around images (our own sentences),
 * so questions, answers and chat turns tokenise into word pieces rather than letters.
 */
const CORPUS = `
USER: What is the color of the circle in the image? ASSISTANT: The circle is red.
USER: How many objects are there in this picture? ASSISTANT: There are three objects.
USER: Describe the image in one sentence. ASSISTANT: A small blue square is above a large green triangle.
USER: Is the square to the left or to the right of the circle? ASSISTANT: The square is to the left of the circle.
USER: What shape is at the top of the image? ASSISTANT: A yellow star is at the top.
USER: Answer the question using a single word or phrase. ASSISTANT: Yes.
USER: What color is the background? ASSISTANT: The background is white and the border is black.
USER: Where is the dog sitting? ASSISTANT: The dog is sitting on the grass next to a tree.
USER: What is the man holding in his hand? ASSISTANT: He is holding a cup of coffee.
USER: How many people are in the photo? ASSISTANT: There are two people standing near the water.
USER: What is written on the sign? ASSISTANT: The sign says stop.
USER: Is there a cat in the picture? ASSISTANT: No, there is no cat in the picture.
USER: What is the woman wearing? ASSISTANT: She is wearing a red dress and white shoes.
USER: Which object is the largest? ASSISTANT: The largest object is the orange rectangle.
USER: What time of day is it? ASSISTANT: It is evening, and the sky is dark blue.
The picture shows a street with cars, a bus and people walking on the side of the road.
There is a table with a plate of food, a glass of water and a small white bowl.
Count the shapes: one circle, two squares, three triangles, four lines and five dots.
The image contains several colored shapes on a gray background, arranged in rows.
This is a photo of a kitchen with a window, a sink and green plants.
The answer is not clear from the image, but it looks like a boat on the river.
Please describe what you see, and then answer the question about the objects.
A child is playing with a ball in the park while the sun is shining.
The number of red circles is larger than the number of blue squares.
What do you think this is? It could be a bird or an airplane in the sky.
They are looking at the mountains, which are covered with snow.
The text in the image reads: open every day from nine to five.
`;

const BASE_CHARS = `${SPACE}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!:;'"-()/`;

/**
 * Deterministic BPE training (SentencePiece style: every word starts with "▁", pieces never
 * cross words): repeatedly merge the most frequent adjacent pair, ties broken by the pair's
 * text so the result never depends on iteration order.
 */
function trainMerges(corpus: string, count: number): [string, string][] {
  // Words start with "▁"; punctuation stays apart from letters (as in Llama's vocabulary), so
  // "circle?" trains "▁circle" and "?" separately.
  const words = new Map<string, number>();
  for (const w of corpus.split(/\s+/)) {
    if (!w) continue;
    const parts = w.match(/[A-Za-z0-9]+|[^A-Za-z0-9]+/g)!;
    parts.forEach((part, i) => {
      const key = i === 0 ? SPACE + part : part;
      words.set(key, (words.get(key) ?? 0) + 1);
    });
  }
  const seqs = [...words].map(([w, n]) => ({ symbols: [...w], n }));
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of seqs) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best: string | null = null;
    let bestN = 1;
    for (const [key, n] of pairs) {
      if (n > bestN || (n === bestN && best !== null && key < best)) {
        best = key;
        bestN = n;
      }
    }
    if (best === null) break; // no pair occurs twice
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    for (const s of seqs) {
      const out: string[] = [];
      for (let i = 0; i < s.symbols.length; i++) {
        if (i + 1 < s.symbols.length && s.symbols[i] === a && s.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s.symbols[i]!);
      }
      s.symbols = out;
    }
  }
  return merges;
}

export interface TinyTokenizer {
  /** tokenizer.json */
  json: unknown;
  /** Tokens including the added ones (<image>, <pad>). */
  size: number;
  imageTokenId: number;
  padTokenId: number;
  /** Ids of the 256 <0xNN> byte tokens: [first, end). */
  byteTokens: [number, number];
}

const MERGES = 240;

/** What the BPE merges are learned from; the default is the generic CORPUS above. */
export interface TokenizerCorpus {
  text: string;
  merges: number;
}

/** Llama-style vocabulary: <unk> <s> </s>, 256 byte tokens, characters, learned merges, then <image> <pad>. */
export function buildTinyTokenizer(corpus: TokenizerCorpus = { text: CORPUS, merges: MERGES }): TinyTokenizer {
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = next++;
  };
  ['<unk>', '<s>', '</s>'].forEach(add);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const byteTokens: [number, number] = [3, next];
  for (const ch of BASE_CHARS) add(ch);
  const merges = trainMerges(corpus.text, corpus.merges);
  for (const [a, b] of merges) add(a + b);
  const imageTokenId = next++;
  const padTokenId = next++;
  vocab['<image>'] = imageTokenId;
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
      vocab: Object.fromEntries(Object.entries(vocab).filter(([t]) => t !== '<image>' && t !== '<pad>')),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return { json, size: next, imageTokenId, padTokenId, byteTokens };
}

/** llava-hf/llava-1.5-7b-hf's chat_template.json template, verbatim. */
export const LLAVA_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}" +
  "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}" +
  "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

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

/**
 * Scales, tuned so a few random layers neither vanish nor explode and greedy decoding wanders
 * instead of repeating one token (measured with the float64 reference over seeds and presets):
 * projections N(0, 1/fan_in) (unit-variance outputs), biases N(0, 0.02…0.05), norms
 * 1 + N(0, 0.1). The MLP's down projection gets gain 3 so the current token (through the MLP)
 * outweighs the context average the attention brings (otherwise every step predicts the same
 * token). Token embeddings N(0, 1), or N(0, 0.2) when tied to the output: a large tied row in
 * the residual stream makes each step predict its own input. Output rows of tokens a real model
 * almost never emits (byte tokens, <unk>, <s>, <image>, <pad>) are shrunk ×0.25 so random text
 * is mostly word pieces rather than broken UTF-8.
 */
const EMBED_STD = { untied: 1, tied: 0.2 };
const MLP_OUT_GAIN = 3;
const RARE_ROW_SCALE = 0.25;

export function makeTinyLlava(options: TinyLlavaOptions = {}): Map<string, Uint8Array> {
  const preset: TinyLlavaPreset = typeof options.preset === 'object' ? options.preset : PRESETS[options.preset ?? 'tiny'];
  const rng = new Rng(options.seed ?? 1);
  const dtype = options.dtype ?? 'f32';
  const layout = options.layout ?? 'hub';
  const tok = buildTinyTokenizer(options.tokenizerCorpus ? { text: `${CORPUS}\n${options.tokenizerCorpus.text}`, merges: options.tokenizerCorpus.merges } : undefined);
  const t = preset.text;
  const v = preset.vision;
  if (t.hidden % t.heads || t.heads % t.kvHeads) throw new Error('tiny-llava: hidden must divide into heads, heads into KV heads');
  if (v.hidden % v.heads) throw new Error('tiny-llava: vision hidden must divide into heads');
  if (v.imageSize % v.patchSize) throw new Error('tiny-llava: image size must be a multiple of the patch size');
  const pad = Math.max(1, Math.floor(options.vocabPadMultiple ?? 1));
  const vocabSize = Math.ceil(tok.size / pad) * pad;
  const headDim = t.hidden / t.heads;
  const patches = (v.imageSize / v.patchSize) ** 2;

  const tensors: TensorToWrite[] = [];
  const put = (name: string, shape: number[], values: Float32Array) => {
    tensors.push({
      name,
      dtype: dtype === 'bf16' ? 'BF16' : 'F32',
      shape,
      data: dtype === 'bf16' ? bf16Bytes(values) : new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
    });
  };
  const linear = (name: string, out: number, inp: number, bias: boolean, gain = 1) => {
    put(`${name}.weight`, [out, inp], rng.floats(out * inp, gain / Math.sqrt(inp)));
    if (bias) put(`${name}.bias`, [out], rng.floats(out, 0.02));
  };
  const norm = (name: string, dim: number, bias: boolean) => {
    put(`${name}.weight`, [dim], Float32Array.from(rng.floats(dim, 0.1), (x) => 1 + x));
    if (bias) put(`${name}.bias`, [dim], rng.floats(dim, 0.05));
  };
  /** [vocabSize, hidden] token rows: rare tokens shrunk, padding rows zero. */
  const tokenRows = (scale: number) => {
    const rows = rng.floats(tok.size * t.hidden, scale);
    const shrink = (id: number) => rows.subarray(id * t.hidden, (id + 1) * t.hidden).forEach((x, i, a) => (a[i] = x * RARE_ROW_SCALE));
    for (let id = tok.byteTokens[0]; id < tok.byteTokens[1]; id++) shrink(id);
    for (const id of [0, 1, tok.imageTokenId, tok.padTokenId]) shrink(id);
    const out = new Float32Array(vocabSize * t.hidden);
    out.set(rows);
    return out;
  };

  const lm = layout === 'hub' ? 'language_model.model' : 'model.language_model';
  const vt = layout === 'hub' ? 'vision_tower.vision_model' : 'model.vision_tower.vision_model';
  const pj = layout === 'hub' ? 'multi_modal_projector' : 'model.multi_modal_projector';

  // Vision tower (CLIP): conv patch embedding without bias, CLS + learned positions, pre-LN (sic: "pre_layrnorm").
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
  // Projector: linear → GELU → linear.
  linear(`${pj}.linear_1`, t.hidden, v.hidden, true);
  linear(`${pj}.linear_2`, t.hidden, t.hidden, true);
  // Llama decoder.
  put(`${lm}.embed_tokens.weight`, [vocabSize, t.hidden], tokenRows(t.tieEmbeddings ? EMBED_STD.tied : EMBED_STD.untied));
  for (let i = 0; i < t.layers; i++) {
    const p = `${lm}.layers.${i}`;
    linear(`${p}.self_attn.q_proj`, t.heads * headDim, t.hidden, false);
    linear(`${p}.self_attn.k_proj`, t.kvHeads * headDim, t.hidden, false);
    linear(`${p}.self_attn.v_proj`, t.kvHeads * headDim, t.hidden, false);
    linear(`${p}.self_attn.o_proj`, t.hidden, t.heads * headDim, false);
    linear(`${p}.mlp.gate_proj`, t.intermediate, t.hidden, false);
    linear(`${p}.mlp.up_proj`, t.intermediate, t.hidden, false);
    linear(`${p}.mlp.down_proj`, t.hidden, t.intermediate, false, MLP_OUT_GAIN);
    norm(`${p}.input_layernorm`, t.hidden, false);
    norm(`${p}.post_attention_layernorm`, t.hidden, false);
  }
  norm(`${lm}.norm`, t.hidden, false);
  if (!t.tieEmbeddings) put(layout === 'hub' ? 'language_model.lm_head.weight' : 'lm_head.weight', [vocabSize, t.hidden], tokenRows(1 / Math.sqrt(t.hidden)));

  const files = new Map<string, Uint8Array>();
  const json = (name: string, value: unknown) => files.set(name, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
  const shards = Math.max(1, Math.floor(options.shards ?? (options.sharded ? 3 : 1)));
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
      architectures: ['LlamaForCausalLM'],
      hidden_size: t.hidden,
      intermediate_size: t.intermediate,
      num_hidden_layers: t.layers,
      num_attention_heads: t.heads,
      num_key_value_heads: t.kvHeads,
      hidden_act: 'silu',
      rms_norm_eps: 1e-5,
      rope_theta: t.ropeTheta ?? 10000,
      max_position_embeddings: 1024,
      vocab_size: vocabSize,
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
  const addedTokenEntry = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true });
  json('tokenizer_config.json', {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: {
      '0': addedTokenEntry('<unk>'),
      '1': addedTokenEntry('<s>'),
      '2': addedTokenEntry('</s>'),
      [tok.imageTokenId]: addedTokenEntry('<image>'),
      [tok.padTokenId]: addedTokenEntry('<pad>'),
    },
    bos_token: '<s>',
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    legacy: false,
    model_max_length: 1024,
    pad_token: '<pad>',
    padding_side: 'left',
    processor_class: 'LlavaProcessor',
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizer',
    unk_token: '<unk>',
    use_default_system_prompt: false,
  });
  json('chat_template.json', { chat_template: LLAVA_CHAT_TEMPLATE });
  const specialEntry = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  json('special_tokens_map.json', { bos_token: specialEntry('<s>'), eos_token: specialEntry('</s>'), pad_token: '<pad>', unk_token: specialEntry('<unk>') });
  json('preprocessor_config.json', {
    crop_size: { height: v.imageSize, width: v.imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: CLIP_STD,
    processor_class: 'LlavaProcessor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: v.imageSize },
  });
  json('processor_config.json', {
    image_token: '<image>',
    num_additional_image_tokens: 1,
    patch_size: v.patchSize,
    processor_class: 'LlavaProcessor',
    vision_feature_select_strategy: preset.strategy,
  });
  return files;
}
