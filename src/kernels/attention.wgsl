// Scaled dot-product attention over a per-layer KV cache, one workgroup per (query row, head):
//   OUT[t, h, :] = Σ_j softmax_j(scale · Q[t, h, :]·K[j, g, :]) · V[j, g, :],  g = h / (Hq/Hkv)
// Keys are visited in chunks of CHUNK with an online softmax (running max m, running sum l,
// rescaled accumulator), so any cache length works with fixed workgroup memory.
// Causal: query row t sits at cache index kvLen − Tq + t and sees keys j ≤ that index (prefill
// on an empty cache: kvLen = Tq; decode: Tq = 1 sees all). Bidirectional: all kvLen keys.
// ROW_STATS also writes (m, l) per (t, h): what the attention-statistics kernels need to
// rebuild normalised probabilities p = exp(s − m) / l.
struct Params {
  Tq: u32,
  Hq: u32,
  Hkv: u32,
  D: u32,
  kvLen: u32,
  causal: u32,
  scale: f32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
#ifdef ROW_STATS
@group(0) @binding(5) var<storage, read_write> STATS: array<f32>;
#endif

const WG: u32 = 64u;
const CHUNK: u32 = 256u;
const MAX_D: u32 = 256u;
const DIMS_PER_THREAD: u32 = 4u;  // MAX_D / WG

var<workgroup> qs: array<f32, MAX_D>;
var<workgroup> scores: array<f32, CHUNK>;
var<workgroup> red: array<f32, WG>;

fn reduceMax(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let item = wid.x + wid.y * p.groupsX;
  if (item >= p.Tq * p.Hq) { return; }
  let t = lid.x;
  let row = item / p.Hq;
  let h = item % p.Hq;
  let g = h / (p.Hq / p.Hkv);
  let D = p.D;
  var visible = p.kvLen;
  if (p.causal != 0u) { visible = p.kvLen - p.Tq + row + 1u; }
  let qBase = (row * p.Hq + h) * D;
  for (var d = t; d < D; d += WG) { qs[d] = Q[qBase + d]; }
  workgroupBarrier();
  let kvStride = p.Hkv * D;
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, DIMS_PER_THREAD>;
  for (var c0 = 0u; c0 < visible; c0 += CHUNK) {
    let cn = min(CHUNK, visible - c0);
    var localMax = -3.0e38;
    for (var j = t; j < cn; j += WG) {
      let kBase = (c0 + j) * kvStride + g * D;
      var s = 0.0;
      for (var d = 0u; d < D; d++) { s = fma(qs[d], K[kBase + d], s); }
      s *= p.scale;
      scores[j] = s;
      localMax = max(localMax, s);
    }
    let newM = max(m, reduceMax(localMax, t));
    var localSum = 0.0;
    for (var j = t; j < cn; j += WG) {
      let e = exp(scores[j] - newM);
      scores[j] = e;
      localSum += e;
    }
    let factor = exp(m - newM);
    l = l * factor + reduceSum(localSum, t);  // the reduction's barriers also publish scores[]
    m = newM;
    for (var k = 0u; k < DIMS_PER_THREAD; k++) {
      let d = t + k * WG;
      if (d < D) {
        var a = acc[k] * factor;
        for (var j = 0u; j < cn; j++) { a = fma(scores[j], V[(c0 + j) * kvStride + g * D + d], a); }
        acc[k] = a;
      }
    }
    workgroupBarrier();  // scores[] is rewritten by the next chunk
  }
  let outBase = (row * p.Hq + h) * D;
  for (var k = 0u; k < DIMS_PER_THREAD; k++) {
    let d = t + k * WG;
    if (d < D) { OUT[outBase + d] = acc[k] / l; }
  }
#ifdef ROW_STATS
  if (t == 0u) {
    STATS[item * 2u] = m;
    STATS[item * 2u + 1u] = l;
  }
#endif
}
