// Rotary position embedding, Llama "rotate-half" convention, with explicit position ids:
// for each row t (position pos[t]), head h and i < D/2, with (c, s) = table[pos][i]:
//   y[i]       = x[i]·c − x[i + D/2]·s
//   y[i + D/2] = x[i + D/2]·c + x[i]·s
// The cos/sin table is computed on the CPU in float64 (WGSL sin/cos are only accurate to
// ~2⁻¹¹ and positions reach thousands). Positions past the table are clamped to its last row.
// In place allowed: each thread reads its pair, then writes it.
struct Params {
  rows: u32,
  heads: u32,
  headDim: u32,
  tablePositions: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> POS: array<u32>;
@group(0) @binding(2) var<storage, read> TABLE: array<vec2<f32>>;  // [positions, D/2] of (cos, sin)
#ifdef IN_PLACE
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> X: array<f32>;
#endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.headDim / 2u;
  let idx = gid.x + gid.y * p.groupsX * 256u;  // one thread per (row, head, i < D/2)
  if (idx >= p.rows * p.heads * half) { return; }
  let i = idx % half;
  let rh = idx / half;          // row * heads + head
  let row = rh / p.heads;
  let pos = min(POS[row], p.tablePositions - 1u);
  let cs = TABLE[pos * half + i];
  let base = rh * p.headDim;
#ifdef IN_PLACE
  let a = Y[base + i];
  let b = Y[base + i + half];
#else
  let a = X[base + i];
  let b = X[base + i + half];
#endif
  Y[base + i] = a * cs.x - b * cs.y;
  Y[base + i + half] = b * cs.x + a * cs.y;
}
