/** Per row: index of the first maximum, NaN skipped (all-NaN row → 0). */
export function argmax(x: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1;
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]!;
      if (Number.isNaN(v)) continue;
      if (best < 0 || v > x[r * cols + best]!) best = c;
    }
    out[r] = Math.max(best, 0);
  }
  return out;
}
