// FitPrune attention statistics, pass 2 of 2: OUT[j] = Σ_b PARTIAL[b, j], summed in block
// order so the result is deterministic.
struct Params {
  nVis: u32,
  blocks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> PARTIAL: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= p.nVis) { return; }
  var s = 0.0;
  for (var b = 0u; b < p.blocks; b++) { s += PARTIAL[b * p.nVis + j]; }
  OUT[j] = s;
}
