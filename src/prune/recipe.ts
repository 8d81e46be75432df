/**
 * A FitPrune recipe: how many visual tokens to delete at each decoder layer, fitted for one
 * model under a FLOPs budget. Stored as a versioned JSON document that names the model (id and
 * a fingerprint of its config) so a recipe is never applied to a model it was not made for.
 */
import type { LlavaConfig } from '../models/config';
import { architectureFlops, referenceFlops, type ArchitectureShape } from './flops';

export const RECIPE_FORMAT = 'fitprune-web/recipe';
export const RECIPE_VERSION = 1;

export interface Recipe {
  format: typeof RECIPE_FORMAT;
  version: typeof RECIPE_VERSION;
  model: { id: string; fingerprint: string; layers: number; hiddenSize: number; intermediateSize: number };
  /** Visual tokens per image the counts were fitted for (N_ref). */
  referenceVisualTokens: number;
  /** Fraction of the reference-convention FLOPs removed that the search aimed for (0–1). */
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

/** FNV-1a over the config fields that decide the forward pass: same fingerprint, same model. */
export function configFingerprint(config: LlavaConfig): string {
  const t = config.text;
  const v = config.vision;
  const key = JSON.stringify([
    config.modelType,
    [t.hiddenSize, t.intermediateSize, t.numLayers, t.numHeads, t.numKvHeads, t.headDim, t.vocabSize, t.ropeTheta],
    [v.hiddenSize, v.intermediateSize, v.numLayers, v.numHeads, v.imageSize, v.patchSize],
    config.visionFeatureLayer,
    config.visionFeatureSelectStrategy,
    config.imageTokenIndex,
  ]);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function architectureShape(config: LlavaConfig): ArchitectureShape {
  const t = config.text;
  const v = config.vision;
  const layersRun = config.visionFeatureLayer < 0 ? v.numLayers + 1 + config.visionFeatureLayer : config.visionFeatureLayer;
  const patches = (v.imageSize / v.patchSize) ** 2;
  return {
    text: { hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize, numLayers: t.numLayers, numHeads: t.numHeads, numKvHeads: t.numKvHeads, headDim: t.headDim, vocabSize: t.vocabSize },
    vision: { hiddenSize: v.hiddenSize, intermediateSize: v.intermediateSize, layersRun, tokens: patches + 1, patchInputs: v.numChannels * v.patchSize ** 2 },
    projector: { inputSize: v.hiddenSize, hiddenSize: t.hiddenSize, outputSize: t.hiddenSize, tokens: config.imageTokens },
  };
}

export function makeRecipe(
  config: LlavaConfig,
  modelId: string,
  counts: number[],
  o: { budget?: number | null; alpha?: number | null; calibration?: Recipe['calibration']; promptTokens?: number } = {},
): Recipe {
  if (counts.length !== config.text.numLayers) {
    throw new RecipeError(`a recipe needs ${config.text.numLayers} per-layer counts for this model, got ${counts.length}`);
  }
  const N = config.imageTokens;
  const ref = referenceFlops({ hiddenSize: config.text.hiddenSize, intermediateSize: config.text.intermediateSize, numLayers: config.text.numLayers }, N, counts);
  const promptTokens = o.promptTokens ?? N + 32;
  const arch = architectureFlops(architectureShape(config), promptTokens, N, counts);
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    model: { id: modelId, fingerprint: configFingerprint(config), layers: config.text.numLayers, hiddenSize: config.text.hiddenSize, intermediateSize: config.text.intermediateSize },
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
export function recipeFromReleasedCounts(config: LlavaConfig, modelId: string, counts: number[], referenceVisualTokens = config.imageTokens): Recipe {
  const r = makeRecipe(config, modelId, counts);
  return { ...r, referenceVisualTokens };
}

/** Parses and validates a recipe for `config`; every refusal says why. */
export function parseRecipe(json: unknown, config: LlavaConfig): Recipe {
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
  if (r.version !== RECIPE_VERSION) throw new RecipeError(`recipe version ${String(r.version)} is not supported (expected ${RECIPE_VERSION})`);
  if (!Array.isArray(r.counts) || !r.counts.every((k) => Number.isInteger(k) && k >= 0)) {
    throw new RecipeError('recipe "counts" must be a list of non-negative integers');
  }
  if (!r.model || typeof r.model !== 'object') throw new RecipeError('recipe "model" is missing');
  if (r.counts.length !== config.text.numLayers || r.model.layers !== config.text.numLayers) {
    throw new RecipeError(`the recipe is for a ${r.model.layers ?? r.counts.length}-layer model; this model has ${config.text.numLayers} layers`);
  }
  const fp = configFingerprint(config);
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
