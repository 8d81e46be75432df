import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { check, expectDtype, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './argmax.wgsl?raw';

const KERNEL = 'argmax';

/** Row-wise argmax of f32 [..., V] → u32 [rows]; ties → lowest index; NaN skipped. */
export function argmax(ctx: GpuContext, x: Tensor, options: { out?: Tensor } = {}): Tensor {
  expectDtype(KERNEL, 'x', x, ['f32']);
  check(KERNEL, x.shape.length >= 1 && x.shape[x.shape.length - 1]! > 0, () => `x must be [..., V] with V > 0, got ${x.describe()}`);
  const cols = x.shape[x.shape.length - 1]!;
  const rows = x.size / cols;
  const y = outputTensor(ctx, KERNEL, [rows], 'u32', options.out);
  const [gx, gy] = workgroupGrid(ctx, rows);
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms().u32(rows).u32(cols).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, x), 2: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}
