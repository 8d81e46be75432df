/**
 * A FitPrune recipe: how many visual tokens to delete at each decoder layer, fitted for one
 * model under a FLOPs budget. Stored as a versioned JSON document that names the model (id and
 * a fingerprint of its config) so a recipe is never applied to a model it was not made for.
 */
import type { ModelInfo } from '../models/family';
import { architectureFlops, referenceFlops } from './flops';

export const RECIPE_FORMAT = 'fitprune-web/recipe';
/**
 * 2: `budget` is the fraction of reference FLOPs KEPT (as everywhere else). Version 1 stored the
 * fraction removed; parseRecipe migrates it (the only place that flips it).
 */
export const RECIPE_VERSION = 2;

export interface Recipe {
  format: typeof RECIPE_FORMAT;
  version: typeof RECIPE_VERSION;
  model: { id: string; fingerprint: string; layers: number; hiddenSize: number; intermediateSize: number };
  /** Visual tokens per image the counts were fitted for (N_ref). */
  referenceVisualTokens: number;
  /** Fraction of the reference-convention FLOPs kept that the search aimed for (0–1). */
  budget: number | null;
  alpha: number | null;
  calibration: { samples: number; source: string; seconds: number; searchSteps: number } | null;
  /** Visual tokens deleted at each layer (incremental, length = layers). */
  counts: number[];
  flops: {
    /** FitPrune's convention: visual tokens only, multiply-accumulates, d and m from the config. */
    reference: { ratio: number; macs: number; baselineMacs: number };
    /** The whole prefill (text tokens, GQA, vision tower, projector), FLOPs, for a one-image prompt. */
    architecture: { ratio: number; flops: number; baselineFlops: number; promptTokens: number } | null;
  };
  createdAt: string;
}

export class RecipeError extends Error {
  override readonly name = 'RecipeError';
}

/** What a recipe reads of the model it is for (a loaded model's ModelInfo has it all). */
export type RecipeModel = Pick<ModelInfo, 'fingerprint' | 'flops' | 'imageTokens' | 'textLayers'>;

export function makeRecipe(
  model: RecipeModel,
  modelId: string,
  counts: number[],
  o: { budget?: number | null; alpha?: number | null; calibration?: Recipe['calibration']; promptTokens?: number; referenceVisualTokens?: number } = {},
): Recipe {
  const L = model.textLayers;
  if (counts.length !== L) {
    throw new RecipeError(`a recipe needs ${L} per-layer counts for this model, got ${counts.length}`);
  }
  const N = o.referenceVisualTokens ?? model.imageTokens;
  const t = model.flops.text;
  const ref = referenceFlops(t, N, counts);
  const promptTokens = o.promptTokens ?? N + 32;
  const arch = architectureFlops(model.flops, promptTokens, N, counts);
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    model: { id: modelId, fingerprint: model.fingerprint, layers: L, hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize },
    referenceVisualTokens: N,
    budget: o.budget ?? null,
    alpha: o.alpha ?? null,
    calibration: o.calibration ?? null,
    counts: [...counts],
    flops: {
      reference: { ratio: ref.ratio, macs: ref.macs, baselineMacs: ref.baselineMacs },
      architecture: { ratio: arch.ratio, flops: arch.flops, baselineFlops: arch.baselineFlops, promptTokens },
    },
    createdAt: new Date().toISOString(),
  };
}

/** Imports the seed paper's released per-layer arrays (e.g. LLaVA-1.5-7B "reduction 60"). */
export function recipeFromReleasedCounts(model: RecipeModel, modelId: string, counts: number[], referenceVisualTokens = model.imageTokens): Recipe {
  const r = makeRecipe(model, modelId, counts);
  return { ...r, referenceVisualTokens };
}

/** Parses, migrates (version 1 → 2) and validates a recipe for `model`; every refusal says why. */
export function parseRecipe(json: unknown, model: Pick<RecipeModel, 'fingerprint' | 'textLayers'>): Recipe {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      throw new RecipeError(`the recipe is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  const r = json as Partial<Recipe> | null;
  if (!r || typeof r !== 'object') throw new RecipeError('the recipe must be a JSON object');
  if (r.format !== RECIPE_FORMAT) throw new RecipeError(`not a fitprune-web recipe (format ${JSON.stringify(r.format)}, expected "${RECIPE_FORMAT}")`);
  if ((r.version as number) === 1) {
    // Version 1 stored the fraction of FLOPs removed; everything now speaks of the fraction kept.
    const removed = (r as { budget?: unknown }).budget;
    (r as { budget: number | null }).budget = typeof removed === 'number' ? 1 - removed : null;
    (r as { version: number }).version = RECIPE_VERSION;
  }
  if (r.version !== RECIPE_VERSION) throw new RecipeError(`recipe version ${String(r.version)} is not supported (expected 1 or ${RECIPE_VERSION})`);
  if (!Array.isArray(r.counts) || !r.counts.every((k) => Number.isInteger(k) && k >= 0)) {
    throw new RecipeError('recipe "counts" must be a list of non-negative integers');
  }
  if (!r.model || typeof r.model !== 'object') throw new RecipeError('recipe "model" is missing');
  if (r.counts.length !== model.textLayers || r.model.layers !== model.textLayers) {
    throw new RecipeError(`the recipe is for a ${r.model.layers ?? r.counts.length}-layer model; this model has ${model.textLayers} layers`);
  }
  const fp = model.fingerprint;
  if (r.model.fingerprint !== fp) {
    throw new RecipeError(`the recipe was made for another model ("${r.model.id}", config fingerprint ${r.model.fingerprint}); this model's fingerprint is ${fp}`);
  }
  if (!Number.isInteger(r.referenceVisualTokens) || (r.referenceVisualTokens ?? 0) <= 0) {
    throw new RecipeError('recipe "referenceVisualTokens" must be a positive integer');
  }
  return r as Recipe;
}

/** Counts for an input with N visual tokens: floor(k·N/N_ref) per layer. */
export function rescaleCounts(recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'>, visualTokens: number): number[] {
  if (visualTokens === recipe.referenceVisualTokens) return [...recipe.counts];
  return recipe.counts.map((k) => Math.floor((k * visualTokens) / recipe.referenceVisualTokens));
}
