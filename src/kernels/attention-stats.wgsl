// FitPrune attention statistics, pass 1 of 2. For query rows [rowStart, rowStart + rowCount)
// and visual key columns [visStart, visStart + nVis), accumulates
//   PARTIAL[b, j] = Σ_{rows t of row block b} max_h p_h(t, visStart + j)
// where p_h(t, k) = exp(scale·q_h(t)·k − m_h(t)) / l_h(t) (m, l from attention's row stats)
// if key k is visible to row t, else 0. No float atomics: each workgroup owns one
// (row block of TILE rows, 64-column block) tile; attention-stats-reduce.wgsl sums the blocks.
//
// Tiled over rows: the TILE query rows of a head sit in workgroup memory and each thread reads
// its key's vector once per head for all of them (TILE times fewer key reads than one row at a
// time), and a tile whose rows all precede every key of its columns (the masked upper triangle
// of the visual block, about half of it) is skipped whole.
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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> STATS: array<f32>;  // [Tq, Hq, 2]: (m, l)
@group(0) @binding(4) var<storage, read_write> PARTIAL: array<f32>;  // [rowBlocks, nVis]

const WG: u32 = 64u;
const TILE: u32 = 8u;  // rows per block; attention-stats.ts's ROWS_PER_BLOCK
const MAX_D: u32 = 256u;
var<workgroup> qs: array<f32, 2048>;  // [TILE, MAX_D]

/** Keys [0, visibleEnd(t)) are visible to query row t. */
fn visibleEnd(t: u32) -> u32 {
  return select(p.kvLen, p.kvLen - p.Tq + t + 1u, p.causal != 0u);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let j = wid.x * WG + lid.x;          // visual column (may be past nVis: computes, never writes)
  let block = wid.y;
  let key = p.visStart + min(j, p.nVis - 1u);
  let group = p.Hq / p.Hkv;
  let r0 = p.rowStart + block * TILE;
  let rows = min(TILE, p.rowStart + p.rowCount - r0);
  // The whole tile is masked when its last row cannot see the block's first key.
  if (visibleEnd(r0 + rows - 1u) <= p.visStart + wid.x * WG) {
    if (j < p.nVis) { PARTIAL[block * p.nVis + j] = 0.0; }
    return;
  }
  let seenByLast = key < visibleEnd(r0 + rows - 1u);  // rows only see more keys further down
  var headMax = array<f32, TILE>();
  for (var h = 0u; h < p.Hq; h++) {
    workgroupBarrier();  // everyone is done with the previous head's rows
    for (var i = lid.x; i < rows * p.D; i += WG) {
      let r = i / p.D;
      let d = i - r * p.D;
      qs[r * MAX_D + d] = Q[((r0 + r) * p.Hq + h) * p.D + d];
    }
    workgroupBarrier();
    if (seenByLast) {
      var s = array<f32, TILE>();  // explicit zeros: on Dawn + lavapipe a bare `var s: array<…>;` here kept the previous head's sums
      let kBase = (key * p.Hkv + h / group) * p.D;
      for (var d = 0u; d < p.D; d++) {
        let kd = K[kBase + d];
        for (var r = 0u; r < TILE; r++) { s[r] = fma(qs[r * MAX_D + d], kd, s[r]); }
      }
      for (var r = 0u; r < rows; r++) {
        let t = r0 + r;
        if (key < visibleEnd(t)) {
          let st = (t * p.Hq + h) * 2u;
          headMax[r] = max(headMax[r], exp(s[r] * p.scale - STATS[st]) / STATS[st + 1u]);
        }
      }
    }
  }
  var acc = 0.0;
  for (var r = 0u; r < rows; r++) { acc += headMax[r]; }
  if (j < p.nVis) { PARTIAL[block * p.nVis + j] = acc; }
}
