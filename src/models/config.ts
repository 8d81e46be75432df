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

export function num(obj: Json, key: string, where: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${where}.${key} is missing`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function posInt(obj: Json, key: string, where: string, fallback?: number): number {
  const v = num(obj, key, where, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${where}.${key} must be a positive integer, got ${v}`);
  return v;
}

export function object(obj: Json, key: string, where: string): Json {
  const v = obj[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${where}.${key} must be an object`);
  return v as Json;
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
  const type = c['model_type'] ?? 'llama';
  if (!DECODER_TYPES.includes(type as DecoderConfig['modelType'])) {
    throw new ConfigError(`${where}.model_type "${String(type)}" is not supported (supported: ${DECODER_TYPES.join(', ')})`);
  }
  const modelType = type as DecoderConfig['modelType'];
  const d = DECODER_DEFAULTS[modelType];
  const hiddenSize = posInt(c, 'hidden_size', where, d.hidden);
  const numHeads = posInt(c, 'num_attention_heads', where, d.heads);
  const numKvHeads = posInt(c, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  // Mistral and Qwen2 configs may write head_dim: null.
  const headDim = c['head_dim'] === null ? hiddenSize / numHeads : posInt(c, 'head_dim', where, hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ConfigError(`${where}: head dim ${headDim} must be an even integer for rotary embeddings`);
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new ConfigError(`${where}.hidden_act "${String(act)}" is not supported (silu)`);
  const scaling = c['rope_scaling'];
  if (scaling !== undefined && scaling !== null) {
    throw new ConfigError(`${where}.rope_scaling is not supported yet (${JSON.stringify(scaling)})`);
  }
  const maxPositions = posInt(c, 'max_position_embeddings', where, d.positions);
  // A sliding window shorter than the context changes attention; we run full attention, so
  // refuse rather than answer differently (Mistral-7B-Instruct-v0.2 and Qwen2 ship it off).
  const window = c['sliding_window'];
  const slidingOn = modelType === 'qwen2' ? c['use_sliding_window'] === true : window !== undefined && window !== null;
  if (slidingOn && typeof window === 'number' && window < maxPositions) {
    throw new ConfigError(`${where}.sliding_window ${window} is shorter than the ${maxPositions} positions: sliding-window attention is not supported`);
  }
  return {
    modelType,
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, d.intermediate),
    numLayers: posInt(c, 'num_hidden_layers', where, d.layers),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(c, 'rms_norm_eps', where, d.eps),
    ropeTheta: num(c, 'rope_theta', where, d.theta),
    maxPositions,
    vocabSize: posInt(c, 'vocab_size', where, d.vocab),
    tieWordEmbeddings: Boolean(c['tie_word_embeddings'] ?? d.tie),
    qkvBias: modelType === 'qwen2' || c['attention_bias'] === true,
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
  const imageSize = posInt(c, 'image_size', where, 224);
  const patchSize = posInt(c, 'patch_size', where, 32);
  if (imageSize % patchSize !== 0) throw new ConfigError(`${where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  const hiddenSize = posInt(c, 'hidden_size', where, 768);
  const numHeads = posInt(c, 'num_attention_heads', where, 12);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`${where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  return {
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, 3072),
    numLayers: posInt(c, 'num_hidden_layers', where, 12),
    numHeads,
    imageSize,
    patchSize,
    numChannels: posInt(c, 'num_channels', where, 3),
    layerNormEps: num(c, 'layer_norm_eps', where, 1e-5),
    hiddenAct: act,
  };
}

