// Deterministic bottom-k, pass 2 of 2: turns survivor flags of the visual span into the keep
// list of the whole sequence, ascending: rows [0, spanStart), the surviving visual rows
// spanStart + i, then rows [spanStart + n, seqLen). One workgroup: each thread counts the
// survivors of a contiguous chunk, an exclusive scan over threads gives each chunk its offset.
struct Params {
  n: u32,
  spanStart: u32,
  seqLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> FLAGS: array<u32>;
@group(0) @binding(2) var<storage, read_write> KEEP: array<u32>;

const WG: u32 = 256u;
var<workgroup> counts: array<u32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let chunk = (p.n + WG - 1u) / WG;
  let c0 = min(t * chunk, p.n);
  let c1 = min(c0 + chunk, p.n);
  var mine = 0u;
  for (var i = c0; i < c1; i++) { mine += FLAGS[i]; }
  counts[t] = mine;
  workgroupBarrier();
  // Hillis–Steele inclusive scan over the 256 chunk counts.
  for (var s = 1u; s < WG; s *= 2u) {
    var v = counts[t];
    if (t >= s) { v += counts[t - s]; }
    workgroupBarrier();
    counts[t] = v;
    workgroupBarrier();
  }
  var out = p.spanStart + counts[t] - mine;  // exclusive offset of this chunk
  for (var i = c0; i < c1; i++) {
    if (FLAGS[i] == 1u) {
      KEEP[out] = p.spanStart + i;
      out++;
    }
  }
  let kept = counts[WG - 1u];
  for (var r = t; r < p.spanStart; r += WG) { KEEP[r] = r; }
  let tail = p.seqLen - (p.spanStart + p.n);
  for (var r = t; r < tail; r += WG) { KEEP[p.spanStart + kept + r] = p.spanStart + p.n + r; }
}
