/**
 * FitPrune and random pruning: a recipe's per-layer deletion counts (rescaled to the image's
 * visual tokens). FitPrune ranks the tokens on the GPU by its attention statistics; random, the
 * control, draws them uniformly on the CPU with a seeded generator.
 */
import type { Tensor } from '../gpu/tensor';
import { bottomKKeep } from '../kernels/bottomk-select';
import { elementwise } from '../kernels/elementwise';
import type { KeepRows } from '../models/hooks';
import { keepAllBut } from '../util/bytes';
import { Rng } from '../util/random';
import type { PruningPolicy } from './policies';
import { fitpruneStats, guardPinned, prefillSpan, shrink, VisualRows, type HookFactory } from './policy-kit';

/** FitPrune and random: the recipe's counts per layer, tokens ranked on the GPU or drawn on the CPU. */
export const countedPolicy: HookFactory<Extract<PruningPolicy, { kind: 'fitprune' | 'random' }>> = (policy, c) => {
  const { ctx } = c;
  const counts = c.counts(policy);
  const rng = policy.kind === 'random' ? new Rng(policy.seed) : null;
  // Random draws on the CPU, so it tracks where the visual rows are; FitPrune ranks on the
  // GPU and only needs how many are left.
  let rows: VisualRows | null = null;
  let left = -1;
  return {
    wantsRowStats: (l, phase) => policy.kind === 'fitprune' && phase === 'prefill' && counts[l]! > 0,
    afterAttention: (a): KeepRows | void => {
      c.noteStart(a);
      const span = prefillSpan(a);
      if (!span) return;
      if (left < 0) {
        rows = rng ? new VisualRows(span.end - span.start, a.seq.fixedOffsets) : null;
        left = span.end - span.start - a.seq.fixedOffsets.length;
      }
      const k = Math.min(counts[a.layer]!, left);
      if (k === 0) return;
      left -= k;
      const T = a.seq.length;
      let keep: Tensor;
      if (rng && rows) {
        const drop = new Set(rows.take(rng.sortedSubset(rows.count, k)).map((j) => span.start + j));
        keep = ctx.upload(keepAllBut(T, drop), [T - k], 'u32', 'keep');
      } else {
        const { selfSum, crossSum } = fitpruneStats(ctx, a, span);
        // cross (a sum over text rows) × self (a mean would only rescale: same ranking).
        const score = elementwise(ctx, crossSum, selfSum, 'mul');
        const guarded = guardPinned(ctx, score, a.seq);
        keep = bottomKKeep(ctx, guarded, k, { spanStart: span.start, seqLen: T });
        for (const t of new Set([selfSum, crossSum, score, guarded])) t.dispose();
      }
      const visualSpan = shrink(span, k);
      c.deleted(a.layer, k, a.seq.positions, keep, visualSpan);
      return { keep, keptCount: T - k, visualSpan };
    },
  };
};

