// Matrix-vector path of matmul for decode (M ≤ 8 rows, usually 1):
// Y[m, yOffset + n] = sum_k X[m, k] * W[n, k] (+ B[yOffset + n]).
// One workgroup of 64 threads per (output column n, row m = workgroup z): each thread strides
// over K with a scalar accumulator, then a tree reduction in workgroup memory. Memory-bound:
// every weight is read once per token (per row when M > 1, which is rare).
// Same weight formats (weight-reader.wgsl, prepended) and slicing as matmul.wgsl.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  yStride: u32,
  yOffset: u32,
  groupsX: u32,  // workgroups along x (the grid may be 2-D when N is large)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
#ifdef HAS_BIAS
@group(0) @binding(3) var<storage, read> B: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

const WG: u32 = 64u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let n = wid.x + wid.y * p.groupsX;
  let m = wid.z;
  if (n >= p.N) { return; }  // uniform per workgroup, so barriers below stay uniform
  let t = lid.x;
  var acc = 0.0;
  let row = n * p.K;
  let xRow = m * p.K;
#ifdef W_F16
#ifdef NATIVE_F16
  for (var k = t; k < p.K; k += WG) { acc = fma(X[xRow + k], f32(W[row + k]), acc); }
#else
  if ((p.K & 1u) == 0u) {
    // Even K: every row starts on a word boundary, so read two halves per load.
    let base = row / 2u;
    for (var k2 = t; k2 < p.K / 2u; k2 += WG) {
      let w = unpack2x16float(W[base + k2]);
      acc = fma(X[xRow + 2u * k2], w.x, fma(X[xRow + 2u * k2 + 1u], w.y, acc));
    }
  } else {
    for (var k = t; k < p.K; k += WG) { acc = fma(X[xRow + k], loadW(row + k), acc); }
  }
#endif
#else
  for (var k = t; k < p.K; k += WG) { acc = fma(X[xRow + k], W[row + k], acc); }
#endif
  partial[t] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) { partial[t] += partial[t + stride]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    var b = 0.0;
#ifdef HAS_BIAS
    b = B[p.yOffset + n];
#endif
    Y[m * p.yStride + p.yOffset + n] = partial[0] + b;
  }
}
