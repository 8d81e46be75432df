import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './elementwise.wgsl?raw';

const KERNEL = 'elementwise';

export type BinaryOp = 'add' | 'mul';

/**
 * a op b for f32 tensors; b has a's element count or divides it (broadcast over leading
 * rows). Returns a tensor of a's shape.
 */
export function elementwise(ctx: GpuContext, a: Tensor, b: Tensor, op: BinaryOp, options: { out?: Tensor } = {}): Tensor {
  expectDtype(KERNEL, 'a', a, ['f32']);
  expectDtype(KERNEL, 'b', b, ['f32']);
  check(KERNEL, op === 'add' || op === 'mul', () => `unknown op "${String(op)}" (add, mul)`);
  check(KERNEL, b.size > 0 && a.size % b.size === 0, () => `b ${b.describe()} cannot broadcast over a ${a.describe()}: its size must divide a's`);
  const y = outputTensor(ctx, KERNEL, a.shape, 'f32', options.out);
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(a.size, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source, { [op.toUpperCase()]: true }),
    uniforms: new Uniforms().u32(a.size).u32(b.size).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, a), 2: ctx.bind(KERNEL, b), 3: ctx.bind(KERNEL, y) },
    workgroups: [gx, gy],
  });
  return y;
}

export function add(ctx: GpuContext, a: Tensor, b: Tensor, options: { out?: Tensor } = {}): Tensor {
  return elementwise(ctx, a, b, 'add', options);
}
