// Y[i] = silu(G[i]) · U[i]: the gated MLP activation of Llama (gate_proj, up_proj outputs).
struct Params {
  count: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * 256u;
  if (i >= p.count) { return; }
  let g = G[i];
  let e = exp(-abs(g));
  let s = select(e / (1.0 + e), 1.0 / (1.0 + e), g >= 0.0);  // σ(g) without overflow
  Y[i] = g * s * U[i];
}
