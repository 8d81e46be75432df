/**
 * The pruning policies on the CPU reference decoder, with the semantics of src/prune/policies.ts:
 * the oracle for "the GPU drops the same tokens at each layer and gets the same logits".
 */
import { Rng } from '../util/random';
import { attentionStats, headMeanAttention } from './attention';
import type { ReferencePruneArgs, ReferencePruner, ReferencePruneResult } from './decoder';
import { bottomKKeep } from './bottomk-select';

/** Span offsets of the rows that are visual tokens (not pinned tile markers). */
function visualOffsets(a: ReferencePruneArgs): number[] {
  const span = a.visualSpan!;
  const out: number[] = [];
  for (let r = span.start; r < span.end; r++) if (!a.pinned[r]) out.push(r - span.start);
  return out;
}

/** Scores with pinned rows set to +Infinity, so bottom-k never picks them. */
function guard(a: ReferencePruneArgs, score: Float32Array): Float32Array {
  const span = a.visualSpan!;
  return score.map((x, j) => (a.pinned[span.start + j] ? Infinity : x));
}

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
      const k = Math.min(counts[a.layer]!, visualOffsets(a).length);
      const { selfSum, crossSum } = attentionStats(a.q, a.k, a.args, { visStart: span.start, visEnd: span.end, selfRows: [span.start, span.end], crossRows: [span.end, T] });
      const score = guard(a, crossSum.map((c, j) => c * selfSum[j]!));
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
      const visual = visualOffsets(a);
      const k = Math.min(counts[a.layer]!, visual.length);
      const drop = new Set(rng.sortedSubset(visual.length, k).map((j) => span.start + visual[j]!));
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
      const k = Math.floor(R * visualOffsets(a).length);
      return cut(a, bottomKKeep(guard(a, scores), k, a.visualSpan.start, a.positions.length), k);
    },
  };
}
