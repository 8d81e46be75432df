/**
 * Seeded random inputs for tests. Each test draws a fresh seed (so inputs are new every run)
 * and failures print it; set FITPRUNE_SEED to replay one.
 */
import { Rng } from '../../src/util/random';

export { Rng };

function envSeed(): number | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.FITPRUNE_SEED;
  return v ? Number(v) : undefined;
}

/** A fresh RNG for one test; its seed goes into assertion messages. */
export function freshRng(): Rng {
  return new Rng(envSeed() ?? Math.floor(Math.random() * 2 ** 31));
}
