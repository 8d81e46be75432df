import { expect } from 'vitest';

export interface Tolerance {
  /** Relative to the largest magnitude in the expected output (normwise). */
  rtol: number;
  /** Absolute floor, for outputs that are legitimately near zero everywhere. */
  atol?: number;
}

/**
 * Asserts every element is finite and |actual - expected| <= atol + rtol * max|expected|.
 * NaN (the poison value) anywhere fails, so an element the kernel never wrote is caught.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what: string,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const bound = (tol.atol ?? 0) + tol.rtol * scale;
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const err = Math.abs(a - expected[i]!);
    if (!Number.isFinite(a) || Number.isNaN(err)) {
      throw new Error(`${what}: element ${i} is ${a} (expected ${expected[i]}); unwritten or invalid`);
    }
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  if (worstErr > bound) {
    throw new Error(
      `${what}: max error ${worstErr.toExponential(3)} at ${worst} (got ${actual[worst]}, expected ${expected[worst]}) ` +
        `exceeds ${bound.toExponential(3)} (rtol ${tol.rtol} × scale ${scale.toExponential(3)})`,
    );
  }
}

/** Exact equality for integer outputs, reporting the first mismatch. */
export function expectEqualInts(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
