/**
 * Hugging Face config.json parsing for the architectures we run. We read only what the forward
 * pass needs, apply the same defaults transformers does, and reject what we cannot run with a
 * message that says which field and why.
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A Llama-family decoder: Llama, Mistral (Vicuna and Mistral LLaVAs) and Qwen2 share one
 * forward (RMSNorm, RoPE, grouped-query attention, SwiGLU); Qwen2 adds biases to q/k/v.
 */
export interface DecoderConfig {
  /** text_config.model_type as written (llama, mistral, qwen2). */
  modelType: 'llama' | 'mistral' | 'qwen2';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  /** q_proj, k_proj and v_proj carry biases (Qwen2; Llama's attention_bias). */
  qkvBias: boolean;
  hiddenAct: 'silu';
}

/** What every ViT-style vision tower config holds (CLIP, SigLIP). */
export interface VisionTowerConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
}

export interface ClipVisionConfig extends VisionTowerConfig {
  hiddenAct: 'quick_gelu' | 'gelu' | 'gelu_pytorch_tanh';
}

export type Json = Record<string, unknown>;

/** How a field is named in errors: `config.json text_config.hidden_size` (a leading "config." is the file). */
export function fieldName(where: string, key: string): string {
  return `config.json ${where.replace(/^config(\.|$)/, '')}${where === 'config' ? '' : '.'}${key}`;
}

/**
 * Upper bounds on config.json sizes, each with why. Nothing real comes near them; they exist so
 * a hostile or broken config is refused here, naming the field, instead of building a billion
 * weight names, a terabyte table or a kernel dispatch that fails later.
 */
export const CONFIG_LIMITS = {
  layers: { max: 1024, why: 'the largest released models have under 200 layers' },
  hidden: { max: 65536, why: 'the largest released models are 16384 wide' },
  intermediate: { max: 1 << 18, why: 'the largest released MLPs are about 53248 wide' },
  heads: { max: 1024, why: 'the largest released models have 128 heads' },
  /** The attention kernels' largest head (src/kernels/attention.ts MAX_HEAD_DIM). */
  headDim: { max: 256, why: 'the attention kernel holds at most 256 values per head' },
  vocab: { max: 1 << 22, why: 'the largest released vocabularies are about 256k tokens' },
  /**
   * The RoPE table holds positions × head_dim f32 values in one storage buffer; 1<<20 positions
   * is 512 MiB at head_dim 128. The load path refuses a table over the adapter's binding limit.
   */
  positions: { max: 1 << 20, why: 'the RoPE table is positions × head_dim × 4 bytes in one GPU buffer' },
  imageSize: { max: 4096, why: 'one tower input of 4096² pixels is already 200 MB of f32' },
  patchesPerTile: { max: 1 << 16, why: 'one tower run attends over every patch of its tile' },
  channels: { max: 4, why: 'images have at most 4 channels' },
  /** Token ids the embedding table is indexed by (u32 on the GPU). */
  tokenId: { max: (1 << 22) - 1, why: 'it must index the vocabulary' },
} as const;

/** (0, 0.1]: an epsilon is a small positive guard; 1e9 would make every norm output ~0. */
export const MAX_EPS = 0.1;

export function num(obj: Json, key: string, where: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${fieldName(where, key)} is missing`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${fieldName(where, key)} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** A positive integer; with `limit`, refused above limit.max naming the field, the range and why. */
export function posInt(obj: Json, key: string, where: string, fallback?: number, limit?: { max: number; why: string }): number {
  const v = num(obj, key, where, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${fieldName(where, key)} must be a positive integer, got ${v}`);
  if (limit && v > limit.max) throw new ConfigError(`${fieldName(where, key)} ${v} is over the maximum ${limit.max} (${limit.why})`);
  return v;
}

/**
 * The smallest normal f32: norms run in f32 on the GPU, where a smaller epsilon (1e-320, say)
 * is flushed to 0 and no longer guards the division.
 */
export const MIN_EPS = 1.1754943508222875e-38;

/** A norm epsilon in [MIN_EPS, 0.1]. */
export function epsilon(obj: Json, key: string, where: string, fallback: number): number {
  const v = num(obj, key, where, fallback);
  if (!(v >= MIN_EPS && v <= MAX_EPS)) {
    throw new ConfigError(`${fieldName(where, key)} ${v} is outside the allowed range [${MIN_EPS.toPrecision(3)}, ${MAX_EPS}] (a positive guard that f32 can hold)`);
  }
  return v;
}

/** A JSON boolean, or `fallback` when absent / null. Strings ("false", "no") and numbers are refused. */
export function bool(obj: Json, key: string, where: string, fallback: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(`${fieldName(where, key)} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A token id: an integer in [0, vocabSize). */
export function tokenId(obj: Json, key: string, where: string, fallback: number, vocabSize: number): number {
  const v = num(obj, key, where, fallback);
  if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
    throw new ConfigError(`${fieldName(where, key)} ${v} is not a token id of the ${vocabSize}-token vocabulary (an integer in [0, ${vocabSize}))`);
  }
  return v;
}

export function object(obj: Json, key: string, where: string): Json {
  const v = obj[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${fieldName(where, key)} must be an object`);
  return v as Json;
}

/**
 * The checks every ViT-style tower config shares: a head that fits the attention kernel, an
 * image of at most 4096² and at most 1<<16 patches per tile (`patchesPerSide` is the family's:
 * CLIP divides exactly, SigLIP floors).
 */
export function checkVisionSizes(c: VisionTowerConfig, where: string, patchesPerSide: number): void {
  const headDim = c.hiddenSize / c.numHeads;
  if (headDim > CONFIG_LIMITS.headDim.max) {
    throw new ConfigError(`${fieldName(where, 'hidden_size')} ${c.hiddenSize} / num_attention_heads ${c.numHeads} gives a head of ${headDim}, over the maximum ${CONFIG_LIMITS.headDim.max} (${CONFIG_LIMITS.headDim.why})`);
  }
  const patches = patchesPerSide * patchesPerSide;
  if (patches > CONFIG_LIMITS.patchesPerTile.max) {
    throw new ConfigError(
      `${fieldName(where, 'image_size')} ${c.imageSize} / patch_size ${c.patchSize} gives ${patches} patches per tile, over the maximum ${CONFIG_LIMITS.patchesPerTile.max} (${CONFIG_LIMITS.patchesPerTile.why})`,
    );
  }
}

const DECODER_TYPES = ['llama', 'mistral', 'qwen2'] as const;

/** Per-type defaults where the config omits a field (the transformers config classes' defaults). */
const DECODER_DEFAULTS: Record<DecoderConfig['modelType'], { hidden: number; intermediate: number; layers: number; heads: number; eps: number; theta: number; positions: number; vocab: number; tie: boolean }> = {
  llama: { hidden: 4096, intermediate: 11008, layers: 32, heads: 32, eps: 1e-6, theta: 10000, positions: 2048, vocab: 32000, tie: false },
  mistral: { hidden: 4096, intermediate: 14336, layers: 32, heads: 32, eps: 1e-6, theta: 10000, positions: 32768, vocab: 32000, tie: false },
  qwen2: { hidden: 4096, intermediate: 22016, layers: 32, heads: 32, eps: 1e-6, theta: 10000, positions: 32768, vocab: 151936, tie: false },
};

/** A Llama-family text_config (model_type llama when absent, as LLaVA-1.5's configs assume). */
export function parseDecoderConfig(c: Json, where = 'text_config'): DecoderConfig {
  const L = CONFIG_LIMITS;
  const type = c['model_type'] ?? 'llama';
  if (!DECODER_TYPES.includes(type as DecoderConfig['modelType'])) {
    throw new ConfigError(`${where}.model_type "${String(type)}" is not supported (supported: ${DECODER_TYPES.join(', ')})`);
  }
  const modelType = type as DecoderConfig['modelType'];
  const d = DECODER_DEFAULTS[modelType];
  const hiddenSize = posInt(c, 'hidden_size', where, d.hidden, L.hidden);
  const numHeads = posInt(c, 'num_attention_heads', where, d.heads, L.heads);
  const numKvHeads = posInt(c, 'num_key_value_heads', where, numHeads, L.heads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  // Mistral and Qwen2 configs may write head_dim: null.
  const headDim = c['head_dim'] === null ? hiddenSize / numHeads : posInt(c, 'head_dim', where, hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(`${fieldName(where, 'head_dim')} ${headDim} (hidden_size / num_attention_heads unless given) must be an even integer for rotary embeddings`);
  }
  if (headDim > L.headDim.max) {
    throw new ConfigError(`${fieldName(where, 'head_dim')} ${headDim} (hidden_size / num_attention_heads unless given) is over the maximum ${L.headDim.max} (${L.headDim.why})`);
  }
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new ConfigError(`${where}.hidden_act "${String(act)}" is not supported (silu)`);
  const scaling = c['rope_scaling'];
  if (scaling !== undefined && scaling !== null) {
    throw new ConfigError(`${where}.rope_scaling is not supported yet (${JSON.stringify(scaling)})`);
  }
  const maxPositions = posInt(c, 'max_position_embeddings', where, d.positions, L.positions);
  const ropeTheta = num(c, 'rope_theta', where, d.theta);
  if (!(ropeTheta > 0)) throw new ConfigError(`${fieldName(where, 'rope_theta')} ${ropeTheta} must be a finite number > 0`);
  // A sliding window shorter than the context changes attention; we run full attention, so
  // refuse rather than answer differently (Mistral-7B-Instruct-v0.2 and Qwen2 ship it off).
  const window = c['sliding_window'] === null || c['sliding_window'] === undefined ? null : posInt(c, 'sliding_window', where);
  const useSliding = bool(c, 'use_sliding_window', where, false);
  const slidingOn = modelType === 'qwen2' ? useSliding : window !== null;
  if (slidingOn && window !== null && window < maxPositions) {
    throw new ConfigError(`${where}.sliding_window ${window} is shorter than the ${maxPositions} positions: sliding-window attention is not supported`);
  }
  return {
    modelType,
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, d.intermediate, L.intermediate),
    numLayers: posInt(c, 'num_hidden_layers', where, d.layers, L.layers),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: epsilon(c, 'rms_norm_eps', where, d.eps),
    ropeTheta,
    maxPositions,
    vocabSize: posInt(c, 'vocab_size', where, d.vocab, L.vocab),
    tieWordEmbeddings: bool(c, 'tie_word_embeddings', where, d.tie),
    // Qwen2 always has them; the flag is still checked to be a boolean.
    qkvBias: bool(c, 'attention_bias', where, false) || modelType === 'qwen2',
    hiddenAct: 'silu',
  };
}

export function parseClipVision(c: Json, where = 'vision_config'): ClipVisionConfig {
  const type = c['model_type'];
  if (type !== undefined && type !== 'clip_vision_model') {
    throw new ConfigError(`${where}.model_type "${String(type)}" is not supported yet (clip_vision_model)`);
  }
  const act = c['hidden_act'] ?? 'quick_gelu';
  if (act !== 'quick_gelu' && act !== 'gelu' && act !== 'gelu_pytorch_tanh') {
    throw new ConfigError(`${where}.hidden_act "${String(act)}" is not supported`);
  }
  const L = CONFIG_LIMITS;
  const imageSize = posInt(c, 'image_size', where, 224, L.imageSize);
  const patchSize = posInt(c, 'patch_size', where, 32, L.imageSize);
  if (imageSize % patchSize !== 0) throw new ConfigError(`${where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  const hiddenSize = posInt(c, 'hidden_size', where, 768, L.hidden);
  const numHeads = posInt(c, 'num_attention_heads', where, 12, L.heads);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`${where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  const out: ClipVisionConfig = {
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, 3072, L.intermediate),
    numLayers: posInt(c, 'num_hidden_layers', where, 12, L.layers),
    numHeads,
    imageSize,
    patchSize,
    numChannels: posInt(c, 'num_channels', where, 3, L.channels),
    layerNormEps: epsilon(c, 'layer_norm_eps', where, 1e-5),
    hiddenAct: act,
  };
  checkVisionSizes(out, where, imageSize / patchSize);
  return out;
}

/**
 * Encoder layers a `vision_feature_layer` needs: an index into hidden_states = (embeddings,
 * layer 1 output, …, layer N output), negative from the end (−1 = all N layers). Any tower.
 */
export function visionLayersRun(numLayers: number, featureLayer: number, where = 'config.vision_feature_layer'): number {
  if (!Number.isInteger(featureLayer) || featureLayer < -(numLayers + 1) || featureLayer > numLayers) {
    throw new ConfigError(`${where} ${featureLayer} is outside the vision tower's ${numLayers + 1} hidden states`);
  }
  return featureLayer < 0 ? numLayers + 1 + featureLayer : featureLayer;
}
