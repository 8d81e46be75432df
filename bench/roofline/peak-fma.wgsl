// Peak arithmetic microbenchmark: each invocation runs ITERS rounds of 8 independent vec4
// fma chains (8 × 4 × 2 = 64 FLOP a round), enough independent work to hide fma latency, and
// writes one value so the compiler cannot drop the loop. FLOPs = invocations × ITERS × 64.
struct Params {
  iters: u32,
  seed: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let x = vec4<f32>(f32(i & 255u) * 1e-3, p.seed, 0.5, 0.25);
  let m = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  var a0 = x; var a1 = x + 1.0; var a2 = x + 2.0; var a3 = x + 3.0;
  var a4 = x + 4.0; var a5 = x + 5.0; var a6 = x + 6.0; var a7 = x + 7.0;
  for (var k = 0u; k < p.iters; k++) {
    a0 = fma(a0, m, x); a1 = fma(a1, m, x); a2 = fma(a2, m, x); a3 = fma(a3, m, x);
    a4 = fma(a4, m, x); a5 = fma(a5, m, x); a6 = fma(a6, m, x); a7 = fma(a7, m, x);
  }
  let s = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
  OUT[i] = s.x + s.y + s.z + s.w;
}
