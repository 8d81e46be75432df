import { describeValue } from '../util/quote';
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

/** Seeds are 32-bit (the generator keeps seed >>> 0): a larger or fractional one would silently become another. */
export const MAX_SAMPLING_SEED = 2 ** 32 - 1;

export class SamplingError extends Error {
  override readonly name = 'SamplingError';
}


/**
 * Refuses sampling options that would otherwise be read as something else: a NaN or negative
 * temperature as greedy, a topK of −3 or NaN as "all", a topP of 1.5 as "all", a seed of 1.5
 * or 2^53 as another seed. `where` names the options in the message ("request.sampling").
 */
export function checkSamplingOptions(options: unknown, where = 'sampling'): asserts options is SamplingOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SamplingError(`${where} must be an object { temperature?, topK?, topP?, seed? }; got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  const field = (k: string, ok: (v: number) => boolean, rule: string) => {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !ok(v))) throw new SamplingError(`${where}.${k} must be ${rule}; got ${describeValue(v)}`);
  };
  field('temperature', (v) => Number.isFinite(v) && v >= 0, 'a finite number ≥ 0 (0: greedy)');
  field('topK', (v) => Number.isSafeInteger(v) && v >= 0, 'an integer ≥ 0 (0: all tokens)');
  field('topP', (v) => v >= 0 && v <= 1, 'a number in [0, 1] (1: all tokens)');
  field('seed', (v) => Number.isInteger(v) && v >= 0 && v <= MAX_SAMPLING_SEED, `an integer in [0, ${MAX_SAMPLING_SEED}]`);
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
    checkSamplingOptions(options);
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
