// Memory-bandwidth microbenchmark: a grid-stride read of a large vec4 buffer (each
// invocation sums its elements and writes one value), the access pattern of a weight-streaming
// matvec. Bytes = the buffer's size (the per-invocation writes are negligible).
struct Params {
  count: u32,   // vec4 elements in SRC
  stride: u32,  // invocations in the grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> SRC: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  var s = vec4<f32>(0.0);
  for (var k = i; k < p.count; k += p.stride) { s += SRC[k]; }
  if (i < p.stride) { OUT[i] = s.x + s.y + s.z + s.w; }
}
