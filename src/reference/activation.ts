/** Activations and elementwise ops, evaluated in float64. */
export type ActivationOp = 'silu' | 'gelu' | 'gelu_tanh' | 'quick_gelu';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf to ~1e-15 by its Maclaurin series (|x| < 3) or the continued fraction of erfc. */
export function erf(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 100; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated bottom-up
    let f = a;
    for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function activate(x: number, op: ActivationOp): number {
  switch (op) {
    case 'silu':
      return x * sigmoid(x);
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'quick_gelu':
      return x * sigmoid(1.702 * x);
  }
}

export function activation(x: ArrayLike<number>, op: ActivationOp): Float32Array {
  return Float32Array.from({ length: x.length }, (_, i) => activate(x[i]!, op));
}

/** a op b with b broadcast over a's leading rows (b's length divides a's). */
export function elementwise(a: ArrayLike<number>, b: ArrayLike<number>, op: 'add' | 'mul'): Float32Array {
  return Float32Array.from({ length: a.length }, (_, i) => (op === 'add' ? a[i]! + b[i % b.length]! : a[i]! * b[i % b.length]!));
}

/** silu(gate) · up. */
export function swiglu(gate: ArrayLike<number>, up: ArrayLike<number>): Float32Array {
  return Float32Array.from({ length: gate.length }, (_, i) => activate(gate[i]!, 'silu') * up[i]!);
}
