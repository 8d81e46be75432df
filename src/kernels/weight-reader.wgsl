// Shared prelude of the kernels that read a weight matrix W at @binding(2) (matmul, matvec,
// embedding): W is f32, packed f16 (two halves per u32, unpack2x16float, works on every
// adapter) or native f16 (needs shader-f16). Prepended to the kernel's source by its
// dispatcher (see withWeightReader in common.ts), so `enable f16;` comes first.
#ifdef W_F16
#ifdef NATIVE_F16
enable f16;
@group(0) @binding(2) var<storage, read> W: array<f16>;
#else
@group(0) @binding(2) var<storage, read> W: array<u32>;
#endif
#else
@group(0) @binding(2) var<storage, read> W: array<f32>;
#endif

fn loadW(i: u32) -> f32 {
#ifdef W_F16
#ifdef NATIVE_F16
  return f32(W[i]);
#else
  let pair = unpack2x16float(W[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
#endif
#else
  return W[i];
#endif
}
