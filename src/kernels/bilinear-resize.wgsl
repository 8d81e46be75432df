// OUT[y, x, :] = bilinear sample of SRC [inH, inW, d] (HWC rows of d f32 values) at output cell
// (y, x), as torch.nn.functional.interpolate(mode='bilinear', align_corners=False): source
// coordinate (dst + 0.5)·in/out − 0.5 clamped at 0, upper neighbour clamped to the last
// row/column. LLaVA-OneVision shrinks its feature grid this way (anyres_max_N downscale).
// Bilinear weights are continuous in the source coordinate, so computing it in f32 here rather
// than float64 (src/models/llava-next/anyres.ts bilinearResizeHWC) moves results by rounding only.
struct Params {
  inH: u32,
  inW: u32,
  outH: u32,
  outW: u32,
  d: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> SRC: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;

struct Tap {
  lo: u32,
  hi: u32,
  w1: f32,
}

fn tap(dst: u32, inSize: u32, outSize: u32) -> Tap {
  let scale = f32(inSize) / f32(outSize);
  let s = max(0.0, scale * (f32(dst) + 0.5) - 0.5);
  let lo = min(u32(floor(s)), inSize - 1u);
  var hi = lo;
  if (lo < inSize - 1u) { hi = lo + 1u; }
  return Tap(lo, hi, s - f32(lo));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * p.groupsX * 256u;  // one thread per output value
  if (idx >= p.outH * p.outW * p.d) { return; }
  let k = idx % p.d;
  let cell = idx / p.d;
  let ty = tap(cell / p.outW, p.inH, p.outH);
  let tx = tap(cell % p.outW, p.inW, p.outW);
  let a = SRC[(ty.lo * p.inW + tx.lo) * p.d + k];
  let b = SRC[(ty.lo * p.inW + tx.hi) * p.d + k];
  let c = SRC[(ty.hi * p.inW + tx.lo) * p.d + k];
  let e = SRC[(ty.hi * p.inW + tx.hi) * p.d + k];
  OUT[idx] = (1.0 - ty.w1) * ((1.0 - tx.w1) * a + tx.w1 * b) + ty.w1 * ((1.0 - tx.w1) * c + tx.w1 * e);
}
