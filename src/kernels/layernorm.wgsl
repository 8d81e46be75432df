// y[r, i] = (x[r, i] − mean) / sqrt(var + eps) * w[i] (+ b[i]), biased variance (PyTorch).
// One workgroup per row; mean first, then the centred sum of squares (two passes over the row
// are more accurate than E[x²] − E[x]²).
struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
#ifdef HAS_BIAS
@group(0) @binding(3) var<storage, read> B: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

const WG: u32 = 128u;
var<workgroup> partial: array<f32, WG>;

fn reduce(v: f32, t: u32) -> f32 {
  partial[t] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) { partial[t] += partial[t + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.x + wid.y * p.groupsX;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) { s += X[base + i]; }
  let mean = reduce(s, lid.x) / f32(p.dim);
  var q = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) {
    let c = X[base + i] - mean;
    q = fma(c, c, q);
  }
  let inv = inverseSqrt(reduce(q, lid.x) / f32(p.dim) + p.eps);
  for (var i = lid.x; i < p.dim; i += WG) {
    var y = (X[base + i] - mean) * inv * W[i];
#ifdef HAS_BIAS
    y += B[i];
#endif
    Y[base + i] = y;
  }
}
