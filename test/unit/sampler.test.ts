import { describe, expect, it } from 'vitest';
import { checkSamplingOptions, greedy, Sampler, samplingDistribution } from '../../src/engine/sampler';

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

// Hostile options (issue 20's fuzzer): before, a NaN or negative temperature silently meant
// greedy, topK −3 or NaN meant all tokens, topP 1.5 meant all, and seeds 1.5, −1 or 2^53
// silently became other seeds (the generator keeps seed >>> 0).
describe('sampling options are refused by name and range', () => {
  it('refuses what would be read as something else', () => {
    const cases: [unknown, RegExp][] = [
      ['greedy', /sampling must be an object \{ temperature\?, topK\?, topP\?, seed\? \}; got "greedy"/],
      [null, /sampling must be an object .*; got null/],
      [{ temperature: Number.NaN }, /sampling\.temperature must be a finite number ≥ 0 \(0: greedy\); got NaN/],
      [{ temperature: -1 }, /sampling\.temperature must be a finite number ≥ 0 .*; got -1/],
      [{ temperature: Number.POSITIVE_INFINITY }, /sampling\.temperature .*; got Infinity/],
      [{ temperature: '0.7' }, /sampling\.temperature .*; got "0\.7"/],
      [{ temperature: 1, topK: -3 }, /sampling\.topK must be an integer ≥ 0 \(0: all tokens\); got -3/],
      [{ temperature: 1, topK: 2.5 }, /sampling\.topK .*; got 2\.5/],
      [{ temperature: 1, topK: Number.NaN }, /sampling\.topK .*; got NaN/],
      [{ temperature: 1, topP: 1.5 }, /sampling\.topP must be a number in \[0, 1\] \(1: all tokens\); got 1\.5/],
      [{ temperature: 1, topP: -0.1 }, /sampling\.topP .*; got -0\.1/],
      [{ temperature: 1, topP: Number.NaN }, /sampling\.topP .*; got NaN/],
      [{ temperature: 1, seed: 1.5 }, /sampling\.seed must be an integer in \[0, 4294967295\]; got 1\.5/],
      [{ temperature: 1, seed: -1 }, /sampling\.seed .*; got -1/],
      [{ temperature: 1, seed: 2 ** 53 }, /sampling\.seed .*; got 9007199254740992/],
      [{ temperature: 1, seed: '7' }, /sampling\.seed .*; got "7"/],
    ];
    for (const [options, message] of cases) {
      expect(() => checkSamplingOptions(options, 'request.sampling'), JSON.stringify(options)).toThrow(message);
      expect(() => new Sampler(options as never), JSON.stringify(options)).toThrow(message);
    }
  });

  it('accepts the edges of each range', () => {
    for (const o of [{}, { temperature: 0 }, { temperature: 1e9, topK: 1e9, topP: 0, seed: 0 }, { temperature: 1e-30, topK: 0, topP: 1, seed: 4294967295 }]) {
      expect(() => new Sampler(o).next([0, 1, 2])).not.toThrow();
    }
    // topP 0 keeps the most likely token only; a tiny temperature is (nearly) greedy.
    expect(samplingDistribution([0, 5, 1], { temperature: 1, topP: 0 }).ids).toEqual([1]);
    expect(new Sampler({ temperature: 1e-30, seed: 3 }).next([0, 5, 1])).toBe(1);
  });
});
