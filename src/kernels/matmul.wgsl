// Y[m, yOffset + n] = sum_k X[m, k] * W[n, k] (+ B[yOffset + n])
// X: f32 [M, K] row-major. W: [N, K] row-major (a PyTorch nn.Linear weight), read through
// weight-reader.wgsl (f32, packed f16 or native f16), which the dispatcher prepends.
// When a weight is larger than one storage binding, the dispatcher binds it in row slices and
// runs this kernel once per slice with yOffset = the slice's first row.
//
// Tiled path: a 16×16 workgroup computes a 64×64 output tile, each thread a 4×4 register
// block, stepping K by 16 through workgroup memory.
struct Params {
  M: u32,
  N: u32,        // rows of this weight slice = output columns written by this dispatch
  K: u32,
  yStride: u32,  // columns of Y
  yOffset: u32,  // first column of Y (and of B) this dispatch writes
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
#ifdef HAS_BIAS
@group(0) @binding(3) var<storage, read> B: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

fn bias(n: u32) -> f32 {
#ifdef HAS_BIAS
  return B[p.yOffset + n];
#else
  return 0.0;
#endif
}

const TS: u32 = 64u;   // output tile edge
const TK: u32 = 16u;   // K step

var<workgroup> Xs: array<f32, 1024>;  // [TK][TS]
var<workgroup> Ws: array<f32, 1024>;  // [TK][TS]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let m0 = wid.y * TS;
  let n0 = wid.x * TS;
  let tid = lid.y * 16u + lid.x;
  // Four vec4 accumulators rather than a 4×4 array: dynamically indexed private arrays end
  // up in memory on some compilers (SwiftShader), registers are what register blocking needs.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
      let r = e / TK;
      let c = e % TK;
      let gk = k0 + c;
      let gm = m0 + r;
      let gn = n0 + r;
      var xv = 0.0;
      if (gm < p.M && gk < p.K) { xv = X[gm * p.K + gk]; }
      Xs[c * TS + r] = xv;
      var wv = 0.0;
      if (gn < p.N && gk < p.K) { wv = loadW(gn * p.K + gk); }
      Ws[c * TS + r] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let xo = kk * TS + lid.y;
      let wo = kk * TS + lid.x;
      let w = vec4<f32>(Ws[wo], Ws[wo + 16u], Ws[wo + 32u], Ws[wo + 48u]);
      acc0 = fma(vec4<f32>(Xs[xo]), w, acc0);
      acc1 = fma(vec4<f32>(Xs[xo + 16u]), w, acc1);
      acc2 = fma(vec4<f32>(Xs[xo + 32u]), w, acc2);
      acc3 = fma(vec4<f32>(Xs[xo + 48u]), w, acc3);
    }
    workgroupBarrier();
  }
  store(m0 + lid.y, n0 + lid.x, acc0);
  store(m0 + lid.y + 16u, n0 + lid.x, acc1);
  store(m0 + lid.y + 32u, n0 + lid.x, acc2);
  store(m0 + lid.y + 48u, n0 + lid.x, acc3);
}

// Row m, columns n, n+16, n+32, n+48 of the output tile.
fn store(m: u32, n: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let col = n + 16u * j;
    if (col < p.N) { Y[m * p.yStride + p.yOffset + col] = v[j] + bias(col); }
  }
}
