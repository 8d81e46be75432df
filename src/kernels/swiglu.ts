import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, expectDtype, expectShape, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './swiglu.wgsl?raw';

const KERNEL = 'swiglu';

/** silu(gate) · up, elementwise; gate and up f32 of the same shape. */
export function swiglu(ctx: GpuContext, gate: Tensor, up: Tensor, options: { out?: Tensor } = {}): Tensor {
  expectDtype(KERNEL, 'gate', gate, ['f32']);
  expectDtype(KERNEL, 'up', up, ['f32']);
  expectShape(KERNEL, 'up', up, gate.shape);
  const y = outputTensor(ctx, KERNEL, gate.shape, 'f32', options.out);
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(gate.size, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms().u32(gate.size).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, gate), 2: ctx.bind(KERNEL, up), 3: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}
