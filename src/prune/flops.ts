/**
 * Two ways to count the compute of a (pruned) prefill.
 *
 * 1. The FitPrune reference convention (what the paper's budgets mean): multiply-accumulates
 *    of the language model on VISUAL tokens only. A layer entered by n visual tokens and left
 *    by n' = n − k costs 3·n·d² (Q, K, V) + 2·n²·d (QKᵀ and AV) on n, then n'·d² (o_proj) +
 *    3·n'·d·m (gate, up, down) on n'. It ignores text tokens, GQA and the vision tower.
 * 2. The true architecture count (what a user's GPU actually does): every prompt token, grouped
 *    K/V widths, causal attention, the vision tower, the projector and the final logits row,
 *    ×2 to count FLOPs rather than MACs.
 * Both are reported side by side and labelled; budgets are set in the reference convention.
 */

import type { FlopsShape } from '../models/family';

/** What the reference convention reads of a model: its decoder's width, MLP width and depth (FlopsShape['text'] has them). */
export interface ReferenceFlopsModel {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
}

export interface ReferenceFlops {
  /** Multiply-accumulates of the pruned schedule. */
  macs: number;
  /** Multiply-accumulates with no pruning. */
  baselineMacs: number;
  /** macs / baselineMacs. */
  ratio: number;
  /** Visual tokens left after each layer. */
  tokensLeft: number[];
}

/** Per-layer reference cost of a layer entered by n and left by nOut visual tokens. */
export function referenceLayerMacs(m: ReferenceFlopsModel, n: number, nOut: number): number {
  const d = m.hiddenSize;
  return 3 * n * d * d + 2 * n * n * d + nOut * d * d + 3 * nOut * d * m.intermediateSize;
}

const checkBefore = (fn: string, before: number, visualTokens: number) => {
  if (!Number.isInteger(before) || before < 0 || before > visualTokens) throw new Error(`${fn}: tokens removed before the decoder must be an integer in [0, ${visualTokens}], got ${before}`);
};

/**
 * Reference-convention cost of deleting counts[l] visual tokens at layer l (incremental counts,
 * length L; a count larger than what is left deletes everything left), after `before` were
 * removed ahead of layer 0 by a vision-side policy (no layer sees them; the baseline keeps all).
 */
export function referenceFlops(m: ReferenceFlopsModel, visualTokens: number, counts: readonly number[], before = 0): ReferenceFlops {
  if (counts.length !== m.numLayers) {
    throw new Error(`referenceFlops: ${counts.length} per-layer counts for a ${m.numLayers}-layer model`);
  }
  checkBefore('referenceFlops', before, visualTokens);
  let n = visualTokens - before;
  let macs = 0;
  const tokensLeft: number[] = [];
  for (const k of counts) {
    if (!Number.isInteger(k) || k < 0) throw new Error(`referenceFlops: counts must be non-negative integers, got ${k}`);
    const nOut = Math.max(0, n - k);
    macs += referenceLayerMacs(m, n, nOut);
    n = nOut;
    tokensLeft.push(n);
  }
  const baselineMacs = m.numLayers * referenceLayerMacs(m, visualTokens, visualTokens);
  return { macs, baselineMacs, ratio: baselineMacs > 0 ? macs / baselineMacs : 1, tokensLeft };
}

/** The model's compute shape, as its family describes it (src/models/family.ts). */
export type ArchitectureShape = FlopsShape;

export interface ArchitectureFlops {
  /** FLOPs (2 per multiply-accumulate) of the whole prefill with the given pruning. */
  flops: number;
  baselineFlops: number;
  ratio: number;
  breakdown: { vision: number; projector: number; languageModel: number; lmHead: number };
}

/**
 * True prefill FLOPs: prompt of `promptTokens` rows of which the visual ones are removed per
 * layer by `counts` (all zeros = unpruned), `before` of them ahead of layer 0. The vision tower
 * and projector still run on every token (vision-side policies choose from their output). Causal attention counts the keys each row sees.
 */
export function architectureFlops(a: ArchitectureShape, promptTokens: number, visualTokens: number, counts: readonly number[], before = 0): ArchitectureFlops {
  const t = a.text;
  if (counts.length !== t.numLayers) throw new Error(`architectureFlops: ${counts.length} counts for ${t.numLayers} layers`);
  checkBefore('architectureFlops', before, visualTokens);
  const qWidth = t.numHeads * t.headDim;
  const kvWidth = t.numKvHeads * t.headDim;
  const layer = (nIn: number, nOut: number) =>
    nIn * t.hiddenSize * (qWidth + 2 * kvWidth) + // q, k, v projections
    2 * t.numHeads * t.headDim * ((nIn * (nIn + 1)) / 2) + // causal QKᵀ and AV
    nOut * qWidth * t.hiddenSize + // o_proj
    3 * nOut * t.hiddenSize * t.intermediateSize; // gate, up, down
  const lm = (ks: readonly number[], removedBefore: number) => {
    let n = promptTokens - removedBefore;
    let vis = visualTokens - removedBefore;
    let macs = 0;
    for (const k of ks) {
      const removed = Math.min(k, vis);
      macs += layer(n, n - removed);
      n -= removed;
      vis -= removed;
    }
    return macs;
  };
  let vision = 0;
  if (a.vision) {
    const v = a.vision;
    const perTile =
      v.patches * v.patchInputs * v.hiddenSize +
      v.layersRun * (4 * v.tokens * v.hiddenSize ** 2 + 2 * v.tokens ** 2 * v.hiddenSize + 2 * v.tokens * v.hiddenSize * v.intermediateSize);
    vision = v.tiles * perTile;
  }
  const projector = a.connector ? a.connector.tokens * a.connector.linears.reduce((s, [i, o]) => s + i * o, 0) : 0;
  const lmHead = t.hiddenSize * t.vocabSize;
  const pruned = lm(counts, before);
  const unpruned = lm(counts.map(() => 0), 0);
  const fixed = vision + projector + lmHead;
  const flops = 2 * (fixed + pruned);
  const baselineFlops = 2 * (fixed + unpruned);
  return {
    flops,
    baselineFlops,
    ratio: flops / baselineFlops,
    breakdown: { vision: 2 * vision, projector: 2 * projector, languageModel: 2 * pruned, lmHead: 2 * lmHead },
  };
}
