import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { checkAttentionInputs } from './attention';
import { ceilDiv, check, expectDtype, expectShape, outputTensor, Uniforms } from './common';
import source from './attention-stats.wgsl?raw';
import reduceSource from './attention-stats-reduce.wgsl?raw';

const KERNEL = 'attentionStats';
/** Query rows per workgroup tile: TILE in attention-stats.wgsl. */
const ROWS_PER_BLOCK = 8;

export interface AttentionStatsOptions {
  kvLen: number;
  causal: boolean;
  scale?: number;
  /** Visual key columns [visStart, visEnd) in cache indices. */
  visStart: number;
  visEnd: number;
  /** Query rows (of q) whose attention forms selfSum: FitPrune's visual rows. */
  selfRows: readonly [number, number];
  /** Query rows whose attention forms crossSum: FitPrune's text rows after the image. */
  crossRows: readonly [number, number];
  selfSum?: Tensor;
  crossSum?: Tensor;
}

/**
 * FitPrune's per-token statistics at one layer: for each visual column j,
 * selfSum[j] = Σ_{t ∈ selfRows} max_h p_h(t, visStart + j) and crossSum[j] likewise over
 * crossRows, with p the normalised (causal) attention probabilities rebuilt from q, the K
 * cache and attention()'s rowStats. Empty row ranges give zeros.
 */
export function attentionStats(
  ctx: GpuContext,
  q: Tensor,
  kCache: Tensor,
  rowStats: Tensor,
  o: AttentionStatsOptions,
): { selfSum: Tensor; crossSum: Tensor } {
  const s = checkAttentionInputs(KERNEL, q, kCache, o.kvLen, o.causal);
  expectDtype(KERNEL, 'rowStats', rowStats, ['f32']);
  expectShape(KERNEL, 'rowStats', rowStats, [s.Tq, s.Hq, 2]);
  check(KERNEL, Number.isInteger(o.visStart) && o.visStart >= 0 && o.visEnd > o.visStart && o.visEnd <= o.kvLen, () => `visual span [${o.visStart}, ${o.visEnd}) must be non-empty and inside the ${o.kvLen} cached keys`);
  for (const [name, [a, b]] of [['selfRows', o.selfRows], ['crossRows', o.crossRows]] as const) {
    check(KERNEL, Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b <= s.Tq, () => `${name} [${a}, ${b}) must lie within the ${s.Tq} query rows`);
  }
  const nVis = o.visEnd - o.visStart;
  const selfSum = outputTensor(ctx, KERNEL, [nVis], 'f32', o.selfSum);
  const crossSum = outputTensor(ctx, KERNEL, [nVis], 'f32', o.crossSum);
  const scale = o.scale ?? 1 / Math.sqrt(s.D);
  const pipeline = ctx.pipeline(KERNEL, source);
  const reduce = ctx.pipeline(`${KERNEL}Reduce`, reduceSource);
  for (const [rows, out] of [[o.selfRows, selfSum], [o.crossRows, crossSum]] as const) {
    const count = rows[1] - rows[0];
    const blocks = Math.max(1, ceilDiv(count, ROWS_PER_BLOCK));
    const partial = ctx.empty([blocks, nVis], 'f32', 'statsPartial');
    if (count === 0) {
      ctx.fill(partial, 0);
    } else {
      ctx.dispatch({
        kernel: KERNEL,
        pipeline,
        uniforms: new Uniforms()
          .u32(s.Tq).u32(s.Hq).u32(s.Hkv).u32(s.D).u32(o.kvLen).u32(o.causal ? 1 : 0).f32(scale)
          .u32(o.visStart).u32(nVis).u32(rows[0]).u32(count)
          .bytes(),
        bindings: { 1: ctx.bind(KERNEL, q), 2: ctx.bind(KERNEL, kCache), 3: ctx.bind(KERNEL, rowStats), 4: ctx.bind(KERNEL, partial) },
        workgroups: [ceilDiv(nVis, 64), blocks],
      });
    }
    ctx.dispatch({
      kernel: `${KERNEL}Reduce`,
      pipeline: reduce,
      uniforms: new Uniforms().u32(nVis).u32(blocks).bytes(),
      bindings: { 1: ctx.bind(KERNEL, partial), 2: ctx.bind(KERNEL, out) },
      workgroups: [ceilDiv(nVis, 64)],
    });
    partial.dispose();
  }
  return { selfSum, crossSum };
}
