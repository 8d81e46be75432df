import { describe, expect, it } from 'vitest';
import { layerRemoval, needsPruning, removablePrefix, searchAlpha, searchSteps } from '../../src/prune/fit';
import { referenceFlops } from '../../src/prune/flops';
import { Rng } from '../../src/util/random';

describe('FitPrune fit arithmetic', () => {
  it('removes the longest low-score prefix that keeps the retained mass ≥ target', () => {
    const s = [0.1, 0.4, 0.05, 0.3, 0.15]; // total 1.0; ascending: 2, 0, 4, 3, 1
    expect(removablePrefix(s, 0.7)).toEqual([2, 0, 4]); // retained 0.7
    expect(removablePrefix(s, 0.71)).toEqual([2, 0]);
    expect(removablePrefix(s, 1.5)).toEqual([]); // already below the target
    expect(removablePrefix([0.2, 0.2, 0.2], 0.3)).toEqual([0]); // ties: lower index first
  });

  it('terminates with a defined set when an attention sink carries almost all mass', () => {
    const sink = [0.001, 0.996, 0.001, 0.002];
    expect(removablePrefix(sink, 0.9)).toEqual([0, 2, 3]);
    expect(layerRemoval(sink, sink, 1, 1, 0.5)).toEqual([0, 2, 3]);
    expect(layerRemoval(sink, sink, 1, 1, 0)).toEqual([]);
  });

  it('removes only tokens that both statistics agree on', () => {
    const cross = [0.01, 0.5, 0.02, 0.47];
    const self = [0.5, 0.01, 0.02, 0.47];
    expect(layerRemoval(cross, self, 1, 1, 0.1)).toEqual([2]);
  });

  it('projects the remaining layers at the current count to decide whether to keep pruning', () => {
    const m = { hiddenSize: 16, intermediateSize: 40, numLayers: 4 };
    const full = referenceFlops(m, 100, [0, 0, 0, 0]).baselineMacs;
    expect(needsPruning(m, 0, 100, 0, full * 0.5)).toBe(true);
    expect(needsPruning(m, 0, 100, 0, full)).toBe(false);
  });

  it('binary search meets the budget, keeps the last feasible fit, and is monotone in alpha', async () => {
    // A synthetic model: tokens left per layer shrink with alpha on random statistics.
    const m = { hiddenSize: 32, intermediateSize: 80, numLayers: 6 };
    const rng = new Rng(4);
    const stats = Array.from({ length: m.numLayers }, () => Array.from({ length: 50 }, () => rng.next() ** 3));
    const fit = async (alpha: number) => {
      let n = 50;
      const counts = stats.map((s) => {
        const k = Math.min(n, layerRemoval(s, s, s.reduce((a, b) => a + b, 0), s.reduce((a, b) => a + b, 0), alpha).length);
        n -= k;
        return k;
      });
      return { ratio: referenceFlops(m, 50, counts).ratio, fit: counts };
    };
    const ratios = await Promise.all([0, 0.2, 0.4, 0.6, 0.8, 1].map(async (a) => (await fit(a)).ratio));
    for (let i = 1; i < ratios.length; i++) expect(ratios[i]).toBeLessThanOrEqual(ratios[i - 1]!);
    const { best, steps } = await searchAlpha(fit, 0.3);
    expect(best.feasible).toBe(true);
    expect(best.ratio).toBeLessThanOrEqual(0.7);
    expect(steps.length).toBe(searchSteps());
    expect(steps.filter((s) => s.feasible).map((s) => s.alpha)).toContain(best.alpha);
    expect(Math.min(...steps.filter((s) => s.feasible).map((s) => s.alpha))).toBe(best.alpha);
    const impossible = await searchAlpha(async () => ({ ratio: 0.9, fit: null }), 0.5);
    expect(impossible.best.feasible).toBe(false);
    expect(impossible.steps).toHaveLength(1);
  });
});
