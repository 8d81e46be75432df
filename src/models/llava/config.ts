/**
 * config.json of LLaVA-style models (model_type "llava", and the base of "llava_next" and
 * "llava_onevision"): a vision tower (CLIP or SigLIP), a two-layer MLP projector and a
 * Llama-family decoder (Llama/Vicuna, Mistral, Qwen2). We read what the forward pass needs,
 * apply transformers' defaults and refuse what we cannot run, naming the field.
 */
import { bool, ConfigError, num, object, parseClipVision, parseDecoderConfig, tokenId, type ClipVisionConfig, type DecoderConfig, type Json, visionLayersRun } from '../config';
import { parseSiglipVision, type SiglipVisionConfig } from '../siglip';

export type LlavaVision = ({ kind: 'clip' } & ClipVisionConfig) | ({ kind: 'siglip' } & SiglipVisionConfig);

export interface LlavaConfig {
  modelType: string;
  text: DecoderConfig;
  vision: LlavaVision;
  /** Index into the vision tower's hidden states (negative from the end, HF convention). */
  visionFeatureLayer: number;
  /** 'default' drops the first feature row (CLIP's CLS); 'full' keeps every row. */
  visionFeatureSelectStrategy: 'default' | 'full';
  imageTokenIndex: number;
  projectorHiddenAct: 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'silu';
  /** Feature rows one tower run gives after selection (CLIP: patches (+ CLS for 'full'); SigLIP: patches (− 1 for 'default')). */
  tileTokens: number;
  raw: Json;
}

function parseVision(c: Json): LlavaVision {
  const v = object(c, 'vision_config', 'config');
  const type = v['model_type'] ?? 'clip_vision_model';
  if (type === 'clip_vision_model') return { kind: 'clip', ...parseClipVision(v) };
  if (type === 'siglip_vision_model') return { kind: 'siglip', ...parseSiglipVision(v, 'vision_config') };
  throw new ConfigError(`config.vision_config.model_type "${String(type)}" is not supported (clip_vision_model, siglip_vision_model)`);
}

/** Parses the LLaVA part of a config.json; `modelTypes` are the model_type values the caller accepts. */
export function parseLlavaConfig(raw: unknown, modelTypes: readonly string[] = ['llava']): LlavaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config.json must be a JSON object');
  const c = raw as Json;
  const modelType = String(c['model_type']);
  if (!modelTypes.includes(modelType)) {
    throw new ConfigError(`config.json model_type "${modelType}" is not ${modelTypes.join(' or ')}`);
  }
  const text = parseDecoderConfig(object(c, 'text_config', 'config'));
  const vision = parseVision(c);
  let layerValue = c['vision_feature_layer'] ?? -2;
  // Some configs write the layer as a one-element list; several layers (concatenated features) are not supported.
  if (Array.isArray(layerValue)) {
    if (layerValue.length !== 1) throw new ConfigError(`config.vision_feature_layer ${JSON.stringify(layerValue)}: features from several layers are not supported (one layer only)`);
    layerValue = layerValue[0];
  }
  const layer = num({ layer: layerValue }, 'layer', 'config.vision_feature_layer');
  visionLayersRun(vision.numLayers, layer); // refuses a layer outside the hidden states
  const strategy = c['vision_feature_select_strategy'] ?? 'default';
  if (strategy !== 'default' && strategy !== 'full') {
    throw new ConfigError(`config.vision_feature_select_strategy "${String(strategy)}" must be "default" or "full"`);
  }
  const act = c['projector_hidden_act'] ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_pytorch_tanh' && act !== 'quick_gelu' && act !== 'silu') {
    throw new ConfigError(`config.projector_hidden_act "${String(act)}" is not supported`);
  }
  const imageTokenIndex = c['image_token_index'] !== undefined && c['image_token_index'] !== null ? tokenId(c, 'image_token_index', 'config', 0, text.vocabSize) : tokenId(c, 'image_token_id', 'config', 32000, text.vocabSize);
  // LLaVA ties its head by text_config's flag; a top-level one must still be a real boolean.
  bool(c, 'tie_word_embeddings', 'config', false);
  // Floor: SigLIP's 'valid' patch convolution drops a remainder (384 / 14 → 27 per side).
  const patches = Math.floor(vision.imageSize / vision.patchSize) ** 2;
  const rows = vision.kind === 'clip' ? patches + 1 : patches;
  return {
    modelType,
    text,
    vision,
    visionFeatureLayer: layer,
    visionFeatureSelectStrategy: strategy,
    imageTokenIndex,
    projectorHiddenAct: act,
    tileTokens: strategy === 'default' ? rows - 1 : rows,
    raw: c,
  };
}
