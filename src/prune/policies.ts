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
import { gatherRows } from '../kernels/gather-rows';
import type { DecoderHooks } from '../models/hooks';
import { quoteValue } from '../util/quote';
import { countedPolicy } from './policy-counted';
import { fastvPolicy } from './policy-fastv';
import type { HookFactory, PolicyContext, SessionOptions } from './policy-kit';
import { RecipeError, rescaleCounts, type Recipe } from './recipe';

export { fitpruneStats, guardPinned, visualOffsets, VisualRows, type SessionOptions } from './policy-kit';

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
  /** Visual tokens removed before layer 0 by a vision-side policy (no layer saw them). */
  deletedBeforeDecoder: number;
  /** Visual tokens left after each layer. */
  keptPerLayer: number[];
  /** For each layer, the original indices (0..N−1) of the visual tokens left after it. */
  keptIndices?: number[][];
  /** The original indices of the visual tokens that entered layer 0 (all N unless a vision-side policy chose). */
  keptBeforeDecoder?: number[];
}

export interface PruningSession {
  hooks: DecoderHooks | null;
  /** Resolve after the prefill: reads back kept indices when they were recorded. */
  report(): Promise<PruningReport>;
}

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
  let deletedBefore = 0;
  const recorded = new Map<number, { positions: Tensor; count: number; spanStartPosition: number }>();
  let originalSpanStart = -1;

  const report = async (): Promise<PruningReport> => {
    const keptPerLayer: number[] = [];
    let n = N - deletedBefore;
    for (const k of deleted) keptPerLayer.push((n -= k));
    const result: PruningReport = { policy: policy.kind, visualTokens: N, deleted: [...deleted], deletedBeforeDecoder: deletedBefore, keptPerLayer };
    if (o.recordIndices) {
      // Region offset → visual-token index (tile markers map to nothing).
      const visualIndex = new Map<number, number>();
      for (let off = 0, i = 0; i < N; off++) if (!fixed.has(off)) visualIndex.set(off, i++);
      let current = Array.from({ length: N }, (_, i) => i);
      result.keptIndices = [];
      // Layer −1: what a vision-side policy removed before layer 0.
      for (let l = -1; l < L; l++) {
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
        if (l >= 0) result.keptIndices.push(current);
        else result.keptBeforeDecoder = current;
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
      if (layer < 0) deletedBefore = k;
      else deleted[layer] = k;
      if (!o.recordIndices) return;
      if (!span) recorded.set(layer, { positions: ctx.empty([1], 'u32'), count: 0, spanStartPosition: 0 });
      else recorded.set(layer, { positions: gatherRows(ctx, positions, keep), count: span.end - span.start, spanStartPosition: span.start });
    },
    noteStart: (a) => {
      // Positions are row indices before any pruning; the first hook to run (before the decoder or at layer 0) sees the span unpruned.
      if (originalSpanStart < 0 && a.layer === 0 && a.seq.visualSpan) originalSpanStart = a.seq.visualSpan.start;
    },
  };
  const factory = POLICIES[policy.kind] as HookFactory<PruningPolicy>;
  return { hooks: factory(policy, c), report };
}
