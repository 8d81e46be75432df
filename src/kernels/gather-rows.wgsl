// OUT[i, :] = SRC[KEEP[i], :], rows of rowWords 32-bit words (f32, u32, i32, or pairs of f16).
// Used to compact hidden states, position ids and K/V rows to the tokens a pruning step keeps.
// An index past the source rows writes zeros (never an out-of-bounds read).
struct Params {
  n: u32,
  rowWords: u32,
  srcRows: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> SRC: array<u32>;
@group(0) @binding(2) var<storage, read> KEEP: array<u32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * p.groupsX * 256u;  // one thread per output word
  if (idx >= p.n * p.rowWords) { return; }
  let i = idx / p.rowWords;
  let w = idx % p.rowWords;
  let r = KEEP[i];
  var v = 0u;
  if (r < p.srcRows) { v = SRC[r * p.rowWords + w]; }
  OUT[idx] = v;
}
