/** Y[m, n] = sum_k X[m, k] · W[n, k] (+ b[n]), accumulated in float64. W is [N, K] (nn.Linear). */
export function matmul(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  bias?: ArrayLike<number>,
): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
      y[m * N + n] = s;
    }
  }
  return y;
}
