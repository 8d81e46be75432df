import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, rowSlices, Uniforms, withWeightReader, workgroupGrid } from './common';
import source from './embedding.wgsl?raw';

const KERNEL = 'embedding';

/**
 * Embedding lookup: ids u32 [T], table [V, d] f32 or f16 → f32 [T, d]. Tables over one
 * storage binding are read slice by slice. Ids ≥ V give zero rows.
 */
export function embedding(ctx: GpuContext, ids: Tensor, table: Tensor, options: { out?: Tensor; nativeF16?: boolean } = {}): Tensor {
  expectDtype(KERNEL, 'ids', ids, ['u32']);
  check(KERNEL, ids.shape.length === 1, () => `ids must be [T], got ${ids.describe()}`);
  expectDtype(KERNEL, 'table', table, ['f32', 'f16']);
  check(KERNEL, table.shape.length === 2, () => `table must be [V, d], got ${table.describe()}`);
  const [V, d] = table.shape as [number, number];
  const T = ids.shape[0]!;
  const y = outputTensor(ctx, KERNEL, [T, d], 'f32', options.out);
  const native = table.dtype === 'f16' && (options.nativeF16 ?? true) && ctx.features.shaderF16;
  const pipeline = ctx.pipeline(KERNEL, withWeightReader(source), { W_F16: table.dtype === 'f16', NATIVE_F16: native });
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(T * d, 256));
  const idsBinding = ctx.bind(KERNEL, ids);
  const outBinding = ctx.bind(KERNEL, y);
  for (const slice of rowSlices(ctx, KERNEL, table)) {
    ctx.dispatch({
      kernel: KERNEL,
      pipeline,
      uniforms: new Uniforms().u32(T).u32(d).u32(slice.firstRow).u32(slice.rows).u32(V).u32(gx).bytes(),
      bindings: { 1: idsBinding, 2: slice.binding, 3: outBinding },
      workgroups: [gx, gy],
    });
  }
  return y;
}
