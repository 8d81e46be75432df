import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { check, expectDtype, expectShape, outputTensor, Uniforms, workgroupGrid } from './common';
import tiledSource from './attention-tiled.wgsl?raw';
import source from './attention.wgsl?raw';

const KERNEL = 'attention';

/** Largest head dimension the kernels support (workgroup buffers are sized for it). */
export const MAX_HEAD_DIM = 256;

export interface AttentionOptions {
  /** Valid rows of the cache (this step's keys included). */
  kvLen: number;
  causal: boolean;
  /** Default 1/√D. */
  scale?: number;
  out?: Tensor;
  /** f32 [Tq, Hq, 2]: receives (row max of scaled scores, Σ exp(score − max)) per row and head. */
  rowStats?: Tensor | null;
  /**
   * 'auto': the tiled kernel (16 query rows share each K/V tile) for prefill with head dims
   * that are multiples of 4 up to 128, the row-wise kernel otherwise (decode, odd dims).
   */
  path?: 'auto' | 'tiled' | 'rowwise';
}

/** Whether the tiled prefill kernel handles this shape. */
export function tiledAttentionFits(Tq: number, D: number): boolean {
  return Tq >= 8 && D % 4 === 0 && D <= 128;
}

export interface AttentionShape {
  Tq: number;
  Hq: number;
  Hkv: number;
  D: number;
  capacity: number;
}

/** Shared input checks of the attention family (attention, statistics, head-mean). */
export function checkAttentionInputs(kernel: string, q: Tensor, k: Tensor, kvLen: number, causal: boolean): AttentionShape {
  expectDtype(kernel, 'q', q, ['f32']);
  expectDtype(kernel, 'kCache', k, ['f32']);
  check(kernel, q.shape.length === 3, () => `q must be [Tq, Hq, D], got ${q.describe()}`);
  check(kernel, k.shape.length === 3, () => `kCache must be [capacity, Hkv, D], got ${k.describe()}`);
  const [Tq, Hq, D] = q.shape as [number, number, number];
  const [capacity, Hkv, Dk] = k.shape as [number, number, number];
  check(kernel, D === Dk, () => `q head dim ${D} differs from the cache's ${Dk}`);
  check(kernel, D <= MAX_HEAD_DIM, () => `head dim ${D} exceeds the supported ${MAX_HEAD_DIM}`);
  check(kernel, Hq % Hkv === 0, () => `query heads ${Hq} are not a multiple of KV heads ${Hkv}`);
  check(kernel, Number.isInteger(kvLen) && kvLen >= 1 && kvLen <= capacity, () => `kvLen ${kvLen} must be in [1, ${capacity}] (the cache capacity)`);
  check(kernel, !causal || kvLen >= Tq, () => `causal attention needs kvLen ≥ Tq (${kvLen} < ${Tq}): the queries' own keys must be in the cache`);
  return { Tq, Hq, Hkv, D, capacity };
}

/**
 * softmax(scale·q·kᵀ)·v over rows [0, kvLen) of a KV cache. q f32 [Tq, Hq, D]; caches f32
 * [capacity, Hkv, D] (grouped-query when Hkv < Hq). Returns f32 [Tq, Hq, D].
 */
export function attention(ctx: GpuContext, q: Tensor, kCache: Tensor, vCache: Tensor, options: AttentionOptions): Tensor {
  const s = checkAttentionInputs(KERNEL, q, kCache, options.kvLen, options.causal);
  expectDtype(KERNEL, 'vCache', vCache, ['f32']);
  expectShape(KERNEL, 'vCache', vCache, kCache.shape);
  if (options.rowStats) {
    expectDtype(KERNEL, 'rowStats', options.rowStats, ['f32']);
    expectShape(KERNEL, 'rowStats', options.rowStats, [s.Tq, s.Hq, 2]);
  }
  const out = outputTensor(ctx, KERNEL, [s.Tq, s.Hq, s.D], 'f32', options.out);
  const scale = options.scale ?? 1 / Math.sqrt(s.D);
  const path = options.path ?? 'auto';
  const tiled = path === 'tiled' || (path === 'auto' && tiledAttentionFits(s.Tq, s.D));
  const bindings = {
    1: ctx.bind(KERNEL, q),
    2: ctx.bind(KERNEL, kCache),
    3: ctx.bind(KERNEL, vCache),
    4: ctx.bind(KERNEL, out),
    5: options.rowStats ? ctx.bind(KERNEL, options.rowStats) : undefined,
  };
  if (tiled) {
    check(KERNEL, s.D % 4 === 0 && s.D <= 128, () => `the tiled path needs a head dim that is a multiple of 4 up to 128, got ${s.D}`);
    const blocks = Math.ceil(s.Tq / 16);
    ctx.dispatch({
      kernel: `${KERNEL}Tiled`,
      pipeline: ctx.pipeline(`${KERNEL}Tiled`, tiledSource, { ROW_STATS: Boolean(options.rowStats), HEAD_DIM: s.D }),
      uniforms: new Uniforms().u32(s.Tq).u32(s.Hq).u32(s.Hkv).u32(options.kvLen).u32(options.causal ? 1 : 0).f32(scale).u32(blocks).bytes(),
      bindings,
      workgroups: [blocks, s.Hq],
    });
    return out;
  }
  const [gx, gy] = workgroupGrid(ctx, s.Tq * s.Hq);
  ctx.dispatch({
    kernel: KERNEL,
    pipeline: ctx.pipeline(KERNEL, source, { ROW_STATS: Boolean(options.rowStats) }),
    uniforms: new Uniforms().u32(s.Tq).u32(s.Hq).u32(s.Hkv).u32(s.D).u32(options.kvLen).u32(options.causal ? 1 : 0).f32(scale).u32(gx).bytes(),
    bindings,
    workgroups: [gx, gy],
  });
  return out;
}
