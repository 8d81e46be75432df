// FastV's score: OUT[j] = (1/Hq) Σ_h p_h(row, colStart + j) for one query row, with
// p_h = exp(scale·q_h·k − m_h) / l_h (attention's row stats) where the key is visible, else 0.
// One thread per column; the query row of each head is staged in workgroup memory.
struct Params {
  Tq: u32,
  Hq: u32,
  Hkv: u32,
  D: u32,
  kvLen: u32,
  causal: u32,
  scale: f32,
  row: u32,
  colStart: u32,
  nCols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> STATS: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;

const WG: u32 = 64u;
const MAX_D: u32 = 256u;
var<workgroup> qs: array<f32, MAX_D>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let j = wid.x * WG + lid.x;
  let key = p.colStart + min(j, p.nCols - 1u);
  let visible = select(p.kvLen, p.kvLen - p.Tq + p.row + 1u, p.causal != 0u);
  let group = p.Hq / p.Hkv;
  var sum = 0.0;
  for (var h = 0u; h < p.Hq; h++) {
    workgroupBarrier();
    for (var d = lid.x; d < p.D; d += WG) { qs[d] = Q[(p.row * p.Hq + h) * p.D + d]; }
    workgroupBarrier();
    if (key < visible) {
      let kBase = (key * p.Hkv + h / group) * p.D;
      var s = 0.0;
      for (var d = 0u; d < p.D; d++) { s = fma(qs[d], K[kBase + d], s); }
      let st = (p.row * p.Hq + h) * 2u;
      sum += exp(s * p.scale - STATS[st]) / STATS[st + 1u];
    }
  }
  if (j < p.nCols) { OUT[j] = sum / f32(p.Hq); }
}
