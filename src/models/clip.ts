import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import type { ClipVisionConfig } from './config';
import { ops } from './ops';
import type { WeightUploader } from './vlm';
import { encoderLayerDtypes, encoderLayerNames, encoderLayerShapes, loadEncoderLayer, runEncoderLayers, weightBias, type EncoderLayerNames, type EncoderLayerWeights, type Linear, type WeightBiasNames } from './vit-encoder';

export type { Linear } from './vit-encoder';
export type ClipLayerWeights = EncoderLayerWeights;

export interface ClipWeights {
  /** f32 [hidden] */
  classEmbedding: Tensor;
  /** f16 [hidden, C·p·p]: the patch convolution as a matrix (im2col order c, y, x). */
  patchEmbedding: Tensor;
  /** f32 [patches + 1, hidden] */
  positionEmbedding: Tensor;
  preNorm: Linear;
  layers: ClipLayerWeights[];
}

/**
 * Cuts an image (CHW f32) into patch rows [patches, C·p·p] in the order of a strided Conv2d's
 * weight (c, ky, kx), patches row-major over the grid: the patch convolution becomes a matmul.
 * This runs on the CPU once per image; it is a reshuffle of the preprocessed pixels.
 */
export function im2col(pixels: Float32Array, channels: number, height: number, width: number, patch: number): Float32Array {
  const gh = Math.floor(height / patch);
  const gw = Math.floor(width / patch);
  const cols = channels * patch * patch;
  const out = new Float32Array(gh * gw * cols);
  for (let py = 0; py < gh; py++) {
    for (let px = 0; px < gw; px++) {
      const row = (py * gw + px) * cols;
      for (let c = 0; c < channels; c++) {
        for (let ky = 0; ky < patch; ky++) {
          const src = c * height * width + (py * patch + ky) * width + px * patch;
          out.set(pixels.subarray(src, src + patch), row + c * patch * patch + ky * patch);
        }
      }
    }
  }
  return out;
}

/**
 * The CLIP vision transformer up to the hidden state LLaVA reads: patch embedding (as a
 * matmul), class token, learned positions, pre-layernorm, then pre-norm blocks
 * (LN → MHA → residual, LN → MLP(act) → residual). Only the layers that feed the selected
 * feature layer are loaded and run.
 */
export class ClipVisionTower {
  constructor(
    private readonly ctx: GpuContext,
    readonly config: ClipVisionConfig,
    readonly weights: ClipWeights,
  ) {}

  get patches(): number {
    return (this.config.imageSize / this.config.patchSize) ** 2;
  }

  /** pixels: CHW f32 of the configured size → f32 [patches + 1, hidden] (row 0 = CLS). */
  forward(pixels: Float32Array): Tensor {
    const { ctx, config: c, weights: w } = this;
    const P = this.patches;
    const d = c.hiddenSize;
    const cols = im2col(pixels, c.numChannels, c.imageSize, c.imageSize, c.patchSize);
    const patchRows = ctx.upload(cols, [P, c.numChannels * c.patchSize * c.patchSize], 'f32', 'patches');
    const patchEmb = ops.matmul(ctx, patchRows, w.patchEmbedding);
    patchRows.dispose();
    const tokens = ctx.empty([P + 1, d], 'f32', 'clipTokens');
    ctx.copy(w.classEmbedding.buffer, 0, tokens.buffer, 0, d * 4);
    ctx.copy(patchEmb.buffer, 0, tokens.buffer, d * 4, P * d * 4);
    patchEmb.dispose();
    const embedded = ops.add(ctx, tokens, w.positionEmbedding);
    tokens.dispose();
    let h = ops.layernorm(ctx, embedded, w.preNorm.weight, w.preNorm.bias, c.layerNormEps);
    embedded.dispose();
    return runEncoderLayers(ctx, h, w.layers, { tokens: P + 1, hidden: d, heads: c.numHeads, eps: c.layerNormEps, act: c.hiddenAct });
  }
}

export type { WeightBiasNames } from './vit-encoder';
export type ClipLayerNames = EncoderLayerNames;

export interface ClipWeightNames {
  classEmbedding: string;
  patchEmbedding: string;
  positionEmbedding: string;
  preNorm: WeightBiasNames;
  /** Only the layers up to the feature layer: later ones are never run (nor downloaded). */
  layers: ClipLayerNames[];
}

/** Checkpoint names of a CLIP vision tower under `prefix` (e.g. "vision_tower.vision_model."). */
export function clipWeightNames(prefix: string, layersRun: number): ClipWeightNames {
  return {
    classEmbedding: `${prefix}embeddings.class_embedding`,
    patchEmbedding: `${prefix}embeddings.patch_embedding.weight`,
    positionEmbedding: `${prefix}embeddings.position_embedding.weight`,
    preNorm: weightBias(`${prefix}pre_layrnorm`), // sic: the checkpoints spell it so
    layers: encoderLayerNames(prefix, layersRun),
  };
}

/** The tower's tensors with their GPU dtypes: matrices and the patch convolution f16, the rest f32. */
export function clipTensorDtypes(n: ClipWeightNames, into = new Map<string, 'f16' | 'f32'>()): Map<string, 'f16' | 'f32'> {
  into.set(n.classEmbedding, 'f32');
  into.set(n.patchEmbedding, 'f16');
  into.set(n.positionEmbedding, 'f32');
  into.set(n.preNorm.weight, 'f32');
  into.set(n.preNorm.bias, 'f32');
  return encoderLayerDtypes(n.layers, into);
}

/** The shape each tower tensor must have: the patch convolution [d, C, p, p], positions [patches + 1, d] (CLS first). */
export function clipTensorShapes(n: ClipWeightNames, c: ClipVisionConfig, into = new Map<string, readonly number[]>()): Map<string, readonly number[]> {
  const d = c.hiddenSize;
  into.set(n.classEmbedding, [d]);
  into.set(n.patchEmbedding, [d, c.numChannels, c.patchSize, c.patchSize]);
  into.set(n.positionEmbedding, [(c.imageSize / c.patchSize) ** 2 + 1, d]);
  into.set(n.preNorm.weight, [d]);
  into.set(n.preNorm.bias, [d]);
  return encoderLayerShapes(n.layers, d, c.intermediateSize, into);
}

/** Uploads a CLIP tower through the shared weight uploader (shapes already checked against the plan) and builds it. */
export async function loadClipTower(ctx: GpuContext, w: Pick<WeightUploader, 'get' | 'linear'>, config: ClipVisionConfig, names: ClipWeightNames): Promise<ClipVisionTower> {
  const layers: ClipLayerWeights[] = [];
  for (const l of names.layers) layers.push(await loadEncoderLayer(l, (p) => w.linear(p)));
  const cols = config.numChannels * config.patchSize * config.patchSize;
  return new ClipVisionTower(ctx, config, {
    classEmbedding: await w.get(names.classEmbedding),
    patchEmbedding: await w.get(names.patchEmbedding, [config.hiddenSize, cols]),
    positionEmbedding: await w.get(names.positionEmbedding),
    preNorm: await w.linear(names.preNorm),
    layers,
  });
}
