import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { checkAttentionInputs } from './attention';
import { ceilDiv, check, expectDtype, expectShape, outputTensor, Uniforms } from './common';
import source from './head-mean-attention.wgsl?raw';

const KERNEL = 'headMeanAttention';

/**
 * Mean over query heads of the attention probabilities of one query row over key columns
 * [colStart, colEnd): FastV's ranking signal. Uses attention()'s rowStats.
 */
export function headMeanAttention(
  ctx: GpuContext,
  q: Tensor,
  kCache: Tensor,
  rowStats: Tensor,
  o: { kvLen: number; causal: boolean; scale?: number; row: number; colStart: number; colEnd: number; out?: Tensor },
): Tensor {
  const s = checkAttentionInputs(KERNEL, q, kCache, o.kvLen, o.causal);
  expectDtype(KERNEL, 'rowStats', rowStats, ['f32']);
  expectShape(KERNEL, 'rowStats', rowStats, [s.Tq, s.Hq, 2]);
  check(KERNEL, Number.isInteger(o.row) && o.row >= 0 && o.row < s.Tq, () => `row ${o.row} is not one of the ${s.Tq} query rows`);
  check(KERNEL, o.colStart >= 0 && o.colEnd > o.colStart && o.colEnd <= o.kvLen, () => `columns [${o.colStart}, ${o.colEnd}) must be non-empty and inside the ${o.kvLen} cached keys`);
  const n = o.colEnd - o.colStart;
  const out = outputTensor(ctx, KERNEL, [n], 'f32', o.out);
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source),
    uniforms: new Uniforms()
      .u32(s.Tq).u32(s.Hq).u32(s.Hkv).u32(s.D).u32(o.kvLen).u32(o.causal ? 1 : 0).f32(o.scale ?? 1 / Math.sqrt(s.D))
      .u32(o.row).u32(o.colStart).u32(n)
      .bytes(),
    bindings: { 1: ctx.bind(KERNEL, q), 2: ctx.bind(KERNEL, kCache), 3: ctx.bind(KERNEL, rowStats), 4: ctx.bind(KERNEL, out) },
    workgroups: [ceilDiv(n, 64)],
  });
  return out;
}
