/**
 * Rotary embedding (Llama rotate-half) of x [T, H, D] at explicit positions, angles in
 * float64: pairs (i, i + D/2) rotate by positions[t] · theta^(−2i/D).
 */
export function rope(x: ArrayLike<number>, positions: ArrayLike<number>, T: number, H: number, D: number, theta: number): Float32Array {
  const y = Float32Array.from(x as ArrayLike<number>);
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const base = (t * H + h) * D;
      for (let i = 0; i < half; i++) {
        const angle = positions[t]! * theta ** ((-2 * i) / D);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x[base + i]!;
        const b = x[base + i + half]!;
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
      }
    }
  }
  return y;
}
