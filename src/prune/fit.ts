/**
 * The pure arithmetic of FitPrune's calibration (no GPU): the per-layer removal set for a
 * tolerance alpha, the budget projection and the binary search over alpha.
 */
import { referenceLayerMacs, type ReferenceFlopsModel } from './flops';

/**
 * Indices of the lowest-scored tokens whose removal keeps the retained sum ≥ target: sort
 * ascending (ties: lower index first), take the longest prefix that still leaves ≥ target.
 * None when the total is already below the target. Always terminates with a defined set, also
 * when one token (an attention sink) holds more than the target on its own.
 */
export function removablePrefix(scores: ArrayLike<number>, target: number): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  let total = 0;
  for (let i = 0; i < scores.length; i++) total += scores[i]!;
  const removed: number[] = [];
  let retained = total;
  for (const i of order) {
    if (retained - scores[i]! < target) break;
    retained -= scores[i]!;
    removed.push(i);
  }
  return removed;
}

/**
 * Pass B at one layer: tokens to delete for tolerance alpha = the intersection of the cross
 * and self removal sets, with targets (1 − alpha) × this sample's unpruned masses.
 * `cross` and `self` are per-token means over the text rows and the visual rows.
 */
export function layerRemoval(cross: ArrayLike<number>, self: ArrayLike<number>, wCross: number, wSelf: number, alpha: number): number[] {
  const a = new Set(removablePrefix(cross, (1 - alpha) * wCross));
  return removablePrefix(self, (1 - alpha) * wSelf).filter((i) => a.has(i)).sort((x, y) => x - y);
}

/**
 * Does pruning still need to happen at `layer` for a sample with n visual tokens left and
 * `costSoFar` MACs spent? The projection assumes this and every later layer run at n; once it
 * fits the budget the sample stops pruning.
 */
export function needsPruning(model: ReferenceFlopsModel, layer: number, n: number, costSoFar: number, budgetMacs: number): boolean {
  const projected = costSoFar + (model.numLayers - layer) * referenceLayerMacs(model, n, n);
  return projected > budgetMacs;
}

export interface SearchStep<T> {
  alpha: number;
  ratio: number;
  feasible: boolean;
  fit: T;
}

/**
 * Binary search of alpha in [0, 1] until the interval is ≤ `tolerance`, for the smallest
 * alpha whose fit meets the budget (ratio ≤ budget, the fraction of FLOPs kept). Keeps the last FEASIBLE fit (the
 * reference returns the last tried one, which may miss the budget). If even alpha = 1 misses
 * it, returns that fit marked infeasible so the caller can say so.
 */
export async function searchAlpha<T>(
  fit: (alpha: number) => Promise<{ ratio: number; fit: T }>,
  budget: number,
  o: { tolerance?: number; onStep?: (s: SearchStep<T>, index: number) => void; signal?: AbortSignal } = {},
): Promise<{ best: SearchStep<T>; steps: SearchStep<T>[] }> {
  const tolerance = o.tolerance ?? 0.01;
  const target = budget;
  const steps: SearchStep<T>[] = [];
  const attempt = async (alpha: number) => {
    o.signal?.throwIfAborted();
    const r = await fit(alpha);
    const step = { alpha, ratio: r.ratio, feasible: r.ratio <= target + 1e-12, fit: r.fit };
    steps.push(step);
    o.onStep?.(step, steps.length - 1);
    return step;
  };
  let lo = 0;
  let hi = 1;
  let best: SearchStep<T> | null = null;
  const top = await attempt(1);
  if (!top.feasible) return { best: top, steps };
  best = top;
  while (hi - lo > tolerance) {
    const mid = (lo + hi) / 2;
    const step = await attempt(mid);
    if (step.feasible) {
      best = step;
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return { best, steps };
}

/** Number of search steps for a tolerance (plus the first try at alpha = 1). */
export function searchSteps(tolerance = 0.01): number {
  return 1 + Math.ceil(Math.log2(1 / tolerance));
}
