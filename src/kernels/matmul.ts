import type { GpuContext } from '../gpu/context';
import { formatShape, type Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, expectShape, outputTensor, rowSlices, Uniforms, withWeightReader } from './common';
import source from './matmul.wgsl?raw';
import { matvecSlice, MATVEC_MAX_M } from './matvec';

export interface MatmulOptions {
  bias?: Tensor;
  out?: Tensor;
  /** 'auto' picks matvec for M ≤ 8 (decode) and the tiled kernel otherwise. */
  path?: 'auto' | 'tiled' | 'matvec';
  /** Use native f16 loads for f16 weights when the device has shader-f16 (default true). */
  nativeF16?: boolean;
}

const KERNEL = 'matmul';

/**
 * Y = X · Wᵀ (+ b): X f32 [..., K], W [N, K] f32 or f16 (an nn.Linear weight), b f32 [N].
 * Returns f32 [..., N]. Weights larger than one storage binding are processed in row slices.
 */
export function matmul(ctx: GpuContext, x: Tensor, w: Tensor, options: MatmulOptions = {}): Tensor {
  const { M, K, N, outShape } = checkMatmulInputs(KERNEL, x, w, options.bias);
  const path = options.path ?? 'auto';
  const useMatvec = path === 'matvec' || (path === 'auto' && M <= MATVEC_MAX_M);
  check(KERNEL, !useMatvec || M <= MATVEC_MAX_M, () => `matvec path supports at most ${MATVEC_MAX_M} rows, got ${M}`);
  const nativeF16 = w.dtype === 'f16' && (options.nativeF16 ?? true) && ctx.features.shaderF16;
  const y = outputTensor(ctx, KERNEL, outShape, 'f32', options.out);
  const xb = ctx.bind(KERNEL, x);
  const yb = ctx.bind(KERNEL, y);
  const bb = options.bias ? ctx.bind(KERNEL, options.bias) : undefined;
  const defines = { W_F16: w.dtype === 'f16', NATIVE_F16: nativeF16, HAS_BIAS: Boolean(options.bias) };
  for (const slice of rowSlices(ctx, KERNEL, w)) {
    if (useMatvec) {
      matvecSlice(ctx, { M, K, N, x: xb, y: yb, bias: bb, slice, defines });
      continue;
    }
    const uniforms = new Uniforms().u32(M).u32(slice.rows).u32(K).u32(N).u32(slice.firstRow).bytes();
    ctx.dispatch({
      kernel: KERNEL,
      pipeline: ctx.pipeline(KERNEL, withWeightReader(source), defines),
      uniforms,
      bindings: { 1: xb, 2: slice.binding, 3: bb, 4: yb },
      workgroups: [ceilDiv(slice.rows, 64), ceilDiv(M, 64)],
    });
  }
  return y;
}

export function checkMatmulInputs(
  kernel: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
): { M: number; K: number; N: number; outShape: number[] } {
  expectDtype(kernel, 'x', x, ['f32']);
  expectDtype(kernel, 'weight', w, ['f32', 'f16']);
  check(kernel, w.shape.length === 2, () => `weight must be [N, K], got ${formatShape(w.shape)}`);
  check(kernel, x.shape.length >= 1, () => `x must be [..., K], got ${formatShape(x.shape)}`);
  const [N, K] = w.shape as [number, number];
  const xK = x.shape[x.shape.length - 1]!;
  check(kernel, xK === K, () => `x ${formatShape(x.shape)} and weight ${formatShape(w.shape)} disagree on K (${xK} vs ${K})`);
  const M = x.size / K;
  if (bias) {
    expectDtype(kernel, 'bias', bias, ['f32']);
    expectShape(kernel, 'bias', bias, [N]);
  }
  return { M, K, N, outShape: [...x.shape.slice(0, -1), N] };
}
