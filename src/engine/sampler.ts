import { Rng } from '../util/random';

/**
 * Next-token choice from a logits row. Greedy takes the first maximum (lowest id on ties, the
 * same rule as the argmax kernel). Sampling applies temperature, then top-k, then top-p
 * (nucleus), as transformers' logits warpers do, and draws with a seeded generator so a
 * request with a seed is reproducible.
 */
export interface SamplingOptions {
  /** 0 or undefined → greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 or undefined: all). */
  topP?: number;
  seed?: number;
}

export function isGreedy(o: SamplingOptions): boolean {
  return !o.temperature || o.temperature <= 0;
}

export function greedy(logits: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (Number.isNaN(v)) continue;
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return Math.max(best, 0);
}

/** The candidate ids and their probabilities after temperature, top-k and top-p. */
export function samplingDistribution(logits: ArrayLike<number>, o: SamplingOptions): { ids: number[]; probs: number[] } {
  const t = o.temperature ?? 1;
  let ids = Array.from({ length: logits.length }, (_, i) => i).filter((i) => !Number.isNaN(logits[i]!));
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (o.topK && o.topK > 0) ids = ids.slice(0, o.topK);
  const max = logits[ids[0]!]!;
  let probs = ids.map((i) => Math.exp((logits[i]! - max) / t));
  const sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (o.topP !== undefined && o.topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < o.topP) acc += probs[keep++]!;
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, ids.length);
    const s = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / s);
  }
  return { ids, probs };
}

export class Sampler {
  private readonly random: () => number;

  constructor(private readonly options: SamplingOptions = {}) {
    const rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.random = () => rng.next();
  }

  get greedy(): boolean {
    return isGreedy(this.options);
  }

  next(logits: ArrayLike<number>): number {
    if (this.greedy) return greedy(logits);
    const { ids, probs } = samplingDistribution(logits, this.options);
    let r = this.random();
    for (let i = 0; i < ids.length; i++) {
      r -= probs[i]!;
      if (r < 0) return ids[i]!;
    }
    return ids[ids.length - 1]!;
  }
}
