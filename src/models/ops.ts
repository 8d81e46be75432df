/**
 * The kernels as the model code calls them: one import, short names, the model's defaults.
 * Keeping this seam thin lets the model files read like the math.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { activation, type ActivationOp } from '../kernels/activation';
import { argmax } from '../kernels/argmax';
import { bilinearResize } from '../kernels/bilinear-resize';
import { attention, type AttentionOptions } from '../kernels/attention';
import { add } from '../kernels/elementwise';
import { embedding } from '../kernels/embedding';
import { gatherRows } from '../kernels/gather-rows';
import { layernorm } from '../kernels/layernorm';
import { matmul } from '../kernels/matmul';
import { rmsnorm } from '../kernels/rmsnorm';
import { rope, ropeTable, type RopeTable } from '../kernels/rope';
import { swiglu } from '../kernels/swiglu';

/** HF activation names → our kernel's. */
export function activationOp(name: string): ActivationOp {
  switch (name) {
    case 'gelu_pytorch_tanh':
    case 'gelu_new':
      return 'gelu_tanh';
    case 'gelu':
    case 'silu':
    case 'quick_gelu':
      return name;
    default:
      throw new Error(`activation "${name}" is not supported`);
  }
}

export const ops = {
  matmul: (ctx: GpuContext, x: Tensor, w: Tensor, bias?: Tensor) => matmul(ctx, x, w, { bias }),
  rmsnorm: (ctx: GpuContext, x: Tensor, w: Tensor, eps: number) => rmsnorm(ctx, x, w, { eps }),
  layernorm: (ctx: GpuContext, x: Tensor, w: Tensor, b: Tensor | null, eps: number) => layernorm(ctx, x, w, b, { eps }),
  activationInPlace: (ctx: GpuContext, x: Tensor, name: string) => activation(ctx, x, activationOp(name), { out: x }),
  add: (ctx: GpuContext, a: Tensor, b: Tensor) => add(ctx, a, b),
  swiglu: (ctx: GpuContext, gate: Tensor, up: Tensor) => swiglu(ctx, gate, up),
  ropeTable: (ctx: GpuContext, theta: number, headDim: number, maxPositions: number): RopeTable =>
    ropeTable(ctx, { theta, headDim, maxPositions }),
  ropeInPlace: (ctx: GpuContext, x: Tensor, positions: Tensor, table: RopeTable) => rope(ctx, x, positions, table, { out: x }),
  attention: (ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions) => attention(ctx, q, k, v, o),
  embedding: (ctx: GpuContext, ids: Tensor, table: Tensor) => embedding(ctx, ids, table),
  gatherRows: (ctx: GpuContext, src: Tensor, keep: Tensor) => gatherRows(ctx, src, keep),
  argmax: (ctx: GpuContext, x: Tensor) => argmax(ctx, x),
  bilinearResize: (ctx: GpuContext, grid: Tensor, size: { inH: number; inW: number; outH: number; outW: number }) => bilinearResize(ctx, grid, size),
};
