// OUT[t, :] = TABLE[ids[t], :] for the ids that fall in this dispatch's slice of the table
// [firstRow, firstRow + sliceRows). Tables larger than one storage binding are bound slice by
// slice (see rowSlices); every slice's dispatch covers all tokens and writes only its own.
// Ids past the vocabulary write zeros (never an out-of-bounds read). The table is W of
// weight-reader.wgsl, which the dispatcher prepends.
struct Params {
  tokens: u32,
  dim: u32,
  firstRow: u32,
  sliceRows: u32,
  vocab: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> IDS: array<u32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * p.groupsX * 256u;  // one thread per (token, column)
  if (idx >= p.tokens * p.dim) { return; }
  let t = idx / p.dim;
  let j = idx % p.dim;
  let id = IDS[t];
  if (id >= p.vocab) {
    if (p.firstRow == 0u) { OUT[idx] = 0.0; }  // the first slice's dispatch owns invalid ids
    return;
  }
  if (id < p.firstRow || id >= p.firstRow + p.sliceRows) { return; }
  OUT[idx] = loadW((id - p.firstRow) * p.dim + j);
}
