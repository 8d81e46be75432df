// y[r, i] = x[r, i] / sqrt(mean_i(x[r, i]²) + eps) * w[i]   (Llama RMSNorm, f32 throughout)
// One workgroup per row: strided sum of squares, tree reduction in workgroup memory.
struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const WG: u32 = 128u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.x + wid.y * p.groupsX;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) {
    let v = X[base + i];
    s = fma(v, v, s);
  }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid.x; i < p.dim; i += WG) {
    Y[base + i] = X[base + i] * inv * W[i];
  }
}
