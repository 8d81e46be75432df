/**
 * The whole LLaVA forward on the CPU, in float64 accumulation, built from the reference ops:
 * the oracle the GPU model is checked against (vision features, projector output, logits,
 * greedy tokens). Read it top to bottom: it is the model, with nothing else in the way.
 * Weights are passed as plain Float32Arrays holding exactly the values the GPU holds (f16
 * matmul weights rounded the same way), so differences come from arithmetic only.
 */
import type { LlavaConfig } from '../models/config';
import { activation, type ActivationOp } from './activation';
import { attention, type AttentionArgs } from './attention';
import { embedding } from './embedding';
import { matmul } from './matmul';
import { layernorm, rmsnorm } from './norm';
import { rope } from './rope';

export type WeightLookup = (name: string) => Float32Array;

export interface ReferenceLlavaWeights {
  config: LlavaConfig;
  /** Tensor by checkpoint name, as the GPU sees it (f16-rounded for matmul weights). */
  get: WeightLookup;
  names: import('../models/llava-weights').LlavaWeightNames;
}

function add(a: Float32Array, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i % b.length]!;
  return out;
}

function projectorAct(config: LlavaConfig): ActivationOp {
  return config.projectorHiddenAct === 'gelu_pytorch_tanh' ? 'gelu_tanh' : config.projectorHiddenAct;
}

function visionAct(config: LlavaConfig): ActivationOp {
  const a = config.vision.hiddenAct;
  return a === 'gelu_pytorch_tanh' ? 'gelu_tanh' : a;
}

/** CLIP hidden states at the feature layer → projector output [imageTokens, text hidden]. */
export function referenceImageFeatures(w: ReferenceLlavaWeights, pixels: Float32Array): { vision: Float32Array; projected: Float32Array } {
  const { config: c, get, names } = w;
  const v = c.vision;
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
  const features = c.visionFeatureSelectStrategy === 'default' ? h.slice(d) : h;
  const N = c.imageTokens;
  const dt = c.text.hiddenSize;
  const p1 = activation(matmul(features, get(names.projector.linear1.weight), N, dt, d, get(names.projector.linear1.bias)), projectorAct(c));
  const projected = matmul(p1, get(names.projector.linear2.weight), N, dt, dt, get(names.projector.linear2.bias));
  return { vision: features, projected };
}

/** Per-request state of the reference decoder: each layer's cache (ragged after pruning). */
export interface ReferenceKvCache {
  k: Float32Array[][]; // [layer][row] → Hkv·D values
  v: Float32Array[][];
}

export function newReferenceCache(layers: number): ReferenceKvCache {
  return { k: Array.from({ length: layers }, () => []), v: Array.from({ length: layers }, () => []) };
}

function stackRows(rows: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

/** What a reference pruning policy sees at a layer (current rows, original positions). */
export interface ReferencePruneArgs {
  layer: number;
  /** Queries after RoPE [T, Hq, D] and this layer's whole cache [kvLen, Hkv, D]. */
  q: Float32Array;
  k: Float32Array;
  args: AttentionArgs;
  positions: number[];
  visualSpan: { start: number; end: number } | null;
}

/** Rows to keep (ascending) and the visual span after the cut; null keeps everything. */
export type ReferencePruneResult = { keep: number[]; visualSpan: { start: number; end: number } | null } | null;

export interface ReferencePruner {
  afterAttention?(a: ReferencePruneArgs): ReferencePruneResult;
  /** Placement after the layer (FastV); sees the same attention as afterAttention did. */
  afterLayer?(a: ReferencePruneArgs): ReferencePruneResult;
}

function pickRows(x: Float32Array, width: number, keep: number[]): Float32Array {
  const out = new Float32Array(keep.length * width);
  keep.forEach((r, i) => out.set(x.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

export interface ReferenceDecoderOutput {
  hidden: Float32Array;
  positions: number[];
  visualSpan: { start: number; end: number } | null;
}

/**
 * Llama decoder over embedded rows `hidden` [T, d] at original `positions`; appends each
 * layer's K/V to its own cache (ragged after pruning). An optional pruner drops rows after a
 * layer's attention (before o_proj) or after the layer. Returns the final-normed rows left.
 */
export function referenceDecoder(
  w: ReferenceLlavaWeights,
  hidden: Float32Array,
  positions: readonly number[],
  cache: ReferenceKvCache,
  pruner: ReferencePruner | null = null,
  visualSpan: { start: number; end: number } | null = null,
): ReferenceDecoderOutput {
  const { config: c, get, names } = w;
  const t = c.text;
  const d = t.hiddenSize;
  const qw = t.numHeads * t.headDim;
  const kw = t.numKvHeads * t.headDim;
  let h: Float32Array = hidden;
  let pos = [...positions];
  let span = visualSpan;
  names.text.layers.forEach((l, li) => {
    let T = pos.length;
    const xn = rmsnorm(h, get(l.inputNorm), T, d, t.rmsNormEps);
    const q = rope(matmul(xn, get(l.q), T, qw, d), pos, T, t.numHeads, t.headDim, t.ropeTheta);
    const k = rope(matmul(xn, get(l.k), T, kw, d), pos, T, t.numKvHeads, t.headDim, t.ropeTheta);
    const v = matmul(xn, get(l.v), T, kw, d);
    for (let r = 0; r < T; r++) {
      cache.k[li]!.push(k.slice(r * kw, (r + 1) * kw));
      cache.v[li]!.push(v.slice(r * kw, (r + 1) * kw));
    }
    const kvLen = cache.k[li]!.length;
    const kAll = stackRows(cache.k[li]!, kw);
    const args: AttentionArgs = { Tq: T, Hq: t.numHeads, Hkv: t.numKvHeads, D: t.headDim, kvLen, causal: true, scale: 1 / Math.sqrt(t.headDim) };
    let a = attention(q, kAll, stackRows(cache.v[li]!, kw), args).out;
    const seen: ReferencePruneArgs = { layer: li, q, k: kAll, args, positions: pos, visualSpan: span };
    const cut = pruner?.afterAttention?.(seen);
    if (cut) {
      a = pickRows(a, qw, cut.keep);
      h = pickRows(h, d, cut.keep);
      pos = cut.keep.map((r) => pos[r]!);
      span = cut.visualSpan;
      T = pos.length;
    }
    h = add(h, matmul(a, get(l.o), T, d, qw));
    const xn2 = rmsnorm(h, get(l.postNorm), T, d, t.rmsNormEps);
    const gate = activation(matmul(xn2, get(l.gate), T, t.intermediateSize, d), 'silu');
    const up = matmul(xn2, get(l.up), T, t.intermediateSize, d);
    for (let i = 0; i < gate.length; i++) gate[i] = gate[i]! * up[i]!;
    h = add(h, matmul(gate, get(l.down), T, d, t.intermediateSize));
    const after = pruner?.afterLayer?.({ ...seen, positions: pos, visualSpan: span });
    if (after) {
      h = pickRows(h, d, after.keep);
      pos = after.keep.map((r) => pos[r]!);
      span = after.visualSpan;
    }
  });
  return { hidden: rmsnorm(h, get(names.text.norm), pos.length, d, t.rmsNormEps), positions: pos, visualSpan: span };
}

export function referenceLogits(w: ReferenceLlavaWeights, finalHidden: Float32Array, row: number): Float32Array {
  const t = w.config.text;
  const head = w.names.text.lmHead ?? w.names.text.embed;
  return matmul(finalHidden.subarray(row * t.hiddenSize, (row + 1) * t.hiddenSize), w.get(head), 1, t.vocabSize, t.hiddenSize);
}

export interface ReferenceGeneration {
  visionFeatures: Float32Array | null;
  projected: Float32Array | null;
  /** Logits after the prompt, then after each generated token. */
  logits: Float32Array[];
  tokens: number[];
}

/** Greedy generation: prompt ids (image span filled with features) → tokens. */
export function referenceGenerate(
  w: ReferenceLlavaWeights,
  inputIds: Uint32Array,
  imageSpan: { start: number; end: number } | null,
  pixels: Float32Array | null,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
  pruner: ReferencePruner | null = null,
): ReferenceGeneration {
  const c = w.config;
  const d = c.text.hiddenSize;
  const embedTable = w.get(w.names.text.embed);
  const hidden = embedding(inputIds, embedTable, d);
  let visionFeatures: Float32Array | null = null;
  let projected: Float32Array | null = null;
  if (imageSpan && pixels) {
    const f = referenceImageFeatures(w, pixels);
    visionFeatures = f.vision;
    projected = f.projected;
    hidden.set(projected, imageSpan.start * d);
  }
  const cache = newReferenceCache(c.text.numLayers);
  const T = inputIds.length;
  const prefill = referenceDecoder(w, hidden, Array.from({ length: T }, (_, i) => i), cache, pruner, imageSpan);
  const logits = [referenceLogits(w, prefill.hidden, prefill.positions.length - 1)];
  const tokens: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const token = argmaxOf(logits[logits.length - 1]!);
    if (eosTokenIds.includes(token)) break;
    tokens.push(token);
    if (i === maxNewTokens - 1) break;
    const step = referenceDecoder(w, embedding(Uint32Array.of(token), embedTable, d), [T + i], cache);
    logits.push(referenceLogits(w, step.hidden, 0));
  }
  return { visionFeatures, projected, logits, tokens };
}

function argmaxOf(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}
