// Prefill path of attention (same semantics and row statistics as attention.wgsl): one
// workgroup per (block of BQ = 16 query rows, query head). Keys and values are staged through
// workgroup memory 16 rows at a time and reused by all 16 queries — K/V traffic drops 16× —
// with an online softmax per query row. 4 threads per query row: each scores 4 keys of a tile
// and owns DPT = D/4 output dimensions (D is a define, so loops unroll).
// Causal: query row t sits at cache index kvLen − Tq + t; tiles past the block's last visible
// key are skipped.
struct Params {
  Tq: u32,
  Hq: u32,
  Hkv: u32,
  kvLen: u32,
  causal: u32,
  scale: f32,
  blocks: u32,  // query blocks per head
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
#ifdef ROW_STATS
@group(0) @binding(5) var<storage, read_write> STATS: array<f32>;
#endif

const BQ: u32 = 16u;
const BK: u32 = 16u;
const D: u32 = HEAD_DIM;
const DPT: u32 = HEAD_DIM / 4u;

var<workgroup> qs: array<f32, BQ * HEAD_DIM>;
var<workgroup> ks: array<f32, BK * HEAD_DIM>;
var<workgroup> vs: array<f32, BK * HEAD_DIM>;
var<workgroup> ss: array<f32, BQ * BK>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = lid.x;
  let h = wid.y;
  let block = wid.x;
  let g = h / (p.Hq / p.Hkv);
  let r = t / 4u;          // query row within the block
  let sub = t % 4u;        // which quarter of the keys / dims this thread handles
  let row = block * BQ + r;
  let rowValid = row < p.Tq;
  let offset = p.kvLen - p.Tq;  // cache index of query row 0 (causal)
  var visible = p.kvLen;
  if (p.causal != 0u) { visible = offset + min(row, p.Tq - 1u) + 1u; }
  // Keys any row of this block can see (uniform across the workgroup).
  var blockKeys = p.kvLen;
  if (p.causal != 0u) { blockKeys = min(p.kvLen, offset + min(block * BQ + BQ, p.Tq)); }

  for (var i = t; i < BQ * D; i += 64u) {
    let qr = block * BQ + i / D;
    var v = 0.0;
    if (qr < p.Tq) { v = Q[(qr * p.Hq + h) * D + i % D]; }
    qs[i] = v;
  }
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, DPT>;
  let kvStride = p.Hkv * D;
  for (var k0 = 0u; k0 < blockKeys; k0 += BK) {
    workgroupBarrier();  // previous tile fully consumed (and qs written, first time)
    for (var i = t; i < BK * D; i += 64u) {
      let key = k0 + i / D;
      var kv = 0.0;
      var vv = 0.0;
      if (key < p.kvLen) {
        kv = K[key * kvStride + g * D + i % D];
        vv = V[key * kvStride + g * D + i % D];
      }
      ks[i] = kv;
      vs[i] = vv;
    }
    workgroupBarrier();
    for (var j = 0u; j < 4u; j++) {
      let kk = sub * 4u + j;
      var s = -3.0e38;
      if (rowValid && k0 + kk < visible) {
        var dot = 0.0;
        for (var d = 0u; d < D; d++) { dot = fma(qs[r * D + d], ks[kk * D + d], dot); }
        s = dot * p.scale;
      }
      ss[r * BK + kk] = s;
    }
    workgroupBarrier();
    var tileMax = -3.0e38;
    for (var kk = 0u; kk < BK; kk++) { tileMax = max(tileMax, ss[r * BK + kk]); }
    let newM = max(m, tileMax);
    let factor = exp(m - newM);
    var tileSum = 0.0;
    for (var i = 0u; i < DPT; i++) { acc[i] *= factor; }
    for (var kk = 0u; kk < BK; kk++) {
      let s = ss[r * BK + kk];
      if (s > -1.0e38) {
        let e = exp(s - newM);
        tileSum += e;
        for (var i = 0u; i < DPT; i++) { acc[i] = fma(e, vs[kk * D + sub * DPT + i], acc[i]); }
      }
    }
    l = l * factor + tileSum;
    m = newM;
  }
  if (rowValid) {
    let outBase = (row * p.Hq + h) * D + sub * DPT;
    for (var i = 0u; i < DPT; i++) { OUT[outBase + i] = acc[i] / l; }
#ifdef ROW_STATS
    if (sub == 0u) {
      STATS[(row * p.Hq + h) * 2u] = m;
      STATS[(row * p.Hq + h) * 2u + 1u] = l;
    }
#endif
  }
}
