/**
 * FastV (Chen et al., 2024): at layer K, rank the visual tokens by layer K−1's head-mean
 * attention from the last prompt token and drop the lowest fraction R, before layer K.
 */
import type { Tensor } from '../gpu/tensor';
import { bottomKKeep } from '../kernels/bottomk-select';
import { headMeanAttention } from '../kernels/head-mean-attention';
import type { KeepRows } from '../models/hooks';
import { quoteValue } from '../util/quote';
import { PruningPolicyError, type PruningPolicy } from './policies';
import { guardPinned, prefillSpan, shrink, type HookFactory } from './policy-kit';

/** FastV: scores from layer K−1's attention, tokens dropped after layer K−1 (before layer K). */
export const fastvPolicy: HookFactory<Extract<PruningPolicy, { kind: 'fastv' }>> = (policy, c) => {
  const { ctx } = c;
  const L = c.o.numLayers;
  const { layer: K, ratio: R } = policy;
  if (!Number.isInteger(K) || K < 1 || K >= L) throw new PruningPolicyError(`request.pruning.layer (FastV's K) must be an integer in [1, ${L - 1}] for this ${L}-layer model; got ${quoteValue(K)}`);
  if (!(R >= 0 && R <= 1)) throw new PruningPolicyError(`request.pruning.ratio (FastV's R) must be a number in [0, 1]; got ${quoteValue(R)}`);
  let scores: Tensor | null = null;
  return {
    wantsRowStats: (l, phase) => phase === 'prefill' && l === K - 1,
    afterAttention: (a) => {
      c.noteStart(a);
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1) return;
      scores = headMeanAttention(ctx, a.q, a.kCache, a.rowStats!, { kvLen: a.kvLen, causal: true, scale: a.scale, row: a.seq.length - 1, colStart: span.start, colEnd: span.end });
    },
    afterLayer: (a): KeepRows | void => {
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1 || !scores) return;
      const n = span.end - span.start - a.seq.fixedOffsets.length;
      const k = Math.floor(R * n);
      const guarded = guardPinned(ctx, scores, a.seq);
      const keep = bottomKKeep(ctx, guarded, k, { spanStart: span.start, seqLen: a.seq.length });
      for (const t of new Set([scores, guarded])) t.dispose();
      scores = null;
      const visualSpan = shrink(span, k);
      c.deleted(a.layer, k, a.seq.positions, keep, visualSpan);
      return { keep, keptCount: a.seq.length - k, visualSpan };
    },
  };
};

