import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './activation.wgsl?raw';

const KERNEL = 'activation';

export type ActivationOp = 'silu' | 'gelu' | 'gelu_tanh' | 'quick_gelu';

const DEFINE: Record<ActivationOp, string> = { silu: 'SILU', gelu: 'GELU', gelu_tanh: 'GELU_TANH', quick_gelu: 'QUICK_GELU' };

/**
 * Elementwise activation of an f32 tensor. `out` may be `x` itself (in place). The erf in
 * 'gelu' is a polynomial approximation with |error| < 1.5e-7.
 */
export function activation(ctx: GpuContext, x: Tensor, op: ActivationOp, options: { out?: Tensor } = {}): Tensor {
  expectDtype(KERNEL, 'x', x, ['f32']);
  check(KERNEL, op in DEFINE, () => `unknown activation "${String(op)}" (silu, gelu, gelu_tanh, quick_gelu)`);
  const inPlace = options.out !== undefined && options.out.buffer === x.buffer;
  const y = inPlace ? options.out! : outputTensor(ctx, KERNEL, x.shape, 'f32', options.out);
  if (inPlace) check(KERNEL, y.size === x.size, () => `in-place out must alias x exactly`);
  const count = x.size;
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(count, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source, { [DEFINE[op]]: true, IN_PLACE: inPlace }),
    uniforms: new Uniforms().u32(count).u32(gx).bytes(),
    bindings: inPlace ? { 1: ctx.bind(KERNEL, y) } : { 1: ctx.bind(KERNEL, x), 2: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}
