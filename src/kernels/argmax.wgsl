// OUT[r] = the index of the largest X[r, :], the LOWEST index among equal maxima; NaN is never
// chosen (a row of only NaN gives 0). One workgroup per row: strided scan, then a tree
// reduction of (value, index) pairs.
struct Params {
  rows: u32,
  cols: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<u32>;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
var<workgroup> bestValue: array<f32, WG>;
var<workgroup> bestIndex: array<u32, WG>;

// On the bits: shader compilers may assume floats are never NaN and fold `x != x`.
fn isNan(x: f32) -> bool {
  let bits = bitcast<u32>(x);
  return (bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0u;
}

// Is (v, i) better than (w, j)? Invalid entries (NONE) lose; ties go to the lower index.
fn better(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (i == NONE) { return false; }
  if (j == NONE) { return true; }
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.x + wid.y * p.groupsX;
  if (row >= p.rows) { return; }
  let t = lid.x;
  var v = 0.0;
  var idx = NONE;
  for (var c = t; c < p.cols; c += WG) {
    let x = X[row * p.cols + c];
    if (!isNan(x) && better(x, c, v, idx)) {
      v = x;
      idx = c;
    }
  }
  bestValue[t] = v;
  bestIndex[t] = idx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (t < stride && better(bestValue[t + stride], bestIndex[t + stride], bestValue[t], bestIndex[t])) {
      bestValue[t] = bestValue[t + stride];
      bestIndex[t] = bestIndex[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) { OUT[row] = select(bestIndex[0], 0u, bestIndex[0] == NONE); }
}
