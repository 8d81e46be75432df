/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The rows 0..length−1 except `drop`: a keep-list built on the CPU. */
export function keepAllBut(length: number, drop: ReadonlySet<number>): Uint32Array {
  return Uint32Array.from({ length }, (_, i) => i).filter((i) => !drop.has(i));
}
