// Y[i] = A[i] op B[i mod |B|], op = ADD or MUL (define). B either matches A or is broadcast
// over A's leading rows (a bias [D] over [T, D], position embeddings over a batch, …).
struct Params {
  count: u32,
  bCount: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * 256u;
  if (i >= p.count) { return; }
  let b = B[i % p.bCount];
#ifdef ADD
  Y[i] = A[i] + b;
#endif
#ifdef MUL
  Y[i] = A[i] * b;
#endif
}
