// FitPrune attention statistics, pass 1 of 2. For query rows [rowStart, rowStart + rowCount)
// and visual key columns [visStart, visStart + nVis), accumulates
//   PARTIAL[b, j] = Σ_{rows t of row block b} max_h p_h(t, visStart + j)
// where p_h(t, k) = exp(scale·q_h(t)·k − m_h(t)) / l_h(t) (m, l from attention's row stats)
// if key k is visible to row t, else 0. No float atomics: each workgroup owns one
// (row block, 64-column block) tile; attention-stats-reduce.wgsl sums the row blocks.
struct Params {
  Tq: u32,
  Hq: u32,
  Hkv: u32,
  D: u32,
  kvLen: u32,
  causal: u32,
  scale: f32,
  visStart: u32,
  nVis: u32,
  rowStart: u32,
  rowCount: u32,
  rowsPerBlock: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> STATS: array<f32>;  // [Tq, Hq, 2]: (m, l)
@group(0) @binding(4) var<storage, read_write> PARTIAL: array<f32>;  // [rowBlocks, nVis]

const WG: u32 = 64u;
const MAX_D: u32 = 256u;
var<workgroup> qs: array<f32, MAX_D>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let j = wid.x * WG + lid.x;          // visual column (may be past nVis: computes, never writes)
  let block = wid.y;
  let key = p.visStart + min(j, p.nVis - 1u);
  let group = p.Hq / p.Hkv;
  let r0 = p.rowStart + block * p.rowsPerBlock;
  let r1 = min(r0 + p.rowsPerBlock, p.rowStart + p.rowCount);
  var acc = 0.0;
  for (var t = r0; t < r1; t++) {
    let visible = select(p.kvLen, p.kvLen - p.Tq + t + 1u, p.causal != 0u);
    var headMax = 0.0;
    for (var h = 0u; h < p.Hq; h++) {
      workgroupBarrier();  // everyone is done with the previous qs
      for (var d = lid.x; d < p.D; d += WG) { qs[d] = Q[(t * p.Hq + h) * p.D + d]; }
      workgroupBarrier();
      if (key < visible) {
        let kBase = (key * p.Hkv + h / group) * p.D;
        var s = 0.0;
        for (var d = 0u; d < p.D; d++) { s = fma(qs[d], K[kBase + d], s); }
        let st = (t * p.Hq + h) * 2u;
        headMax = max(headMax, exp(s * p.scale - STATS[st]) / STATS[st + 1u]);
      }
    }
    acc += headMax;
  }
  if (j < p.nVis) { PARTIAL[block * p.nVis + j] = acc; }
}
