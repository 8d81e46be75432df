/**
 * The Llama-family decoder (Llama, Mistral, Qwen2) on the CPU, in float64 accumulation, built
 * from the reference ops, and greedy generation over it: the oracle every family's GPU model is
 * checked against (logits, greedy tokens, pruned and unpruned). Read it top to bottom: it is the
 * model, with nothing else in the way. Weights are passed as plain Float32Arrays holding
 * exactly the values the GPU holds (f16 matmul weights rounded the same way), so differences
 * come from arithmetic only.
 */
import type { ImagePlacement } from '../models/family';
import type { DecoderConfig } from '../models/config';
import type { DecoderWeightNames } from '../models/llama-weights';
import { activation } from './activation';
import { attention, type AttentionArgs } from './attention';
import { embedding } from './embedding';
import { matmul } from './matmul';
import { rmsnorm } from './rmsnorm';
import { rope } from './rope';

export type WeightLookup = (name: string) => Float32Array;

export interface ReferenceDecoderWeights {
  config: DecoderConfig;
  names: DecoderWeightNames;
  /** Tensor by checkpoint name, as the GPU sees it (f16-rounded for matmul weights). */
  get: WeightLookup;
}

export function add(a: Float32Array, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i % b.length]!;
  return out;
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
  /** Per current row: a fixed row inside the visual span (a tile marker) that must never be pruned. */
  pinned: boolean[];
}

/** What a reference policy sees before layer 0. */
export interface ReferenceInputArgs {
  hidden: Float32Array;
  width: number;
  positions: number[];
  visualSpan: { start: number; end: number } | null;
  pinned: boolean[];
}

/** Rows to keep (ascending) and the visual span after the cut; null keeps everything. */
export type ReferencePruneResult = { keep: number[]; visualSpan: { start: number; end: number } | null } | null;

export interface ReferencePruner {
  /** Before layer 0 on the embedded rows [T, d] (vision-side policies); `hidden` replaces the kept rows (a merge) when given. */
  beforeDecoder?(a: ReferenceInputArgs): (NonNullable<ReferencePruneResult> & { hidden?: Float32Array }) | null;
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
  w: ReferenceDecoderWeights,
  hidden: Float32Array,
  positions: readonly number[],
  cache: ReferenceKvCache,
  pruner: ReferencePruner | null = null,
  visualSpan: { start: number; end: number } | null = null,
  pinnedRows: readonly number[] = [],
): ReferenceDecoderOutput {
  const { config: t, get, names } = w;
  const d = t.hiddenSize;
  const qw = t.numHeads * t.headDim;
  const kw = t.numKvHeads * t.headDim;
  let h: Float32Array = hidden;
  let pos = [...positions];
  let span = visualSpan;
  let pinned = Array.from({ length: pos.length }, () => false);
  for (const r of pinnedRows) pinned[r] = true;
  const input = pruner?.beforeDecoder?.({ hidden: h, width: d, positions: pos, visualSpan: span, pinned });
  if (input) {
    h = input.hidden ?? pickRows(h, d, input.keep);
    pos = input.keep.map((r) => pos[r]!);
    pinned = input.keep.map((r) => pinned[r]!);
    span = input.visualSpan;
  }
  names.layers.forEach((l, li) => {
    let T = pos.length;
    const xn = rmsnorm(h, get(l.inputNorm), T, d, t.rmsNormEps);
    const bias = (name: string | undefined) => (name ? get(name) : undefined);
    const q = rope(matmul(xn, get(l.q), T, qw, d, bias(l.qkvBias?.q)), pos, T, t.numHeads, t.headDim, t.ropeTheta);
    const k = rope(matmul(xn, get(l.k), T, kw, d, bias(l.qkvBias?.k)), pos, T, t.numKvHeads, t.headDim, t.ropeTheta);
    const v = matmul(xn, get(l.v), T, kw, d, bias(l.qkvBias?.v));
    for (let r = 0; r < T; r++) {
      cache.k[li]!.push(k.slice(r * kw, (r + 1) * kw));
      cache.v[li]!.push(v.slice(r * kw, (r + 1) * kw));
    }
    const kvLen = cache.k[li]!.length;
    const kAll = stackRows(cache.k[li]!, kw);
    const args: AttentionArgs = { Tq: T, Hq: t.numHeads, Hkv: t.numKvHeads, D: t.headDim, kvLen, causal: true, scale: 1 / Math.sqrt(t.headDim) };
    let a = attention(q, kAll, stackRows(cache.v[li]!, kw), args).out;
    const seen: ReferencePruneArgs = { layer: li, q, k: kAll, args, positions: pos, visualSpan: span, pinned };
    const cut = pruner?.afterAttention?.(seen);
    if (cut) {
      a = pickRows(a, qw, cut.keep);
      h = pickRows(h, d, cut.keep);
      pos = cut.keep.map((r) => pos[r]!);
      pinned = cut.keep.map((r) => pinned[r]!);
      span = cut.visualSpan;
      T = pos.length;
    }
    h = add(h, matmul(a, get(l.o), T, d, qw));
    const xn2 = rmsnorm(h, get(l.postNorm), T, d, t.rmsNormEps);
    const gate = activation(matmul(xn2, get(l.gate), T, t.intermediateSize, d), 'silu');
    const up = matmul(xn2, get(l.up), T, t.intermediateSize, d);
    for (let i = 0; i < gate.length; i++) gate[i] = gate[i]! * up[i]!;
    h = add(h, matmul(gate, get(l.down), T, d, t.intermediateSize));
    const after = pruner?.afterLayer?.({ ...seen, positions: pos, visualSpan: span, pinned });
    if (after) {
      h = pickRows(h, d, after.keep);
      pos = after.keep.map((r) => pos[r]!);
      pinned = after.keep.map((r) => pinned[r]!);
      span = after.visualSpan;
    }
  });
  return { hidden: rmsnorm(h, get(names.norm), pos.length, d, t.rmsNormEps), positions: pos, visualSpan: span };
}

export function referenceLogits(w: ReferenceDecoderWeights, finalHidden: Float32Array, row: number): Float32Array {
  const t = w.config;
  const head = w.names.lmHead ?? w.names.embed;
  return matmul(finalHidden.subarray(row * t.hiddenSize, (row + 1) * t.hiddenSize), w.get(head), 1, t.vocabSize, t.hiddenSize);
}

/**
 * Greedy generation from image features already computed: `placement` says which prompt rows
 * the feature rows fill (runs, in order) and which region pruning sees.
 */
export function referenceGenerateFromFeatures(
  w: ReferenceDecoderWeights,
  inputIds: Uint32Array,
  placement: ImagePlacement | null,
  features: Float32Array | null,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
  pruner: ReferencePruner | null = null,
): { logits: Float32Array[]; tokens: number[] } {
  const t = w.config;
  const d = t.hiddenSize;
  const embedTable = w.get(w.names.embed);
  const hidden = embedding(inputIds, embedTable, d);
  if (placement && features) {
    let from = 0;
    for (const run of placement.runs) {
      const n = run.end - run.start;
      hidden.set(features.subarray(from * d, (from + n) * d), run.start * d);
      from += n;
    }
    if (from * d !== features.length) throw new Error(`reference: ${features.length / d} feature rows for ${from} image tokens`);
  }
  const cache = newReferenceCache(t.numLayers);
  const T = inputIds.length;
  const region = placement ? placement.region : null;
  const pinnedRows = placement ? placement.fixedOffsets.map((o) => placement.region.start + o) : [];
  const prefill = referenceDecoder(w, hidden, Array.from({ length: T }, (_, i) => i), cache, pruner, region, pinnedRows);
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
  return { logits, tokens };
}

function argmaxOf(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}
