import { describe, expect, it } from 'vitest';
import { greedy, Sampler, samplingDistribution } from '../../src/engine/sampler';

describe('sampler', () => {
  it('greedy takes the first maximum and skips NaN', () => {
    expect(greedy([1, 3, 3, 2])).toBe(1);
    expect(greedy([NaN, -5, -7])).toBe(1);
    expect(greedy([-Infinity, -Infinity])).toBe(0);
  });

  it('applies temperature, top-k and top-p in that order', () => {
    const logits = [0, Math.log(2), Math.log(4), Math.log(1)]; // probs ∝ 1, 2, 4, 1
    const all = samplingDistribution(logits, { temperature: 1 });
    expect(all.ids).toEqual([2, 1, 0, 3]);
    expect(all.probs[0]).toBeCloseTo(0.5, 12);
    const k2 = samplingDistribution(logits, { temperature: 1, topK: 2 });
    expect(k2.ids).toEqual([2, 1]);
    expect(k2.probs[0]).toBeCloseTo(2 / 3, 12);
    const p = samplingDistribution(logits, { temperature: 1, topP: 0.7 }); // 0.5 + 0.25 reaches 0.7
    expect(p.ids).toEqual([2, 1]);
    const hot = samplingDistribution(logits, { temperature: 1e6 });
    expect(hot.probs[0]).toBeCloseTo(0.25, 4);
  });

  it('is reproducible for a seed and follows the distribution', () => {
    const logits = [0, Math.log(3)]; // p = 0.25, 0.75
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 4000 }, () => s.next(logits));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    const ones = draw(11).filter((t) => t === 1).length / 4000;
    expect(ones).toBeGreaterThan(0.72);
    expect(ones).toBeLessThan(0.78);
  });
});
