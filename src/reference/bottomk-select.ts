/**
 * The keep-list of a pruning step by sorting: visual tokens (rows spanStart + i) ordered by
 * (score ascending, index ascending), NaN lowest; the first k are deleted.
 */
export function bottomKKeep(scores: ArrayLike<number>, k: number, spanStart: number, seqLen: number): number[] {
  const n = scores.length;
  const key = (i: number) => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
  const deleted = new Set(order.slice(0, Math.min(k, n)));
  const keep: number[] = [];
  for (let r = 0; r < seqLen; r++) {
    const i = r - spanStart;
    if (i >= 0 && i < n && deleted.has(i)) continue;
    keep.push(r);
  }
  return keep;
}
