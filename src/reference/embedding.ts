/** Rows of an embedding table [V, d] for each id; ids ≥ V give zero rows. */
export function embedding(ids: ArrayLike<number>, table: ArrayLike<number>, d: number): Float32Array {
  const V = table.length / d;
  const out = new Float32Array(ids.length * d);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id >= V) continue;
    for (let j = 0; j < d; j++) out[t * d + j] = table[id * d + j]!;
  }
  return out;
}
