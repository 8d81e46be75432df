import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, expectShape, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './rope.wgsl?raw';

const KERNEL = 'rope';

/** A cos/sin table for rotary embeddings: f32 [maxPositions, headDim/2, 2]. */
export interface RopeTable {
  tensor: Tensor;
  headDim: number;
  maxPositions: number;
  theta: number;
}

/** cos(p·θ^(−2i/D)), sin(…) for p < maxPositions, computed in float64 on the CPU. */
export function ropeTableValues(theta: number, headDim: number, maxPositions: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(maxPositions * half * 2);
  for (let i = 0; i < half; i++) {
    const freq = theta ** ((-2 * i) / headDim);
    for (let p = 0; p < maxPositions; p++) {
      const a = p * freq;
      out[(p * half + i) * 2] = Math.cos(a);
      out[(p * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return out;
}

export function ropeTable(ctx: GpuContext, o: { theta: number; headDim: number; maxPositions: number }): RopeTable {
  check(KERNEL, o.headDim > 0 && o.headDim % 2 === 0, () => `headDim must be even, got ${o.headDim}`);
  check(KERNEL, o.maxPositions > 0 && o.theta > 0, () => `need maxPositions > 0 and theta > 0`);
  const tensor = ctx.upload(ropeTableValues(o.theta, o.headDim, o.maxPositions), [o.maxPositions, o.headDim / 2, 2], 'f32', 'ropeTable');
  return { tensor, ...o };
}

/**
 * Rotates x f32 [T, H, D] by the angles of each row's position (u32 [T]). `out` may be x
 * (in place). Positions ≥ table.maxPositions are clamped to the last row: callers size the
 * table to the model's max_position_embeddings.
 */
export function rope(ctx: GpuContext, x: Tensor, positions: Tensor, table: RopeTable, options: { out?: Tensor } = {}): Tensor {
  expectDtype(KERNEL, 'x', x, ['f32']);
  check(KERNEL, x.shape.length === 3, () => `x must be [T, H, D], got ${x.describe()}`);
  const [T, H, D] = x.shape as [number, number, number];
  check(KERNEL, D === table.headDim, () => `x head dim ${D} does not match the table's ${table.headDim}`);
  expectDtype(KERNEL, 'positions', positions, ['u32']);
  expectShape(KERNEL, 'positions', positions, [T]);
  const inPlace = options.out !== undefined && options.out.buffer === x.buffer;
  const y = inPlace ? options.out! : outputTensor(ctx, KERNEL, x.shape, 'f32', options.out);
  const threads = T * H * (D / 2);
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(threads, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source, { IN_PLACE: inPlace }),
    uniforms: new Uniforms().u32(T).u32(H).u32(D).u32(table.maxPositions).u32(gx).bytes(),
    bindings: {
      1: ctx.bind(KERNEL, positions),
      2: ctx.bind(KERNEL, table.tensor),
      3: ctx.bind(KERNEL, y),
      4: inPlace ? undefined : ctx.bind(KERNEL, x),
    },
    workgroups: [gx, gy],
  });
  return y;
}
