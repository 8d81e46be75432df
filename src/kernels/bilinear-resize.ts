import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, Uniforms, workgroupGrid } from './common';
import source from './bilinear-resize.wgsl?raw';

const KERNEL = 'bilinearResize';

/**
 * Bilinear resize (torch align_corners=False) of a grid of feature vectors: src f32
 * [inH·inW, d] in row-major cell order → [outH·outW, d]. The CPU oracle is
 * bilinearResizeHWC in src/models/llava-next/anyres.ts.
 */
export function bilinearResize(
  ctx: GpuContext,
  src: Tensor,
  grid: { inH: number; inW: number; outH: number; outW: number },
  options: { out?: Tensor } = {},
): Tensor {
  expectDtype(KERNEL, 'src', src, ['f32']);
  const { inH, inW, outH, outW } = grid;
  for (const [name, v] of Object.entries(grid)) check(KERNEL, Number.isInteger(v) && v > 0, () => `${name} must be a positive integer, got ${v}`);
  check(KERNEL, src.shape.length === 2 && src.shape[0] === inH * inW, () => `src must be [${inH}·${inW}, d], got ${src.describe()}`);
  const d = src.shape[1]!;
  const out = outputTensor(ctx, KERNEL, [outH * outW, d], 'f32', options.out);
  if (d === 0) return out;
  const [gx, gy] = workgroupGrid(ctx, ceilDiv(outH * outW * d, 256));
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms().u32(inH).u32(inW).u32(outH).u32(outW).u32(d).u32(gx).bytes(),
    bindings: { 1: ctx.bind(KERNEL, src), 2: ctx.bind(KERNEL, out) },
    workgroups: [gx, gy],
  });
  return out;
}
