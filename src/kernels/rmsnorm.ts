import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { check, expectDtype, expectShape, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './rmsnorm.wgsl?raw';

const KERNEL = 'rmsnorm';

/** Llama RMSNorm over the last dimension: x f32 [..., D], weight f32 [D] → f32 [..., D]. */
export function rmsnorm(ctx: GpuContext, x: Tensor, weight: Tensor, options: { eps: number; out?: Tensor }): Tensor {
  const { rows, dim } = rowsOf(KERNEL, x);
  expectDtype(KERNEL, 'weight', weight, ['f32']);
  expectShape(KERNEL, 'weight', weight, [dim]);
  check(KERNEL, options.eps >= 0, () => `eps must be ≥ 0, got ${options.eps}`);
  const y = outputTensor(ctx, KERNEL, x.shape, 'f32', options.out);
  const [gx, gy] = workgroupGrid(ctx, rows);
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms().u32(rows).u32(dim).f32(options.eps).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, x), 2: ctx.bind(KERNEL, weight), 3: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}

/** Rows and row length of an f32 [..., D] activation. */
export function rowsOf(kernel: string, x: Tensor): { rows: number; dim: number } {
  expectDtype(kernel, 'x', x, ['f32']);
  check(kernel, x.shape.length >= 1 && x.shape[x.shape.length - 1]! > 0, () => `x must be [..., D] with D > 0, got ${x.describe()}`);
  const dim = x.shape[x.shape.length - 1]!;
  return { rows: x.size / dim, dim };
}
