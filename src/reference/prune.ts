/**
 * The pruning policies on the CPU reference decoder, with the semantics of src/prune/policies.ts:
 * the oracle for "the GPU drops the same tokens at each layer and gets the same logits".
 */
import { Rng } from '../util/random';
import { attentionStats, headMeanAttention } from './attention';
import type { ReferencePruneArgs, ReferencePruner, ReferencePruneResult } from './llava';
import { bottomKKeep } from './bottomk-select';

function cut(a: ReferencePruneArgs, keep: number[], k: number): ReferencePruneResult {
  const span = a.visualSpan!;
  return { keep, visualSpan: span.end - k > span.start ? { start: span.start, end: span.end - k } : null };
}

/** FitPrune with per-layer deletion counts (already rescaled to this input's visual tokens). */
export function referenceFitPrune(counts: readonly number[]): ReferencePruner {
  return {
    afterAttention(a) {
      const span = a.visualSpan;
      if (!span || !counts[a.layer]) return null;
      const T = a.positions.length;
      const k = Math.min(counts[a.layer]!, span.end - span.start);
      const { selfSum, crossSum } = attentionStats(a.q, a.k, a.args, { visStart: span.start, visEnd: span.end, selfRows: [span.start, span.end], crossRows: [span.end, T] });
      const score = crossSum.map((c, j) => c * selfSum[j]!);
      return cut(a, bottomKKeep(score, k, span.start, T), k);
    },
  };
}

/** Random control: the same counts, tokens drawn with the same seeded sequence as the GPU policy. */
export function referenceRandomPrune(counts: readonly number[], seed: number): ReferencePruner {
  const rng = new Rng(seed);
  return {
    afterAttention(a) {
      const span = a.visualSpan;
      if (!span || !counts[a.layer]) return null;
      const T = a.positions.length;
      const k = Math.min(counts[a.layer]!, span.end - span.start);
      const drop = new Set(rng.sortedSubset(span.end - span.start, k).map((j) => span.start + j));
      return cut(a, Array.from({ length: T }, (_, i) => i).filter((i) => !drop.has(i)), k);
    },
  };
}

/** FastV: after layer K−1, drop floor(R·n) tokens ranked by its head-mean attention of the last row. */
export function referenceFastV(K: number, R: number): ReferencePruner {
  let scores: Float32Array | null = null;
  return {
    afterAttention(a) {
      if (a.layer === K - 1 && a.visualSpan) {
        scores = headMeanAttention(a.q, a.k, a.args, a.positions.length - 1, a.visualSpan.start, a.visualSpan.end);
      }
      return null;
    },
    afterLayer(a) {
      if (a.layer !== K - 1 || !a.visualSpan || !scores) return null;
      const k = Math.floor(R * (a.visualSpan.end - a.visualSpan.start));
      return cut(a, bottomKKeep(scores, k, a.visualSpan.start, a.positions.length), k);
    },
  };
}
