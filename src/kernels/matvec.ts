import type { GpuContext, BufferBinding } from '../gpu/context';
import type { Defines } from '../gpu/shader-defines';
import { Uniforms, withWeightReader, workgroupGrid, type RowSlice } from './common';
import source from './matvec.wgsl?raw';

/** Rows the matvec kernel handles in one pass (its MAX_M). */
export const MATVEC_MAX_M = 8;

const KERNEL = 'matvec';

/**
 * Dispatch one weight slice through matvec.wgsl. Called by matmul() for M ≤ MATVEC_MAX_M
 * (single-token decode), which does the input checks and slicing; use matmul(..., { path: 'matvec' }).
 */
export function matvecSlice(
  ctx: GpuContext,
  a: { M: number; K: number; N: number; x: BufferBinding; y: BufferBinding; bias?: BufferBinding; slice: RowSlice; defines: Defines },
): void {
  const [gx, gy] = workgroupGrid(ctx, a.slice.rows);
  const uniforms = new Uniforms().u32(a.M).u32(a.slice.rows).u32(a.K).u32(a.N).u32(a.slice.firstRow).u32(gx).bytes();
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, withWeightReader(source), a.defines),
    uniforms,
    bindings: { 1: a.x, 2: a.slice.binding, 3: a.bias, 4: a.y },
    workgroups: [gx, gy, a.M],
  });
}

