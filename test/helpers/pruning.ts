/**
 * Shared by the pruned GPU-vs-reference tests: the reference run with the kept indices recorded
 * by wrapping the pruner, the policies each family is checked under, and the comparison itself.
 */
import { expect } from 'vitest';
import type { GenerateResult } from '../../src/engine/engine';
import type { PruningPolicy } from '../../src/prune/policies';
import type { ReferencePruner, ReferencePruneResult } from '../../src/reference/decoder';
import { referenceFastV, referenceFitPrune, referenceRandomPrune } from '../../src/reference/prune';
import { expectClose, type Tolerance } from './compare';

/**
 * Wraps a reference pruner to record the visual tokens left after each layer, as the engine's
 * `recordKeptIndices` reports them: `initial` before any cut, then `visualKept` of every cut
 * (the result and the original positions of the rows it was taken on).
 */
export function recordReferenceKept(
  pruner: ReferencePruner,
  initial: number[],
  visualKept: (r: NonNullable<ReferencePruneResult>, positions: number[]) => number[],
): { wrapped: ReferencePruner; kept: number[][] } {
  const kept: number[][] = [];
  let current = initial;
  const record = (r: ReferencePruneResult, positions: number[]) => {
    if (r) current = visualKept(r, positions);
    return r;
  };
  const wrapped: ReferencePruner = {
    afterAttention: pruner.afterAttention && ((a) => record(pruner.afterAttention!(a), a.positions)),
    afterLayer: (a) => {
      const r = pruner.afterLayer ? record(pruner.afterLayer(a), a.positions) : null;
      kept.push(current);
      return r;
    },
  };
  return { wrapped, kept };
}

/** recordReferenceKept for one contiguous visual span (every token in it prunable): kept offsets into the span. */
export function recordSpanKept(pruner: ReferencePruner, span: { start: number; end: number }): { wrapped: ReferencePruner; kept: number[][] } {
  return recordReferenceKept(
    pruner,
    Array.from({ length: span.end - span.start }, (_, i) => i),
    (r, positions) => (r.visualSpan ? r.keep.slice(r.visualSpan.start, r.visualSpan.end).map((row) => positions[row]! - span.start) : []),
  );
}

export interface PolicyCase {
  name: string;
  policy: () => PruningPolicy;
  pruner: () => ReferencePruner;
}

/**
 * FitPrune, random (same counts, `seed`) and FastV K=2 R=0.5, each with its reference pruner.
 * `recipe` is read when a case runs, so it may be filled in by a beforeAll.
 */
export function policyCases(recipe: () => { counts: number[]; referenceVisualTokens: number }, seed: number, randomName = 'random'): PolicyCase[] {
  return [
    { name: 'fitprune', policy: () => ({ kind: 'fitprune', recipe: recipe() }), pruner: () => referenceFitPrune(recipe().counts) },
    { name: randomName, policy: () => ({ kind: 'random', recipe: recipe(), seed }), pruner: () => referenceRandomPrune(recipe().counts, seed) },
    { name: 'fastv K=2 R=0.5', policy: () => ({ kind: 'fastv', layer: 2, ratio: 0.5 }), pruner: () => referenceFastV(2, 0.5) },
  ];
}

/** The GPU run against the pruned reference: the same visual tokens kept at each layer, close first logits, the same tokens. */
export function expectPrunedLikeReference(
  r: GenerateResult,
  expected: { logits: readonly Float32Array[]; tokens: number[] },
  kept: number[][],
  tol: Tolerance,
  seed: number,
): void {
  expect(r.pruning.keptIndices, `seed ${seed}`).toEqual(kept);
  expectClose(r.firstLogits!, expected.logits[0]!, tol, `first logits, seed ${seed}`);
  expect(r.tokens, `seed ${seed}`).toEqual(expected.tokens);
}
