/**
 * Attention over a KV cache, and the statistics pruning needs, written as the definitions.
 * Layouts: q [Tq, Hq, D]; k, v [≥kvLen, Hkv, D]; query head h reads kv head h / (Hq/Hkv).
 * Causal: query row t sits at cache index kvLen − Tq + t and sees keys j ≤ that index.
 */
export interface AttentionArgs {
  Tq: number;
  Hq: number;
  Hkv: number;
  D: number;
  kvLen: number;
  causal: boolean;
  scale: number;
}

/** Scaled scores of one (row, head) over the visible keys, and how many keys are visible. */
function scores(q: ArrayLike<number>, k: ArrayLike<number>, a: AttentionArgs, t: number, h: number): number[] {
  const g = Math.floor(h / (a.Hq / a.Hkv));
  const visible = a.causal ? a.kvLen - a.Tq + t + 1 : a.kvLen;
  const out: number[] = [];
  for (let j = 0; j < visible; j++) {
    let s = 0;
    for (let d = 0; d < a.D; d++) s += q[(t * a.Hq + h) * a.D + d]! * k[(j * a.Hkv + g) * a.D + d]!;
    out.push(s * a.scale);
  }
  return out;
}

/** Probabilities p_h(t, j) for j < kvLen (0 where masked). */
export function attentionProbs(q: ArrayLike<number>, k: ArrayLike<number>, a: AttentionArgs, t: number, h: number): Float64Array {
  const s = scores(q, k, a, t, h);
  const m = Math.max(...s);
  const e = s.map((x) => Math.exp(x - m));
  const l = e.reduce((x, y) => x + y, 0);
  const p = new Float64Array(a.kvLen);
  e.forEach((x, j) => (p[j] = x / l));
  return p;
}

/** out [Tq, Hq, D] and rowStats [Tq, Hq, 2] = (max scaled score, Σ exp(score − max)). */
export function attention(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, a: AttentionArgs): { out: Float32Array; rowStats: Float32Array } {
  const out = new Float32Array(a.Tq * a.Hq * a.D);
  const rowStats = new Float32Array(a.Tq * a.Hq * 2);
  for (let t = 0; t < a.Tq; t++) {
    for (let h = 0; h < a.Hq; h++) {
      const g = Math.floor(h / (a.Hq / a.Hkv));
      const s = scores(q, k, a, t, h);
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const l = e.reduce((x, y) => x + y, 0);
      for (let d = 0; d < a.D; d++) {
        let acc = 0;
        e.forEach((w, j) => (acc += w * v[(j * a.Hkv + g) * a.D + d]!));
        out[(t * a.Hq + h) * a.D + d] = acc / l;
      }
      rowStats[(t * a.Hq + h) * 2] = m;
      rowStats[(t * a.Hq + h) * 2 + 1] = l;
    }
  }
  return { out, rowStats };
}

/**
 * FitPrune statistics: for visual key columns [visStart, visEnd),
 * selfSum[j] = Σ_{t in selfRows} max_h p_h(t, visStart + j), crossSum likewise over crossRows.
 */
export function attentionStats(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  a: AttentionArgs,
  o: { visStart: number; visEnd: number; selfRows: [number, number]; crossRows: [number, number] },
): { selfSum: Float32Array; crossSum: Float32Array } {
  const n = o.visEnd - o.visStart;
  const sum = ([r0, r1]: [number, number]) => {
    const acc = new Float64Array(n);
    for (let t = r0; t < r1; t++) {
      const headMax = new Float64Array(n);
      for (let h = 0; h < a.Hq; h++) {
        const p = attentionProbs(q, k, a, t, h);
        for (let j = 0; j < n; j++) headMax[j] = Math.max(headMax[j]!, p[o.visStart + j]!);
      }
      for (let j = 0; j < n; j++) acc[j] += headMax[j]!;
    }
    return Float32Array.from(acc);
  };
  return { selfSum: sum(o.selfRows), crossSum: sum(o.crossRows) };
}

/** FastV's score: mean over heads of p_h(row, j) for j in [colStart, colEnd). */
export function headMeanAttention(q: ArrayLike<number>, k: ArrayLike<number>, a: AttentionArgs, row: number, colStart: number, colEnd: number): Float32Array {
  const acc = new Float64Array(colEnd - colStart);
  for (let h = 0; h < a.Hq; h++) {
    const p = attentionProbs(q, k, a, row, h);
    for (let j = colStart; j < colEnd; j++) acc[j - colStart] += p[j]! / a.Hq;
  }
  return Float32Array.from(acc);
}
