// Y[i] = act(X[i]) for one activation chosen by a define:
//   SILU        x·σ(x)                         (Llama MLP)
//   GELU        x·Φ(x) = ½x(1 + erf(x/√2))      (exact GELU: LLaVA projector "gelu")
//   GELU_TANH   ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
//   QUICK_GELU  x·σ(1.702x)                     (CLIP)
// X and Y may be the same buffer (in place): each element is read then written by one thread.
struct Params {
  count: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#ifdef IN_PLACE
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
#endif

// σ(x) without overflow: exp of a non-positive argument only.
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// erf by Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7 (WGSL has no erf builtin).
fn erf_approx(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = 1.0 - poly * exp(-a * a);
  return select(-y, y, x >= 0.0);
}

fn act(x: f32) -> f32 {
#ifdef SILU
  return x * sigmoid(x);
#endif
#ifdef GELU
  return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
#endif
#ifdef GELU_TANH
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  // tanh(u) = 2σ(2u) − 1, stable for large |u|
  return 0.5 * x * (1.0 + (2.0 * sigmoid(2.0 * u) - 1.0));
#endif
#ifdef QUICK_GELU
  return x * sigmoid(1.702 * x);
#endif
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * 256u;
  if (i >= p.count) { return; }
#ifdef IN_PLACE
  Y[i] = act(Y[i]);
#else
  Y[i] = act(X[i]);
#endif
}
