// The pruned side's policy from the page's settings: FitPrune and Random need the current
// recipe; FastV (K = 2) takes the ratio that fits the recipe's budget (or section 4's slider).
import type { ModelInfo } from '../engine/engine';
import { fastvRatioForBudget } from '../prune/evaluate';
import type { ReferenceFlopsModel } from '../prune/flops';
import type { PruningPolicy } from '../prune/policies';
import type { Recipe } from '../prune/recipe';

export type PolicyKind = 'fitprune' | 'fastv' | 'random';
export const FASTV_LAYER = 2;
export const RANDOM_SEED = 0;

/** The reference convention's model: the family's FLOPs shape says it (no config parsing here). */
export function referenceModel(info: ModelInfo): ReferenceFlopsModel {
  return info.flops.text;
}

/** Fraction of reference FLOPs a recipe keeps (what the search aimed for, else what it achieved). */
export function recipeKeep(r: Recipe): number {
  return r.budget ?? r.flops.reference.ratio;
}

export function buildPolicy(kind: PolicyKind, info: ModelInfo, recipe: Recipe | null, sliderKeep: number): { policy: PruningPolicy; label: string } | { error: string } {
  if (kind === 'fastv') {
    if (info.textLayers < FASTV_LAYER + 1) return { error: `FastV at K = ${FASTV_LAYER} needs a model with more than ${FASTV_LAYER} layers.` };
    const keep = recipe ? recipeKeep(recipe) : sliderKeep;
    const ratio = fastvRatioForBudget(referenceModel(info), info.imageTokens, keep, FASTV_LAYER);
    return {
      policy: { kind: 'fastv', layer: FASTV_LAYER, ratio },
      label: `FastV (K = ${FASTV_LAYER}, R = ${ratio.toFixed(2)}, for ${(keep * 100).toFixed(0)} % of FLOPs)`,
    };
  }
  if (!recipe) return { error: `${kind === 'fitprune' ? 'FitPrune' : 'Random'} needs a recipe: calibrate one in section 4 or upload one, or pick FastV.` };
  const r = { counts: recipe.counts, referenceVisualTokens: recipe.referenceVisualTokens };
  const pct = `${(recipe.flops.reference.ratio * 100).toFixed(0)} % of FLOPs`;
  return kind === 'fitprune'
    ? { policy: { kind: 'fitprune', recipe: r }, label: `FitPrune (recipe, ${pct})` }
    : { policy: { kind: 'random', recipe: r, seed: RANDOM_SEED }, label: `Random (recipe's counts, ${pct}, seed ${RANDOM_SEED})` };
}
