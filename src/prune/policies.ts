/**
 * Pruning policies as decoder hooks. Each decides, during prefill only, how many visual tokens
 * to drop at which layer and which ones; the decoder does the dropping (gathering the attention
 * output, the residual stream and the original position ids; each layer's KV cache keeps the
 * rows it saw). No policy forks the model code.
 *   none      no hooks: the plain forward, bit for bit
 *   fitprune  recipe counts; per example, rank visual tokens by cross·self head-max attention
 *   fastv     at layer K, rank by layer K−1's head-mean attention of the last prompt token, drop R
 *   random    the same counts as a recipe, tokens drawn uniformly (seeded): the control
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { attentionStats } from '../kernels/attention-stats';
import { bottomKKeep } from '../kernels/bottomk-select';
import { elementwise } from '../kernels/elementwise';
import { gatherRows } from '../kernels/gather-rows';
import { headMeanAttention } from '../kernels/head-mean-attention';
import type { AttentionHookArgs, DecoderHooks, KeepRows } from '../models/hooks';
import { keepAllBut } from '../util/bytes';
import { quoteValue } from '../util/quote';
import { Rng } from '../util/random';
import { RecipeError, rescaleCounts, type Recipe } from './recipe';

export type PruningPolicy =
  | { kind: 'none' }
  | { kind: 'fitprune'; recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'> }
  | { kind: 'fastv'; layer: number; ratio: number }
  | { kind: 'random'; recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'>; seed: number };

/** A pruning policy that is not one (unknown kind, fields of the wrong type or range). */
export class PruningPolicyError extends Error {
  override readonly name = 'PruningPolicyError';
}

const POLICY_KINDS = ['none', 'fitprune', 'fastv', 'random'] as const;
/** Seeds are 32-bit (Rng keeps seed >>> 0): a larger or fractional one would silently become another. */
const MAX_SEED = 2 ** 32 - 1;


/**
 * Checks what a policy can be checked for without the model (its kind and the types and ranges
 * of its fields), so a malformed one is refused by name before any work. What depends on the
 * model (FastV's K below the layer count, the counts' length) is checked by pruningSession.
 */
export function checkPruningPolicy(policy: unknown): asserts policy is PruningPolicy {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new PruningPolicyError(`request.pruning must be an object { kind: ${POLICY_KINDS.map((k) => `"${k}"`).join(' | ')}, … }; got ${quoteValue(policy)}`);
  }
  const p = policy as Record<string, unknown>;
  const kind = p['kind'];
  if (typeof kind !== 'string' || !(POLICY_KINDS as readonly string[]).includes(kind)) {
    throw new PruningPolicyError(`request.pruning.kind must be one of ${POLICY_KINDS.map((k) => `"${k}"`).join(', ')}; got ${quoteValue(kind)}`);
  }
  if (kind === 'fastv') {
    const K = p['layer'];
    if (typeof K !== 'number' || !Number.isInteger(K) || K < 1) throw new PruningPolicyError(`request.pruning.layer (FastV's K) must be an integer ≥ 1 (and below the model's layer count); got ${quoteValue(K)}`);
    const R = p['ratio'];
    if (typeof R !== 'number' || !(R >= 0 && R <= 1)) throw new PruningPolicyError(`request.pruning.ratio (FastV's R, the fraction of visual tokens dropped) must be a number in [0, 1]; got ${quoteValue(R)}`);
  }
  if (kind === 'fitprune' || kind === 'random') {
    const recipe = p['recipe'];
    if (typeof recipe !== 'object' || recipe === null || Array.isArray(recipe)) {
      throw new PruningPolicyError(`request.pruning.recipe (${kind}) must be an object { counts, referenceVisualTokens } (a parsed recipe); got ${quoteValue(recipe)}`);
    }
    rescaleCounts(recipe as Pick<Recipe, 'counts' | 'referenceVisualTokens'>, 0); // refuses counts and N_ref that are not counts, naming them
  }
  if (kind === 'random') {
    const seed = p['seed'];
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new PruningPolicyError(`request.pruning.seed (random) must be an integer in [0, ${MAX_SEED}]; got ${quoteValue(seed)}`);
    }
  }
}

/** What a pruned prefill did, for the result and the heatmaps. */
export interface PruningReport {
  policy: PruningPolicy['kind'];
  visualTokens: number;
  /** Visual tokens deleted at each layer (as applied, after rescaling and clamping). */
  deleted: number[];
  /** Visual tokens left after each layer. */
  keptPerLayer: number[];
  /** For each layer, the original indices (0..N−1) of the visual tokens left after it. */
  keptIndices?: number[][];
}

export interface PruningSession {
  hooks: DecoderHooks | null;
  /** Resolve after the prefill: reads back kept indices when they were recorded. */
  report(): Promise<PruningReport>;
}

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
function shrink(span: { start: number; end: number }, k: number): { start: number; end: number } | null {
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
}

/** What a policy's hook factory gets: the session's bookkeeping and the options. */
interface PolicyContext {
  ctx: GpuContext;
  o: SessionOptions;
  counts: (policy: { recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'> }) => number[];
  /** Notes a deletion of k visual tokens at a layer and the keep-list (for the report). */
  deleted: (layer: number, k: number, positions: Tensor, keep: Tensor, span: { start: number; end: number } | null) => void;
  noteStart: (a: AttentionHookArgs) => void;
}

type HookFactory<P extends PruningPolicy> = (policy: P, c: PolicyContext) => DecoderHooks;

const prefillSpan = (a: { phase: string; seq: { visualSpan: { start: number; end: number } | null } }) => (a.phase === 'prefill' ? a.seq.visualSpan : null);

/** FitPrune and random: the recipe's counts per layer, tokens ranked on the GPU or drawn on the CPU. */
const countedPolicy: HookFactory<Extract<PruningPolicy, { kind: 'fitprune' | 'random' }>> = (policy, c) => {
  const { ctx } = c;
  const counts = c.counts(policy);
  const rng = policy.kind === 'random' ? new Rng(policy.seed) : null;
  // Random draws on the CPU, so it tracks where the visual rows are; FitPrune ranks on the
  // GPU and only needs how many are left.
  let rows: VisualRows | null = null;
  let left = -1;
  return {
    wantsRowStats: (l, phase) => policy.kind === 'fitprune' && phase === 'prefill' && counts[l]! > 0,
    afterAttention: (a): KeepRows | void => {
      c.noteStart(a);
      const span = prefillSpan(a);
      if (!span) return;
      if (left < 0) {
        rows = rng ? new VisualRows(span.end - span.start, a.seq.fixedOffsets) : null;
        left = span.end - span.start - a.seq.fixedOffsets.length;
      }
      const k = Math.min(counts[a.layer]!, left);
      if (k === 0) return;
      left -= k;
      const T = a.seq.length;
      let keep: Tensor;
      if (rng && rows) {
        const drop = new Set(rows.take(rng.sortedSubset(rows.count, k)).map((j) => span.start + j));
        keep = ctx.upload(keepAllBut(T, drop), [T - k], 'u32', 'keep');
      } else {
        const { selfSum, crossSum } = fitpruneStats(ctx, a, span);
        // cross (a sum over text rows) × self (a mean would only rescale: same ranking).
        const score = elementwise(ctx, crossSum, selfSum, 'mul');
        const guarded = guardPinned(ctx, score, a.seq);
        keep = bottomKKeep(ctx, guarded, k, { spanStart: span.start, seqLen: T });
        for (const t of new Set([selfSum, crossSum, score, guarded])) t.dispose();
      }
      const visualSpan = shrink(span, k);
      c.deleted(a.layer, k, a.seq.positions, keep, visualSpan);
      return { keep, keptCount: T - k, visualSpan };
    },
  };
};

/** FastV: scores from layer K−1's attention, tokens dropped after layer K−1 (before layer K). */
const fastvPolicy: HookFactory<Extract<PruningPolicy, { kind: 'fastv' }>> = (policy, c) => {
  const { ctx } = c;
  const L = c.o.numLayers;
  const { layer: K, ratio: R } = policy;
  if (!Number.isInteger(K) || K < 1 || K >= L) throw new PruningPolicyError(`request.pruning.layer (FastV's K) must be an integer in [1, ${L - 1}] for this ${L}-layer model; got ${quoteValue(K)}`);
  if (!(R >= 0 && R <= 1)) throw new PruningPolicyError(`request.pruning.ratio (FastV's R) must be a number in [0, 1]; got ${quoteValue(R)}`);
  let scores: Tensor | null = null;
  return {
    wantsRowStats: (l, phase) => phase === 'prefill' && l === K - 1,
    afterAttention: (a) => {
      c.noteStart(a);
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1) return;
      scores = headMeanAttention(ctx, a.q, a.kCache, a.rowStats!, { kvLen: a.kvLen, causal: true, scale: a.scale, row: a.seq.length - 1, colStart: span.start, colEnd: span.end });
    },
    afterLayer: (a): KeepRows | void => {
      const span = prefillSpan(a);
      if (!span || a.layer !== K - 1 || !scores) return;
      const n = span.end - span.start - a.seq.fixedOffsets.length;
      const k = Math.floor(R * n);
      const guarded = guardPinned(ctx, scores, a.seq);
      const keep = bottomKKeep(ctx, guarded, k, { spanStart: span.start, seqLen: a.seq.length });
      for (const t of new Set([scores, guarded])) t.dispose();
      scores = null;
      const visualSpan = shrink(span, k);
      c.deleted(a.layer, k, a.seq.positions, keep, visualSpan);
      return { keep, keptCount: a.seq.length - k, visualSpan };
    },
  };
};

/** The registry of policies: kind → hook factory. `none` has no hooks (the plain forward, bit for bit). */
const POLICIES: { [K in Exclude<PruningPolicy['kind'], 'none'>]: HookFactory<Extract<PruningPolicy, { kind: K }>> } = {
  fitprune: countedPolicy,
  random: countedPolicy,
  fastv: fastvPolicy,
};

export function pruningSession(ctx: GpuContext, policy: PruningPolicy, o: SessionOptions): PruningSession {
  const L = o.numLayers;
  const N = o.visualTokens;
  const fixed = new Set(o.fixedOffsets ?? []);
  const deleted = new Array<number>(L).fill(0);
  const recorded = new Map<number, { positions: Tensor; count: number; spanStartPosition: number }>();
  let originalSpanStart = -1;

  const report = async (): Promise<PruningReport> => {
    const keptPerLayer: number[] = [];
    let n = N;
    for (const k of deleted) keptPerLayer.push((n -= k));
    const result: PruningReport = { policy: policy.kind, visualTokens: N, deleted: [...deleted], keptPerLayer };
    if (o.recordIndices) {
      // Region offset → visual-token index (tile markers map to nothing).
      const visualIndex = new Map<number, number>();
      for (let off = 0, i = 0; i < N; off++) if (!fixed.has(off)) visualIndex.set(off, i++);
      let current = Array.from({ length: N }, (_, i) => i);
      result.keptIndices = [];
      for (let l = 0; l < L; l++) {
        const r = recorded.get(l);
        if (r) {
          const pos = r.count > 0 ? ((await ctx.read(r.positions)) as Uint32Array) : new Uint32Array(0);
          current = [];
          for (const p of pos.subarray(r.spanStartPosition, r.spanStartPosition + r.count)) {
            const v = visualIndex.get(p - originalSpanStart);
            if (v !== undefined) current.push(v);
          }
          r.positions.dispose();
        }
        result.keptIndices.push(current);
      }
    }
    return result;
  };

  checkPruningPolicy(policy); // a policy built in code, not through a request, is checked too
  if (policy.kind === 'none' || N === 0) return { hooks: null, report };
  const c: PolicyContext = {
    ctx,
    o,
    // A recipe from a file was validated by parseRecipe (its counts fit N_ref, so the rescaled
    // ones fit N). A policy built in code may ask for more than is left: the counted policy then
    // deletes what is left, and the report says what it deleted. What is not a count is refused.
    counts: (p) => {
      const counts = rescaleCounts(p.recipe, N);
      if (counts.length !== L) throw new RecipeError(`the recipe has ${counts.length} per-layer counts; the model has ${L} layers (its "counts" needs one per layer)`);
      return counts;
    },
    deleted: (layer, k, positions, keep, span) => {
      deleted[layer] = k;
      if (!o.recordIndices) return;
      if (!span) recorded.set(layer, { positions: ctx.empty([1], 'u32'), count: 0, spanStartPosition: 0 });
      else recorded.set(layer, { positions: gatherRows(ctx, positions, keep), count: span.end - span.start, spanStartPosition: span.start });
    },
    noteStart: (a) => {
      if (a.layer === 0 && a.seq.visualSpan) originalSpanStart = a.seq.visualSpan.start; // positions = row indices before any pruning
    },
  };
  const factory = POLICIES[policy.kind] as HookFactory<PruningPolicy>;
  return { hooks: factory(policy, c), report };
}
