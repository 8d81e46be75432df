/**
 * The SigLIP vision tower (transformers' SiglipVisionTransformer, and Idefics3's copy of it) as
 * a building block for the VLMs that use it: LLaVA-Interleave / LLaVA-OneVision (LLaVA-style
 * feature layer, no post-layernorm) and Idefics3 / SmolVLM (last_hidden_state, after the
 * post-layernorm). What differs from CLIP's tower:
 * - no class token: one row per patch, learned positions [patches, hidden];
 * - the patch convolution has a bias;
 * - no pre-layernorm; instead a post-layernorm after the last encoder layer, which only
 *   `last_hidden_state` goes through (the `hidden_states` tuple holds the raw layer outputs);
 * - the convolution is 'valid' with stride = kernel: a remainder of image_size / patch_size
 *   is dropped (384 / 14 → a 27 × 27 grid).
 * The optional attention-pooling head (`head.*`) is never used by these VLMs and is not loaded.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { im2col, type Linear } from './clip';
import { checkVisionSizes, CONFIG_LIMITS, ConfigError, epsilon, posInt, type VisionTowerConfig } from './config';
import { ops } from './ops';
import type { WeightUploader } from './vlm';
import { encoderLayerDtypes, encoderLayerNames, encoderLayerShapes, loadEncoderLayer, runEncoderLayers, type EncoderLayerNames, type EncoderLayerWeights, type WeightBiasNames } from './vit-encoder';

type Json = Record<string, unknown>;

export type SiglipModelType = 'siglip_vision_model' | 'idefics3_vision';
export type SiglipHiddenAct = 'gelu_pytorch_tanh' | 'gelu_new' | 'gelu' | 'quick_gelu';

export interface SiglipVisionConfig extends VisionTowerConfig {
  /** The config's model_type; a missing one reads as siglip_vision_model. */
  modelType: SiglipModelType;
  hiddenAct: SiglipHiddenAct;
}

/**
 * transformers' constructor defaults, which apply to any field a config.json leaves out.
 * They differ between the two classes (SiglipVisionConfig vs Idefics3VisionConfig).
 */
const DEFAULTS: Readonly<Record<SiglipModelType, Omit<SiglipVisionConfig, 'modelType'>>> = {
  siglip_vision_model: {
    hiddenSize: 768,
    intermediateSize: 3072,
    numLayers: 12,
    numHeads: 12,
    imageSize: 224,
    patchSize: 16,
    numChannels: 3,
    layerNormEps: 1e-6,
    hiddenAct: 'gelu_pytorch_tanh',
  },
  idefics3_vision: {
    hiddenSize: 1152,
    intermediateSize: 3072,
    numLayers: 12,
    numHeads: 16,
    imageSize: 224,
    patchSize: 32,
    numChannels: 3,
    layerNormEps: 1e-6,
    hiddenAct: 'gelu_pytorch_tanh',
  },
};

const ACTS: readonly SiglipHiddenAct[] = ['gelu_pytorch_tanh', 'gelu_new', 'gelu', 'quick_gelu'];

/** Parses a SigLIP vision_config (model_type siglip_vision_model, idefics3_vision, or none). */
export function parseSiglipVision(raw: unknown, where = 'vision_config'): SiglipVisionConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where} must be an object`);
  const c = raw as Json;
  const type = c['model_type'] ?? 'siglip_vision_model';
  if (type !== 'siglip_vision_model' && type !== 'idefics3_vision') {
    throw new ConfigError(`${where}.model_type "${String(type)}" is not a SigLIP vision tower (siglip_vision_model or idefics3_vision)`);
  }
  const d = DEFAULTS[type];
  const act = c['hidden_act'] ?? d.hiddenAct;
  if (typeof act !== 'string' || !(ACTS as readonly string[]).includes(act)) {
    throw new ConfigError(`${where}.hidden_act ${JSON.stringify(act)} is not supported (${ACTS.join(', ')})`);
  }
  const L = CONFIG_LIMITS;
  const hiddenSize = posInt(c, 'hidden_size', where, d.hiddenSize, L.hidden);
  const numHeads = posInt(c, 'num_attention_heads', where, d.numHeads, L.heads);
  if (hiddenSize % numHeads !== 0) {
    throw new ConfigError(`${where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  }
  const imageSize = posInt(c, 'image_size', where, d.imageSize, L.imageSize);
  const patchSize = posInt(c, 'patch_size', where, d.patchSize, L.imageSize);
  if (patchSize > imageSize) throw new ConfigError(`${where}: patch_size ${patchSize} is larger than image_size ${imageSize}`);
  const out: SiglipVisionConfig = {
    modelType: type,
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, d.intermediateSize, L.intermediate),
    numLayers: posInt(c, 'num_hidden_layers', where, d.numLayers, L.layers),
    numHeads,
    imageSize,
    patchSize,
    numChannels: posInt(c, 'num_channels', where, d.numChannels, L.channels),
    layerNormEps: epsilon(c, 'layer_norm_eps', where, d.layerNormEps),
    hiddenAct: act as SiglipHiddenAct,
  };
  checkVisionSizes(out, where, Math.floor(imageSize / patchSize));
  return out;
}

/** Patches per side: the 'valid' stride-p convolution drops a remainder (384 / 14 → 27). */
export function siglipGridSize(c: SiglipVisionConfig): number {
  return Math.floor(c.imageSize / c.patchSize);
}

/** Rows the tower outputs per image (= position_embedding rows; no class token). */
export function siglipPatches(c: SiglipVisionConfig): number {
  return siglipGridSize(c) ** 2;
}

export type WeightBias = WeightBiasNames;
export type SiglipLayerNames = EncoderLayerNames;

export interface SiglipWeightNames {
  /** weight [hidden, C, p, p] (Conv2d), bias [hidden]. */
  patchEmbedding: WeightBias;
  /** [patches, hidden] */
  positionEmbedding: string;
  /** Only the layers that are run. */
  layers: SiglipLayerNames[];
  postLayernorm: WeightBias;
}

/**
 * Checkpoint names of a SigLIP tower under `prefix`, e.g. 'vision_tower.vision_model.'
 * (llava-hf checkpoints), 'model.vision_tower.vision_model.' (transformers ≥ 4.52 saves) or
 * 'model.vision_model.' (Idefics3 / SmolVLM). The post-layernorm's names are always given;
 * whether they are needed is the caller's choice (see siglipTensorDtypes).
 */
export function siglipWeightNames(prefix: string, layersNeeded: number): SiglipWeightNames {
  if (!Number.isInteger(layersNeeded) || layersNeeded < 0) throw new Error(`siglipWeightNames: layersNeeded must be an integer ≥ 0, got ${layersNeeded}`);
  const wb = (p: string): WeightBias => ({ weight: `${p}.weight`, bias: `${p}.bias` });
  return {
    patchEmbedding: wb(`${prefix}embeddings.patch_embedding`),
    positionEmbedding: `${prefix}embeddings.position_embedding.weight`,
    layers: encoderLayerNames(prefix, layersNeeded),
    postLayernorm: wb(`${prefix}post_layernorm`),
  };
}

export interface SiglipOptions {
  /** Apply post_layernorm to the output: true for Idefics3 (last_hidden_state), false for LLaVA (hidden_states[i]). */
  postLayernorm: boolean;
}


/**
 * How each tensor is stored on the GPU: the patch convolution and the q/k/v/out/fc1/fc2
 * matrices as f16 (bf16/f32 checkpoints are rounded at load), biases, norms and the position
 * table as f32. The same convention as the LLaVA loader's.
 */
export function siglipTensorDtypes(n: SiglipWeightNames, o: SiglipOptions): Map<string, 'f16' | 'f32'> {
  const m = new Map<string, 'f16' | 'f32'>([
    [n.patchEmbedding.weight, 'f16'],
    [n.patchEmbedding.bias, 'f32'],
    [n.positionEmbedding, 'f32'],
  ]);
  if (o.postLayernorm) for (const name of [n.postLayernorm.weight, n.postLayernorm.bias]) m.set(name, 'f32');
  return encoderLayerDtypes(n.layers, m);
}

/** The shape each tower tensor must have: the patch convolution [d, C, p, p] with bias [d], positions [patches, d]. */
export function siglipTensorShapes(n: SiglipWeightNames, c: SiglipVisionConfig, o: SiglipOptions, into = new Map<string, readonly number[]>()): Map<string, readonly number[]> {
  const d = c.hiddenSize;
  into.set(n.patchEmbedding.weight, [d, c.numChannels, c.patchSize, c.patchSize]);
  into.set(n.patchEmbedding.bias, [d]);
  into.set(n.positionEmbedding, [siglipPatches(c), d]);
  if (o.postLayernorm) for (const name of [n.postLayernorm.weight, n.postLayernorm.bias]) into.set(name, [d]);
  return encoderLayerShapes(n.layers, d, c.intermediateSize, into);
}

export type SiglipLayerWeights = EncoderLayerWeights;

export interface SiglipWeights {
  /** weight f16 [hidden, C·p·p] (the convolution as a matrix, im2col order c, y, x), bias f32 [hidden]. */
  patchEmbedding: Linear;
  /** f32 [patches, hidden] */
  positionEmbedding: Tensor;
  layers: SiglipLayerWeights[];
  /** f32 [hidden] each; null when the tower is run without it. */
  postLayernorm: Linear | null;
}

/**
 * Uploads a SigLIP tower through the shared weight uploader (which has already checked every
 * planned tensor against siglipTensorShapes) and builds it: the one loader of the LLaVA and
 * Idefics3 families and the tests.
 */
export async function loadSiglipTower(
  ctx: GpuContext,
  w: Pick<WeightUploader, 'get' | 'linear'>,
  config: SiglipVisionConfig,
  names: SiglipWeightNames,
  options: SiglipOptions,
): Promise<SiglipVisionTower> {
  const layers: SiglipLayerWeights[] = [];
  for (const l of names.layers) layers.push(await loadEncoderLayer(l, (p) => w.linear(p)));
  const cols = config.numChannels * config.patchSize * config.patchSize;
  const weights: SiglipWeights = {
    patchEmbedding: { weight: await w.get(names.patchEmbedding.weight, [config.hiddenSize, cols]), bias: await w.get(names.patchEmbedding.bias) },
    positionEmbedding: await w.get(names.positionEmbedding),
    layers,
    postLayernorm: options.postLayernorm ? await w.linear(names.postLayernorm) : null,
  };
  return new SiglipVisionTower(ctx, config, weights, options);
}

/**
 * The SigLIP vision transformer on the GPU: patch embedding (im2col + matmul with the conv
 * bias), learned positions, pre-norm blocks (LN → MHA → residual, LN → MLP(act) → residual),
 * then optionally the post-layernorm. Runs the layers it was given (all of them, or only those
 * that feed a LLaVA feature layer) and returns f32 [patches, hidden].
 */
export class SiglipVisionTower {
  readonly postLayernorm: boolean;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: SiglipVisionConfig,
    readonly weights: SiglipWeights,
    options: SiglipOptions,
  ) {
    if (options.postLayernorm && !weights.postLayernorm) throw new Error('SiglipVisionTower: postLayernorm requested but its weights were not loaded');
    if (weights.layers.length > config.numLayers) {
      throw new Error(`SiglipVisionTower: ${weights.layers.length} layers given, the config has ${config.numLayers}`);
    }
    this.postLayernorm = options.postLayernorm;
  }

  get gridSize(): number {
    return siglipGridSize(this.config);
  }

  get patches(): number {
    return siglipPatches(this.config);
  }

  /** pixels: CHW f32 of the configured size → f32 [patches, hidden]. */
  forward(pixels: Float32Array): Tensor {
    const { ctx, config: c, weights: w } = this;
    const S = c.imageSize;
    if (pixels.length !== c.numChannels * S * S) {
      throw new Error(`SiglipVisionTower: expected ${c.numChannels * S * S} pixel values (${c.numChannels}×${S}×${S}), got ${pixels.length}`);
    }
    const T = this.patches;
    const d = c.hiddenSize;
    const heads = c.numHeads;
    const eps = c.layerNormEps;
    const cols = im2col(pixels, c.numChannels, S, S, c.patchSize);
    const patchRows = ctx.upload(cols, [T, c.numChannels * c.patchSize * c.patchSize], 'f32', 'siglipPatches');
    const patchEmb = ops.matmul(ctx, patchRows, w.patchEmbedding.weight, w.patchEmbedding.bias);
    patchRows.dispose();
    let h = ops.add(ctx, patchEmb, w.positionEmbedding);
    patchEmb.dispose();
    h = runEncoderLayers(ctx, h, w.layers, { tokens: T, hidden: d, heads, eps, act: c.hiddenAct });
    if (this.postLayernorm) {
      const post = w.postLayernorm!;
      const normed = ops.layernorm(ctx, h, post.weight, post.bias, eps);
      h.dispose();
      h = normed;
    }
    return h;
  }
}
