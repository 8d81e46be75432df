/**
 * What every pruning policy's hooks share: the bookkeeping a policy gets from its session, the
 * FitPrune statistics, pinned-row guarding and the CPU-side tracking of visual rows. Policies
 * live one per file (policy-*.ts) and are registered in policies.ts.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { attentionStats } from '../kernels/attention-stats';
import { elementwise } from '../kernels/elementwise';
import type { TokenLayout } from '../models/family';
import type { AttentionHookArgs, DecoderHooks } from '../models/hooks';
import type { PruningPolicy } from './policies';
import type { Recipe } from './recipe';

/**
 * FitPrune's statistics at a layer: per visual token, the head-max attention summed over the
 * visual rows (self) and over the text rows after the image (cross).
 */
export function fitpruneStats(ctx: GpuContext, a: AttentionHookArgs, span: { start: number; end: number }): { selfSum: Tensor; crossSum: Tensor } {
  return attentionStats(ctx, a.q, a.kCache, a.rowStats!, {
    kvLen: a.kvLen,
    causal: true,
    scale: a.scale,
    visStart: span.start,
    visEnd: span.end,
    selfRows: [span.start, span.end],
    crossRows: [span.end, a.seq.length],
  });
}

/** Removes k rows [span.start + j] chosen by `keep` from a sequence of T rows: new span. */
export function shrink(span: { start: number; end: number }, k: number): { start: number; end: number } | null {
  return span.end - k > span.start ? { start: span.start, end: span.end - k } : null;
}

/**
 * Scores over the span's columns with its pinned rows (tile markers) made +Infinity, so the
 * bottom-k never deletes them. Returns `score` itself when nothing is pinned.
 */
export function guardPinned(ctx: GpuContext, score: Tensor, seq: { pinned: Tensor | null; visualSpan: { start: number; end: number } | null }): Tensor {
  const span = seq.visualSpan;
  if (!seq.pinned || !span) return score;
  const n = span.end - span.start;
  const slice = ctx.empty([n], 'f32', 'pinnedSlice');
  ctx.copy(seq.pinned.buffer, span.start * 4, slice.buffer, 0, n * 4);
  const guarded = elementwise(ctx, score, slice, 'add');
  slice.dispose();
  return guarded;
}

/** Offsets 0..spanLength−1 that are not fixed rows. */
export function visualOffsets(spanLength: number, fixedOffsets: readonly number[]): number[] {
  const fixed = new Set(fixedOffsets);
  return Array.from({ length: spanLength }, (_, i) => i).filter((i) => !fixed.has(i));
}

/**
 * The span offsets (from the current span start) of the rows that are visual tokens, tracked on
 * the CPU by policies that choose their deletions on the CPU (random, calibration). Fixed rows
 * are never deleted, so the list shrinks only by what the policy itself removed.
 */
export class VisualRows {
  private current: number[];

  constructor(spanLength: number, fixedOffsets: readonly number[]) {
    this.current = visualOffsets(spanLength, fixedOffsets);
  }

  get count(): number {
    return this.current.length;
  }

  /** Span offsets of the visual rows left, ascending. */
  get offsets(): readonly number[] {
    return this.current;
  }

  /** Span offsets of the visual tokens at these indices (0..count−1, ascending), which are then removed. */
  take(indices: readonly number[]): number[] {
    const drop = new Set(indices);
    const rows = indices.map((j) => this.current[j]!);
    // Every later row moves up by the number of rows removed before it (offsets are ascending).
    const kept: number[] = [];
    let removed = 0;
    for (let j = 0; j < this.current.length; j++) {
      if (drop.has(j)) removed++;
      else kept.push(this.current[j]! - removed);
    }
    this.current = kept;
    return rows;
  }
}

export interface SessionOptions {
  numLayers: number;
  /** Visual tokens of the image (tile markers inside its region not counted). */
  visualTokens: number;
  /** Offsets inside the image's region that are tile markers (never pruned). */
  fixedOffsets?: readonly number[];
  recordIndices?: boolean;
  /** Each visual token's 2-D place, when the family reports it (spatial policies need it). */
  layout?: TokenLayout;
}

/** What a policy's hook factory gets: the session's bookkeeping and the options. */
export interface PolicyContext {
  ctx: GpuContext;
  o: SessionOptions;
  counts: (policy: { recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'> }) => number[];
  /** Notes a deletion of k visual tokens at a layer (−1: before the decoder) and the keep-list (for the report). */
  deleted: (layer: number, k: number, positions: Tensor, keep: Tensor, span: { start: number; end: number } | null) => void;
  /** Every hook calls it first: the session learns where the image's span started before any pruning. */
  noteStart: (a: { layer: number; seq: { visualSpan: { start: number; end: number } | null } }) => void;
}

export type HookFactory<P extends PruningPolicy> = (policy: P, c: PolicyContext) => DecoderHooks;

export const prefillSpan = (a: { phase: string; seq: { visualSpan: { start: number; end: number } | null } }) => (a.phase === 'prefill' ? a.seq.visualSpan : null);

