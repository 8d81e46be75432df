import type { GpuContext } from '../gpu/context';
import { BYTES_PER_ELEMENT, type Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './gather-rows.wgsl?raw';

const KERNEL = 'gatherRows';

/**
 * out[i] = src[keep[i]] for src [rows, ...rowShape] (f32, u32, i32; f16 when a row holds an
 * even number of halves) and keep u32 [n]. Returns [n, ...rowShape] of src's dtype. Indices
 * ≥ rows give zero rows.
 */
export function gatherRows(ctx: GpuContext, src: Tensor, keep: Tensor, options: { out?: Tensor } = {}): Tensor {
  check(KERNEL, src.shape.length >= 1, () => `src must be [rows, ...], got ${src.describe()}`);
  expectDtype(KERNEL, 'keep', keep, ['u32']);
  check(KERNEL, keep.shape.length === 1, () => `keep must be [n], got ${keep.describe()}`);
  const rows = src.shape[0]!;
  const rowShape = src.shape.slice(1);
  const rowElements = rowShape.reduce((a, b) => a * b, 1);
  const rowBytes = rowElements * BYTES_PER_ELEMENT[src.dtype];
  check(KERNEL, rowBytes % 4 === 0, () => `rows of ${src.describe()} are ${rowBytes} bytes, not whole 32-bit words (f16 rows need an even length)`);
  const n = keep.shape[0]!;
  const out = outputTensor(ctx, KERNEL, [n, ...rowShape], src.dtype, options.out);
  const rowWords = rowBytes / 4;
  if (n === 0 || rowWords === 0) return out;
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(n * rowWords, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms().u32(n).u32(rowWords).u32(rows).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, src), 2: ctx.bind(KERNEL, keep), 3: ctx.bind(KERNEL, out) },
    workgroups: [gx, gy],
  });
  return out;
}
