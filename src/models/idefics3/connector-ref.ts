/**
 * CPU references for the Idefics3 / SmolVLM connector and the vision embeddings' position ids,
 * written against Python transformers' modeling_idefics3.py. The GPU path does not run the
 * pixel shuffle as a reshape/permute chain: viewed as [seq, d] rows, the shuffled tensor is a
 * permutation of the input rows, so a gather-rows kernel with `pixelShuffleRowPlan` does it.
 */

function checkShuffle(seq: number, d: number, s: number): number {
  for (const [name, v] of [['seq', seq], ['d', d], ['scale', s]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`pixelShuffle: ${name} must be a positive integer, got ${v}`);
  }
  const side = Math.round(Math.sqrt(seq));
  if (side * side !== seq) throw new Error(`pixelShuffle: seq ${seq} is not a square`);
  if (side % s !== 0) throw new Error(`pixelShuffle: side ${side} is not divisible by scale ${s}`);
  return side;
}

/** [a, b, c] contiguous → permute(1, 0, 2) → contiguous [b, a, c]. */
function swap01(x: Float32Array, a: number, b: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(x.subarray((i * b + j) * c, (i * b + j + 1) * c), (j * a + i) * c);
  return out;
}

/**
 * Idefics3Connector.pixel_shuffle for one frame, step by step as Python (batch dimension
 * dropped; a view of contiguous data is free, so only the permutes move data):
 *   x [seq, d] → view [h, w/s, d·s] → permute → [w/s, h, d·s] → view [w/s, h/s, d·s²]
 *   → permute → [h/s, w/s, d·s²] → view [seq/s², d·s²].
 */
export function pixelShuffle(x: Float32Array, seq: number, d: number, s: number): Float32Array {
  const side = checkShuffle(seq, d, s);
  if (x.length !== seq * d) throw new Error(`pixelShuffle: ${x.length} values for [${seq}, ${d}]`);
  const a = swap01(x, side, side / s, d * s);
  return swap01(a, side / s, side / s, d * s * s);
}

/**
 * Row permutation of pixel_shuffle: with out = pixelShuffle(in) viewed as [seq, d],
 * out row i = in row p[i]. Output row (i, j) of [h/s, w/s, d·s²] is the concatenation, u over
 * s rows then v over s columns, of input patch (i·s + u, j·s + v) — an s×s block of patches,
 * so out row (i·(w/s) + j)·s² + u·s + v = in row (i·s + u)·w + j·s + v.
 */
export function pixelShuffleRowPlan(seq: number, d: number, s: number): Uint32Array {
  const side = checkShuffle(seq, d, s);
  const q = side / s;
  const p = new Uint32Array(seq);
  let k = 0;
  for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) for (let u = 0; u < s; u++) for (let v = 0; v < s; v++) p[k++] = (i * s + u) * side + j * s + v;
  return p;
}

/**
 * The whole connector: pixel_shuffle then `modality_projection.proj`, an nn.Linear with
 * bias=False (Idefics3SimpleMLP), weight [outDim, d·s²] as stored in the checkpoint
 * (`model.connector.modality_projection.proj.weight`). Float64 accumulation (a reference).
 */
export function idefics3ConnectorRef(x: Float32Array, seq: number, d: number, s: number, weight: Float32Array, outDim: number): Float32Array {
  const shuffled = pixelShuffle(x, seq, d, s);
  const inDim = d * s * s;
  if (weight.length !== outDim * inDim) throw new Error(`idefics3ConnectorRef: weight has ${weight.length} values, expected [${outDim}, ${inDim}]`);
  const rows = seq / (s * s);
  const out = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = 0;
      for (let k = 0; k < inDim; k++) acc += shuffled[r * inDim + k]! * weight[o * inDim + k]!;
      out[r * outDim + o] = acc;
    }
  }
  return out;
}

/**
 * Which formula of Idefics3VisionEmbeddings' position ids to emulate:
 * - 'arange-step' (transformers ≤ 4.54, the one the checkpoints were trained with):
 *   fractional = arange(0, 1 − 1e-6, 1/nb) in float32;
 * - 'scaled-float32' (4.55+, with float32 pixel values): fractional =
 *   arange(nb) / nb · (1 − 1e-6) in float32 — every coordinate falls just below its bucket
 *   boundary, so ids shift down (transformers issue #41190, PR #47133: max id 990 for 32×32).
 *   In bfloat16/float16 the factor rounds to 1 and this equals 'arange-step'.
 */
export type PositionIdFormula = 'arange-step' | 'scaled-float32';

/** torch.arange(start, end, step) on CPU in float32: length ceil((end − start)/step), values start + i·step in double, cast. */
function arangeF32(start: number, end: number, step: number): Float32Array {
  const n = Math.max(0, Math.ceil((end - start) / step));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}

/** torch.bucketize(x, boundaries, right=True): the number of boundaries ≤ x (boundaries sorted). */
function bucketizeRight(x: number, boundaries: Float32Array): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (boundaries[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Position ids of the nbH×nbW real patches of one frame (row-major), as
 * Idefics3VisionEmbeddings computes them for a patch_attention_mask whose true region is
 * nbH×nbW. With a full mask (nbH = nbW = numPatchesPerSide, always the case for our frames) the
 * trained formula gives arange(numPatchesPerSide²).
 */
export function idefics3PositionIds(nbH: number, nbW: number, numPatchesPerSide: number, formula: PositionIdFormula = 'arange-step'): Uint32Array {
  const n = numPatchesPerSide;
  const boundaries = arangeF32(1 / n, 1.0, 1 / n);
  const coords = (nb: number): Float32Array => {
    if (formula === 'arange-step') return arangeF32(0, 1 - 1e-6, Math.fround(1 / nb)); // 1/tensor(nb) is a float32 0-d tensor
    const f = Math.fround(1 - 1e-6);
    const out = new Float32Array(nb);
    for (let i = 0; i < nb; i++) out[i] = Math.fround(Math.fround(i / nb) * f);
    return out;
  };
  const bh = Array.from(coords(nbH), (x) => bucketizeRight(x, boundaries));
  const bw = Array.from(coords(nbW), (x) => bucketizeRight(x, boundaries));
  const ids = new Uint32Array(bh.length * bw.length);
  for (let i = 0; i < bh.length; i++) for (let j = 0; j < bw.length; j++) ids[i * bw.length + j] = bh[i]! * n + bw[j]!;
  return ids;
}
