/**
 * Hugging Face config.json parsing for the architectures we run. We read only what the forward
 * pass needs, apply the same defaults transformers does, and reject what we cannot run with a
 * message that says which field and why.
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LlamaTextConfig {
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
  hiddenAct: 'silu';
}

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: 'quick_gelu' | 'gelu' | 'gelu_pytorch_tanh';
}

export interface LlavaConfig {
  modelType: 'llava';
  text: LlamaTextConfig;
  vision: ClipVisionConfig;
  /** Index into the vision tower's hidden states (negative from the end, HF convention). */
  visionFeatureLayer: number;
  /** 'default' drops the CLS token from the features; 'full' keeps it. */
  visionFeatureSelectStrategy: 'default' | 'full';
  imageTokenIndex: number;
  projectorHiddenAct: 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'silu';
  /** Visual tokens one image contributes to the prompt. */
  imageTokens: number;
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, where: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${where}.${key} is missing`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(obj: Json, key: string, where: string, fallback?: number): number {
  const v = num(obj, key, where, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${where}.${key} must be a positive integer, got ${v}`);
  return v;
}

function object(obj: Json, key: string, where: string): Json {
  const v = obj[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${where}.${key} must be an object`);
  return v as Json;
}

export function parseLlamaText(c: Json, where = 'text_config'): LlamaTextConfig {
  const type = c['model_type'];
  if (type !== undefined && type !== 'llama') {
    throw new ConfigError(`${where}.model_type "${String(type)}" is not supported yet (llama only)`);
  }
  const hiddenSize = posInt(c, 'hidden_size', where, 4096);
  const numHeads = posInt(c, 'num_attention_heads', where, 32);
  const numKvHeads = posInt(c, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const headDim = posInt(c, 'head_dim', where, hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw new ConfigError(`${where}: head dim ${headDim} must be even for rotary embeddings`);
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new ConfigError(`${where}.hidden_act "${String(act)}" is not supported (silu)`);
  const scaling = c['rope_scaling'];
  if (scaling !== undefined && scaling !== null) {
    throw new ConfigError(`${where}.rope_scaling is not supported yet (${JSON.stringify(scaling)})`);
  }
  return {
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, 11008),
    numLayers: posInt(c, 'num_hidden_layers', where, 32),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(c, 'rms_norm_eps', where, 1e-6),
    ropeTheta: num(c, 'rope_theta', where, 10000),
    maxPositions: posInt(c, 'max_position_embeddings', where, 2048),
    vocabSize: posInt(c, 'vocab_size', where, 32000),
    tieWordEmbeddings: Boolean(c['tie_word_embeddings'] ?? false),
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

/** Parses a LLaVA-1.5 style config.json (model_type "llava"). */
export function parseLlavaConfig(raw: unknown): LlavaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config.json must be a JSON object');
  const c = raw as Json;
  if (c['model_type'] !== 'llava') {
    throw new ConfigError(`config.json model_type "${String(c['model_type'])}" is not supported yet (llava)`);
  }
  const text = parseLlamaText(object(c, 'text_config', 'config'));
  const vision = parseClipVision(object(c, 'vision_config', 'config'));
  const layer = num(c, 'vision_feature_layer', 'config', -2);
  if (!Number.isInteger(layer) || layer < -(vision.numLayers + 1) || layer > vision.numLayers) {
    throw new ConfigError(`config.vision_feature_layer ${layer} is outside the vision tower's ${vision.numLayers + 1} hidden states`);
  }
  const strategy = c['vision_feature_select_strategy'] ?? 'default';
  if (strategy !== 'default' && strategy !== 'full') {
    throw new ConfigError(`config.vision_feature_select_strategy "${String(strategy)}" must be "default" or "full"`);
  }
  const act = c['projector_hidden_act'] ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_pytorch_tanh' && act !== 'quick_gelu' && act !== 'silu') {
    throw new ConfigError(`config.projector_hidden_act "${String(act)}" is not supported`);
  }
  const imageTokenIndex = num(c, 'image_token_index', 'config', num(c, 'image_token_id', 'config', 32000));
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  return {
    modelType: 'llava',
    text,
    vision,
    visionFeatureLayer: layer,
    visionFeatureSelectStrategy: strategy,
    imageTokenIndex,
    projectorHiddenAct: act,
    imageTokens: strategy === 'default' ? patches : patches + 1,
    raw: c,
  };
}
