/**
 * Pruning policies as decoder hooks. Each decides, during prefill only, how many visual tokens
 * to drop at which layer and which ones; the decoder does the dropping (gathering the attention
 * output, the residual stream and the original position ids; each layer's KV cache keeps the
 * rows it saw). No policy forks the model code.
 *   none      no hooks: the plain forward, bit for bit
 *   fitprune  recipe counts; per example, rank visual tokens by cross·self head-max attention
 *   fastv     at layer K, rank by layer K−1's head-mean attention of the last prompt token, drop R
 *   random    the same counts as a recipe, tokens drawn uniformly (seeded): the control
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { attentionStats } from '../kernels/attention-stats';
import { bottomKKeep } from '../kernels/bottomk-select';
import { elementwise } from '../kernels/elementwise';
import { gatherRows } from '../kernels/gather-rows';
import { headMeanAttention } from '../kernels/head-mean-attention';
import type { AttentionHookArgs, DecoderHooks, KeepRows } from '../models/hooks';
import { keepAllBut } from '../util/bytes';
import { Rng } from '../util/random';
import { rescaleCounts, type Recipe } from './recipe';

export type PruningPolicy =
  | { kind: 'none' }
  | { kind: 'fitprune'; recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'> }
  | { kind: 'fastv'; layer: number; ratio: number }
  | { kind: 'random'; recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'>; seed: number };

/** What a pruned prefill did, for the result and the heatmaps. */
export interface PruningReport {
  policy: PruningPolicy['kind'];
  visualTokens: number;
  /** Visual tokens deleted at each layer (as applied, after rescaling and clamping). */
  deleted: number[];
  /** Visual tokens left after each layer. */
  keptPerLayer: number[];
  /** For each layer, the original indices (0..N−1) of the visual tokens left after it. */
  keptIndices?: number[][];
}

export interface PruningSession {
  hooks: DecoderHooks | null;
  /** Resolve after the prefill: reads back kept indices when they were recorded. */
  report(): Promise<PruningReport>;
}

/**
 * FitPrune's statistics at a layer: per visual token, the head-max attention summed over the
 * visual rows (self) and over the text rows after the image (cross).
 */
export function fitpruneStats(ctx: GpuContext, a: AttentionHookArgs, span: { start: number; end: number }): { selfSum: Tensor; crossSum: Tensor } {
  return attentionStats(ctx, a.q, a.kCache, a.rowStats!, {
    kvLen: a.kvLen,
    causal: true,
    scale: a.scale,
    visStart: span.start,
    visEnd: span.end,
    selfRows: [span.start, span.end],
    crossRows: [span.end, a.seq.length],
  });
}

/** Removes k rows [span.start + j] chosen by `keep` from a sequence of T rows: new span. */
function shrink(span: { start: number; end: number }, k: number): { start: number; end: number } | null {
  return span.end - k > span.start ? { start: span.start, end: span.end - k } : null;
}

export function pruningSession(
  ctx: GpuContext,
  policy: PruningPolicy,
  o: { numLayers: number; visualTokens: number; recordIndices?: boolean },
): PruningSession {
  const L = o.numLayers;
  const N = o.visualTokens;
  const deleted = new Array<number>(L).fill(0);
  const recorded = new Map<number, { positions: Tensor; count: number; spanStartPosition: number }>();
  let originalSpanStart = -1;

  const record = (layer: number, positions: Tensor, keep: Tensor, span: { start: number; end: number } | null) => {
    if (!o.recordIndices) return;
    if (!span) {
      recorded.set(layer, { positions: ctx.empty([1], 'u32'), count: 0, spanStartPosition: 0 });
      return;
    }
    const kept = gatherRows(ctx, positions, keep);
    recorded.set(layer, { positions: kept, count: span.end - span.start, spanStartPosition: span.start });
  };

  const report = async (): Promise<PruningReport> => {
    const keptPerLayer: number[] = [];
    let n = N;
    for (const k of deleted) keptPerLayer.push((n -= k));
    const result: PruningReport = { policy: policy.kind, visualTokens: N, deleted: [...deleted], keptPerLayer };
    if (o.recordIndices) {
      const all = Array.from({ length: N }, (_, i) => i);
      let current = all;
      result.keptIndices = [];
      for (let l = 0; l < L; l++) {
        const r = recorded.get(l);
        if (r) {
          const pos = r.count > 0 ? ((await ctx.read(r.positions)) as Uint32Array) : new Uint32Array(0);
          current = Array.from(pos.subarray(r.spanStartPosition, r.spanStartPosition + r.count), (p) => p - originalSpanStart);
          r.positions.dispose();
        }
        result.keptIndices.push(current);
      }
    }
    return result;
  };

  const prefillSpan = (a: { phase: string; seq: { visualSpan: { start: number; end: number } | null } }) => (a.phase === 'prefill' ? a.seq.visualSpan : null);
  const noteStart = (a: AttentionHookArgs) => {
    if (a.layer === 0 && a.seq.visualSpan) originalSpanStart = a.seq.visualSpan.start; // positions = row indices before any pruning
  };

  if (policy.kind === 'none' || N === 0) return { hooks: null, report };

  if (policy.kind === 'fitprune' || policy.kind === 'random') {
    const counts = rescaleCounts(policy.recipe, N);
    if (counts.length !== L) throw new Error(`the recipe has ${counts.length} layers; the model has ${L}`);
    const rng = policy.kind === 'random' ? new Rng(policy.seed) : null;
    const hooks: DecoderHooks = {
      wantsRowStats: (l, phase) => policy.kind === 'fitprune' && phase === 'prefill' && counts[l]! > 0,
      afterAttention: (a): KeepRows | void => {
        noteStart(a);
        const span = prefillSpan(a);
        if (!span || counts[a.layer]! === 0) return;
        const n = span.end - span.start;
        const k = Math.min(counts[a.layer]!, n);
        const T = a.seq.length;
        let keep: Tensor;
        if (rng) {
          const drop = new Set(rng.sortedSubset(n, k).map((j) => span.start + j));
          keep = ctx.upload(keepAllBut(T, drop), [T - k], 'u32', 'keep');
        } else {
          const { selfSum, crossSum } = fitpruneStats(ctx, a, span);
          // cross (a sum over text rows) × self (a mean would only rescale: same ranking).
          const score = elementwise(ctx, crossSum, selfSum, 'mul');
          keep = bottomKKeep(ctx, score, k, { spanStart: span.start, seqLen: T });
          for (const t of [selfSum, crossSum, score]) t.dispose();
        }
        deleted[a.layer] = k;
        const visualSpan = shrink(span, k);
        record(a.layer, a.seq.positions, keep, visualSpan);
        return { keep, keptCount: T - k, visualSpan };
      },
    };
    return { hooks, report };
  }

  // FastV: scores from layer K−1's attention, tokens dropped after layer K−1 (before layer K).
  const { layer: K, ratio: R } = policy;
  if (!Number.isInteger(K) || K < 1 || K >= L) throw new Error(`FastV layer K must be in [1, ${L - 1}], got ${K}`);
  if (!(R >= 0 && R <= 1)) throw new Error(`FastV ratio R must be in [0, 1], got ${R}`);
  let scores: Tensor | null = null;
  const hooks: DecoderHooks = {
    wantsRowStats: (l, phase) => phase === 'prefill' && l === K - 1,
    afterAttention: (a) => {
      noteStart(a);
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1) return;
      scores = headMeanAttention(ctx, a.q, a.kCache, a.rowStats!, { kvLen: a.kvLen, causal: true, scale: a.scale, row: a.seq.length - 1, colStart: span.start, colEnd: span.end });
    },
    afterLayer: (a): KeepRows | void => {
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1 || !scores) return;
      const n = span.end - span.start;
      const k = Math.floor(R * n);
      const keep = bottomKKeep(ctx, scores, k, { spanStart: span.start, seqLen: a.seq.length });
      (scores as Tensor).dispose();
      scores = null;
      deleted[a.layer] = k;
      const visualSpan = shrink(span, k);
      record(a.layer, a.seq.positions, keep, visualSpan);
      return { keep, keptCount: a.seq.length - k, visualSpan };
    },
  };
  return { hooks, report };
}
