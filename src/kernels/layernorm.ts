import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { check, expectDtype, expectShape, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './layernorm.wgsl?raw';
import { rowsOf } from './rmsnorm';

const KERNEL = 'layernorm';

/** LayerNorm over the last dimension with affine weight (and optional bias), biased variance. */
export function layernorm(
  ctx: GpuContext,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  options: { eps: number; out?: Tensor },
): Tensor {
  const { rows, dim } = rowsOf(KERNEL, x);
  expectDtype(KERNEL, 'weight', weight, ['f32']);
  expectShape(KERNEL, 'weight', weight, [dim]);
  if (bias) {
    expectDtype(KERNEL, 'bias', bias, ['f32']);
    expectShape(KERNEL, 'bias', bias, [dim]);
  }
  check(KERNEL, options.eps >= 0, () => `eps must be ≥ 0, got ${options.eps}`);
  const y = outputTensor(ctx, KERNEL, x.shape, 'f32', options.out);
  const [gx, gy] = workgroupGrid(ctx, rows);
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source, { HAS_BIAS: Boolean(bias) }),
    uniforms: new Uniforms().u32(rows).u32(dim).f32(options.eps).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, x), 2: ctx.bind(KERNEL, weight), 3: bias ? ctx.bind(KERNEL, bias) : undefined, 4: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}
