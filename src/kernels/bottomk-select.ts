import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ceilDiv, check, expectDtype, outputTensor, Uniforms } from './common';
import compactSource from './bottomk-compact.wgsl?raw';
import source from './bottomk-select.wgsl?raw';

const KERNEL = 'bottomKKeep';

/**
 * The keep-list of a pruning step, computed on the GPU. `scores` f32 [n] rank the n visual
 * tokens occupying rows [spanStart, spanStart + n) of a seqLen-row sequence; the k lowest
 * (ties: lower index first; NaN lowest) are deleted (all of them if k ≥ n). Returns u32
 * [seqLen − min(k, n)]: every surviving row index of the whole sequence, ascending.
 */
export function bottomKKeep(ctx: GpuContext, scores: Tensor, k: number, o: { spanStart: number; seqLen: number; out?: Tensor }): Tensor {
  expectDtype(KERNEL, 'scores', scores, ['f32']);
  check(KERNEL, scores.shape.length === 1, () => `scores must be [n], got ${scores.describe()}`);
  const n = scores.shape[0]!;
  check(KERNEL, Number.isInteger(k) && k >= 0, () => `k must be a non-negative integer, got ${k}`);
  check(KERNEL, Number.isInteger(o.spanStart) && o.spanStart >= 0 && o.spanStart + n <= o.seqLen, () => `span [${o.spanStart}, ${o.spanStart + n}) does not fit a ${o.seqLen}-row sequence`);
  const deleted = Math.min(k, n);
  const keep = outputTensor(ctx, KERNEL, [o.seqLen - deleted], 'u32', o.out);
  if (keep.size === 0) return keep;
  const flags = ctx.empty([Math.max(n, 1)], 'u32', 'bottomkFlags');
  if (n > 0) {
    ctx.dispatch({
      kernel: KERNEL,
      pipeline: ctx.pipeline(KERNEL, source),
      uniforms: new Uniforms().u32(n).u32(k).bytes(),
      bindings: { 1: ctx.bind(KERNEL, scores), 2: ctx.bind(KERNEL, flags) },
      workgroups: [ceilDiv(n, 256)],
    });
  }
  ctx.dispatch({
    kernel: `${KERNEL}Compact`,
    pipeline: ctx.pipeline(`${KERNEL}Compact`, compactSource),
    uniforms: new Uniforms().u32(n).u32(o.spanStart).u32(o.seqLen).bytes(),
    bindings: { 1: ctx.bind(KERNEL, flags), 2: ctx.bind(KERNEL, keep) },
    workgroups: [1],
  });
  flags.dispose();
  return keep;
}
