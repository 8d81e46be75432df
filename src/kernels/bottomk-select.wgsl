// Deterministic bottom-k, pass 1 of 2: FLAGS[i] = 1 if token i survives, 0 if it is among the
// k deleted. Tokens are ordered by (score ascending, index ascending) — NaN counts as −∞ — and
// the first k in that order are deleted: equal scores delete the lower index first.
// rank(i) = #{ j : key_j < key_i or (key_j == key_i and j < i) }; O(n²), fine for n in the
// thousands (one thread per token, scores staged through workgroup memory).
struct Params {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> SCORES: array<f32>;
@group(0) @binding(2) var<storage, read_write> FLAGS: array<u32>;

const WG: u32 = 256u;
var<workgroup> tile: array<f32, WG>;

// NaN and −∞ form one bottom class (tied with each other); everything else compares by value.
// Tested on the bits: shader compilers may assume floats are never NaN and fold `v != v`.
fn isBottom(v: f32) -> bool {
  let bits = bitcast<u32>(v);
  let isNan = (bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0u;
  return isNan || bits == 0xff800000u;
}

fn before(a: f32, i: u32, b: f32, j: u32) -> bool {  // does (a, i) come before (b, j)?
  let ba = isBottom(a);
  let bb = isBottom(b);
  if (ba != bb) { return ba; }
  if (ba || a == b) { return i < j; }
  return a < b;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = wid.x * WG + lid.x;
  var mine = 0.0;
  if (i < p.n) { mine = SCORES[i]; }
  var rank = 0u;
  for (var base = 0u; base < p.n; base += WG) {
    workgroupBarrier();
    if (base + lid.x < p.n) { tile[lid.x] = SCORES[base + lid.x]; }
    workgroupBarrier();
    let count = min(WG, p.n - base);
    for (var c = 0u; c < count; c++) {
      if (before(tile[c], base + c, mine, i)) { rank++; }
    }
  }
  if (i < p.n) { FLAGS[i] = select(0u, 1u, rank >= p.k); }
}
