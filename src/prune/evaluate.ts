/**
 * Accuracy and cost of a pruning policy on a labelled set, with the engine of the page or the
 * CLI: greedy answers, exact match, FLOPs in both conventions, prefill time.
 */
import type { ImageInput } from '../preprocess';
import { isCorrect } from '../data/dataset';
import { referenceFlops, type ReferenceFlopsModel } from './flops';
import type { PruningPolicy } from './policies';
import type { PruneRunner } from './runner';

export interface EvalItem {
  image: ImageInput;
  question: string;
  answer: string;
  type?: string;
}

export interface EvalRow {
  policy: string;
  /** Fraction of reference-convention FLOPs kept that the policy was set for (null: unpruned). */
  budget: number | null;
  items: number;
  accuracy: number;
  byType: Record<string, { correct: number; total: number; accuracy: number }>;
  meanReferenceRatio: number;
  meanArchitectureRatio: number;
  meanPrefillMs: number;
  predictions: { question: string; answer: string; prediction: string; correct: boolean }[];
}

/** A short label of a policy and its parameters, for tables. */
export function policyName(p: PruningPolicy): string {
  if (p.kind === 'fastv') return `fastv(K=${p.layer}, R=${p.ratio.toFixed(3)})`;
  const ratio = 'ratio' in p && typeof p.ratio === 'number' ? `(R=${p.ratio.toFixed(3)})` : '';
  return `${p.kind}${ratio}`;
}

/**
 * FastV's R for a reference-convention FLOPs budget (fraction kept) at layer K: the smallest
 * integer deletion at layer K−1 whose schedule fits; R = 1 when nothing smaller does.
 */
export function fastvRatioForBudget(model: ReferenceFlopsModel, visualTokens: number, keep: number, K = 2): number {
  for (let k = 0; k <= visualTokens; k++) {
    const counts = new Array<number>(model.numLayers).fill(0);
    counts[K - 1] = k;
    if (referenceFlops(model, visualTokens, counts).ratio <= keep) return Math.min(1, (k + 0.5) / visualTokens);
  }
  return 1;
}

export async function evaluate(
  engine: PruneRunner,
  items: readonly EvalItem[],
  policy: PruningPolicy,
  o: { budget?: number | null; maxNewTokens?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<EvalRow> {
  const byType: EvalRow['byType'] = {};
  const predictions: EvalRow['predictions'] = [];
  let correct = 0;
  let ref = 0;
  let arch = 0;
  let prefill = 0;
  for (let i = 0; i < items.length; i++) {
    o.signal?.throwIfAborted();
    const item = items[i]!;
    const r = await engine.generate({ prompt: item.question, image: item.image, maxNewTokens: o.maxNewTokens ?? 8, pruning: policy, signal: o.signal });
    const ok = isCorrect(r.text, item.answer);
    correct += ok ? 1 : 0;
    const t = (byType[item.type ?? 'all'] ??= { correct: 0, total: 0, accuracy: 0 });
    t.total++;
    t.correct += ok ? 1 : 0;
    ref += r.pruning.flops.reference.ratio;
    arch += r.pruning.flops.architecture.ratio;
    prefill += r.usage.prefillMs;
    predictions.push({ question: item.question, answer: item.answer, prediction: r.text, correct: ok });
    o.onProgress?.(i + 1, items.length);
  }
  for (const t of Object.values(byType)) t.accuracy = t.correct / t.total;
  const n = items.length;
  return {
    policy: policyName(policy),
    budget: o.budget ?? null,
    items: n,
    accuracy: correct / n,
    byType,
    meanReferenceRatio: ref / n,
    meanArchitectureRatio: arch / n,
    meanPrefillMs: prefill / n,
    predictions,
  };
}
