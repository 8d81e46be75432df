/**
 * The LLaVA image path on the CPU (tower, feature selection, projector) and greedy generation with it, in float64 accumulation, built from the reference ops:
 * the oracle the GPU model is checked against (vision features, projector output, logits,
 * greedy tokens). Read it top to bottom: it is the model, with nothing else in the way.
 * Weights are passed as plain Float32Arrays holding exactly the values the GPU holds (f16
 * matmul weights rounded the same way), so differences come from arithmetic only.
 */
import type { ImagePlacement } from '../models/family';
import type { LlavaConfig } from '../models/llava/config';
import type { LlavaWeightNames } from '../models/llava/weights';
import { activation, type ActivationOp } from './activation';
import { attention } from './attention';
import { add, referenceGenerateFromFeatures, type ReferenceDecoderWeights, type ReferencePruner, type WeightLookup } from './decoder';
import { matmul } from './matmul';
import { layernorm } from './layernorm';
import { referenceSiglip } from './siglip';

export interface ReferenceLlavaWeights {
  config: LlavaConfig;
  /** Tensor by checkpoint name, as the GPU sees it (f16-rounded for matmul weights). */
  get: WeightLookup;
  names: LlavaWeightNames;
}

export function llavaDecoderWeights(w: ReferenceLlavaWeights): ReferenceDecoderWeights {
  return { config: w.config.text, names: w.names.text, get: w.get };
}

function projectorAct(config: LlavaConfig): ActivationOp {
  return config.projectorHiddenAct === 'gelu_pytorch_tanh' ? 'gelu_tanh' : config.projectorHiddenAct;
}

function visionAct(config: LlavaConfig): ActivationOp {
  const a = config.vision.hiddenAct;
  return a === 'gelu_pytorch_tanh' || a === 'gelu_new' ? 'gelu_tanh' : a;
}

/** CLIP hidden states at the feature layer (row 0 = CLS). */
function referenceClip(w: ReferenceLlavaWeights, pixels: Float32Array): Float32Array {
  const { config: c, get } = w;
  const v = c.vision;
  if (v.kind !== 'clip' || w.names.vision.kind !== 'clip') throw new Error('referenceClip: not a CLIP tower');
  const names = { vision: w.names.vision.names };
  const g = v.imageSize / v.patchSize;
  const P = g * g;
  const T = P + 1;
  const d = v.hiddenSize;
  const patchW = get(names.vision.patchEmbedding); // [d, C, p, p]
  const cls = get(names.vision.classEmbedding);
  const pos = get(names.vision.positionEmbedding);
  // Patch convolution written as the convolution it is (stride = kernel = patch size).
  let h: Float32Array = new Float32Array(T * d);
  for (let j = 0; j < d; j++) h[j] = cls[j]! + pos[j]!;
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      const t = 1 + py * g + px;
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let ch = 0; ch < v.numChannels; ch++) {
          for (let ky = 0; ky < v.patchSize; ky++) {
            for (let kx = 0; kx < v.patchSize; kx++) {
              const pixel = pixels[ch * v.imageSize * v.imageSize + (py * v.patchSize + ky) * v.imageSize + px * v.patchSize + kx]!;
              s += pixel * patchW[((j * v.numChannels + ch) * v.patchSize + ky) * v.patchSize + kx]!;
            }
          }
        }
        h[t * d + j] = s + pos[t * d + j]!;
      }
    }
  }
  h = layernorm(h, get(names.vision.preNorm.weight), get(names.vision.preNorm.bias), T, d, v.layerNormEps);
  const heads = v.numHeads;
  const hd = d / heads;
  for (const l of names.vision.layers) {
    const x1 = layernorm(h, get(l.norm1.weight), get(l.norm1.bias), T, d, v.layerNormEps);
    const q = matmul(x1, get(l.q.weight), T, d, d, get(l.q.bias));
    const k = matmul(x1, get(l.k.weight), T, d, d, get(l.k.bias));
    const vv = matmul(x1, get(l.v.weight), T, d, d, get(l.v.bias));
    const a = attention(q, k, vv, { Tq: T, Hq: heads, Hkv: heads, D: hd, kvLen: T, causal: false, scale: 1 / Math.sqrt(hd) }).out;
    h = add(h, matmul(a, get(l.out.weight), T, d, d, get(l.out.bias)));
    const x2 = layernorm(h, get(l.norm2.weight), get(l.norm2.bias), T, d, v.layerNormEps);
    const f1 = activation(matmul(x2, get(l.fc1.weight), T, v.intermediateSize, d, get(l.fc1.bias)), visionAct(c));
    h = add(h, matmul(f1, get(l.fc2.weight), T, d, v.intermediateSize, get(l.fc2.bias)));
  }
  return h;
}

/** Tower hidden states at the feature layer → selection → projector output [tileTokens, text hidden]. */
export function referenceImageFeatures(w: ReferenceLlavaWeights, pixels: Float32Array): { vision: Float32Array; projected: Float32Array } {
  const { config: c, get, names } = w;
  const v = c.vision;
  const d = v.hiddenSize;
  const h =
    names.vision.kind === 'clip' ? referenceClip(w, pixels) : v.kind === 'siglip' ? referenceSiglip(v, get, names.vision.names, pixels, { postLayernorm: false }) : null;
  if (!h) throw new Error('reference: vision config and weight names disagree');
  const features = c.visionFeatureSelectStrategy === 'default' ? h.slice(d) : h;
  const N = c.tileTokens;
  const dt = c.text.hiddenSize;
  const p1 = activation(matmul(features, get(names.projector.linear1.weight), N, dt, d, get(names.projector.linear1.bias)), projectorAct(c));
  const projected = matmul(p1, get(names.projector.linear2.weight), N, dt, dt, get(names.projector.linear2.bias));
  return { vision: features, projected };
}


export interface ReferenceGeneration {
  visionFeatures: Float32Array | null;
  projected: Float32Array | null;
  /** Logits after the prompt, then after each generated token. */
  logits: Float32Array[];
  tokens: number[];
}

/** Greedy LLaVA generation: prompt ids with one run of image tokens (`imageSpan`) filled from `pixels`. */
export function referenceGenerate(
  w: ReferenceLlavaWeights,
  inputIds: Uint32Array,
  imageSpan: { start: number; end: number } | null,
  pixels: Float32Array | null,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
  pruner: ReferencePruner | null = null,
): ReferenceGeneration {
  const f = imageSpan && pixels ? referenceImageFeatures(w, pixels) : null;
  const placement: ImagePlacement | null = imageSpan ? { runs: [imageSpan], region: imageSpan, fixedOffsets: [] } : null;
  const out = referenceGenerateFromFeatures(llavaDecoderWeights(w), inputIds, placement, f?.projected ?? null, maxNewTokens, eosTokenIds, pruner);
  return { visionFeatures: f?.vision ?? null, projected: f?.projected ?? null, ...out };
}
