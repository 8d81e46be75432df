/** out[i] = src[keep[i]] for rows of `rowLength` elements; indices past the rows give zeros. */
export function gatherRows(src: ArrayLike<number>, rowLength: number, keep: ArrayLike<number>): number[] {
  const rows = src.length / rowLength;
  const out: number[] = [];
  for (let i = 0; i < keep.length; i++) {
    const r = keep[i]!;
    for (let j = 0; j < rowLength; j++) out.push(r < rows ? src[r * rowLength + j]! : 0);
  }
  return out;
}
