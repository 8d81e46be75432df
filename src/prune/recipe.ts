/**
 * A FitPrune recipe: how many visual tokens to delete at each decoder layer, fitted for one
 * model under a FLOPs budget. Stored as a versioned JSON document that names the model (id and
 * a fingerprint of its config) so a recipe is never applied to a model it was not made for.
 */
import type { ModelInfo } from '../models/family';
import { quoteValue } from '../util/quote';
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

/** Largest `referenceVisualTokens` a recipe may name (no image comes near it: 6,551 tokens is a big anyres one). */
export const MAX_REFERENCE_VISUAL_TOKENS = 1 << 20;
/** Relative tolerance between a recipe's stated FLOPs figures and those recomputed from its counts. */
export const FLOPS_TOLERANCE = 1e-6;
/** A recipe document larger than this is refused before parsing (one is a few hundred bytes per layer). */
export const MAX_RECIPE_CHARS = 5 * 2 ** 20;
const MAX_TEXT = 4096;
const MAX_PROMPT_TOKENS = 1 << 22;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
function refuse(field: string, rule: string, value: unknown): never {
  throw new RecipeError(`recipe "${field}" must be ${rule}; got ${quoteValue(value)}`);
}
const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
function text(field: string, v: unknown, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v.length > max) refuse(field, `a string of at most ${max} characters`, v);
  return v;
}
function nullableFraction(field: string, v: unknown, open: boolean, what: string): number | null {
  if (v === null) return null;
  const ok = isNum(v) && (open ? v > 0 && v < 1 : v >= 0 && v <= 1);
  if (!ok) refuse(field, `null or a number in ${open ? '(0, 1)' : '[0, 1]'} (${what})`, v);
  return v;
}
function checkReferenceTokens(v: unknown): number {
  if (!isInt(v, 1, MAX_REFERENCE_VISUAL_TOKENS)) {
    refuse('referenceVisualTokens', `an integer in [1, ${MAX_REFERENCE_VISUAL_TOKENS}] (the visual tokens per image the counts were fitted for)`, v);
  }
  return v;
}
/**
 * Per-layer counts for a recipe of `layers` layers fitted for N_ref visual tokens: integers in
 * [0, N_ref] whose sum is at most N_ref (a recipe never deletes more visual tokens than it was
 * fitted for; at run time floor(k·N/N_ref) then never deletes more than an image has).
 */
function checkCounts(v: unknown, layers: number, nRef: number): number[] {
  if (!Array.isArray(v) || v.length !== layers || !v.every((k) => isInt(k, 0, Number.MAX_SAFE_INTEGER))) {
    refuse('counts', `a list of ${layers} non-negative integers (visual tokens deleted at each layer)`, v);
  }
  const counts = v as number[];
  counts.forEach((k, l) => {
    if (k > nRef) refuse(`counts[${l}]`, `an integer in [0, ${nRef}]: layer ${l + 1} cannot delete more than the ${nRef} visual tokens the recipe is for ("referenceVisualTokens")`, k);
  });
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum > nRef) {
    throw new RecipeError(
      `recipe "counts" delete ${sum} visual tokens in all (${counts.join(', ')}), more than the ${nRef} the recipe is for ("referenceVisualTokens"); their sum must be in [0, ${nRef}]`,
    );
  }
  return [...counts];
}
function checkCalibration(v: unknown): Recipe['calibration'] {
  if (v === null) return null;
  if (!isObject(v)) refuse('calibration', 'null or an object { samples, source, seconds, searchSteps }', v);
  if (!isInt(v['samples'], 1, 1e9)) refuse('calibration.samples', 'an integer in [1, 1e9] (calibration images)', v['samples']);
  const source = text('calibration.source', v['source']);
  if (!isNum(v['seconds']) || v['seconds'] < 0) refuse('calibration.seconds', 'a finite number ≥ 0', v['seconds']);
  if (!isInt(v['searchSteps'], 0, 1e6)) refuse('calibration.searchSteps', 'an integer in [0, 1e6]', v['searchSteps']);
  return { samples: v['samples'], source, seconds: v['seconds'], searchSteps: v['searchSteps'] };
}
/** |a − b| ≤ tol·max(|a|, |b|) (both exactly 0 agree). */
const agrees = (stated: number, actual: number) => Math.abs(stated - actual) <= FLOPS_TOLERANCE * Math.max(Math.abs(stated), Math.abs(actual));

/** The FLOPs of `counts` at N_ref on `model`, in both conventions (what makeRecipe writes and parseRecipe checks). */
function recipeFlops(model: RecipeModel, nRef: number, counts: number[], promptTokens: number): Recipe['flops'] {
  const ref = referenceFlops(model.flops.text, nRef, counts);
  const arch = architectureFlops(model.flops, promptTokens, nRef, counts);
  return {
    reference: { ratio: ref.ratio, macs: ref.macs, baselineMacs: ref.baselineMacs },
    architecture: { ratio: arch.ratio, flops: arch.flops, baselineFlops: arch.baselineFlops, promptTokens },
  };
}

function checkNumbers(field: string, v: unknown, keys: readonly string[]): Record<string, number> {
  if (!isObject(v)) refuse(field, `an object { ${keys.join(', ')} }`, v);
  for (const k of keys) if (!isNum(v[k]) || v[k] < 0) refuse(`${field}.${k}`, 'a finite number ≥ 0', v[k]);
  return v as Record<string, number>;
}

/**
 * The stated FLOPs against the recomputed ones. The reference figures are the recipe's claim
 * (budgets are set in them) and must agree. The architecture figures of a version-1 file were
 * counted by an older formula (no tiles, a fixed projector): they are recomputed, not compared.
 */
function checkFlops(v: unknown, model: RecipeModel, nRef: number, counts: number[], fromVersion: number): Recipe['flops'] {
  if (!isObject(v)) refuse('flops', 'an object { reference, architecture } (the FLOPs the counts keep)', v);
  const stated = checkNumbers('flops.reference', v['reference'], ['ratio', 'macs', 'baselineMacs']);
  const a = v['architecture'];
  let promptTokens = nRef + 32;
  if (a !== null) {
    const arch = checkNumbers('flops.architecture', a, ['ratio', 'flops', 'baselineFlops', 'promptTokens']);
    if (!isInt(arch['promptTokens'], nRef, MAX_PROMPT_TOKENS)) {
      refuse('flops.architecture.promptTokens', `an integer in [${nRef}, ${MAX_PROMPT_TOKENS}] (a prompt holds the ${nRef} visual tokens)`, arch['promptTokens']);
    }
    promptTokens = arch['promptTokens'];
  }
  const actual = recipeFlops(model, nRef, counts, promptTokens);
  for (const k of ['ratio', 'macs', 'baselineMacs'] as const) {
    if (!agrees(stated[k]!, actual.reference[k])) {
      throw new RecipeError(
        `recipe "flops.reference.${k}" is ${stated[k]}, but its counts give ${actual.reference[k]} for ${nRef} visual tokens on this model ` +
          `(recomputed in the reference convention; they must agree within ${FLOPS_TOLERANCE} relative)`,
      );
    }
  }
  if (a === null) return { reference: actual.reference, architecture: null };
  if (fromVersion >= 2) {
    const arch = a as Record<string, number>;
    for (const k of ['ratio', 'flops', 'baselineFlops'] as const) {
      if (!agrees(arch[k]!, actual.architecture![k])) {
        throw new RecipeError(
          `recipe "flops.architecture.${k}" is ${arch[k]}, but its counts give ${actual.architecture![k]} for a ${promptTokens}-token prompt on this model ` +
            `(recomputed; they must agree within ${FLOPS_TOLERANCE} relative)`,
        );
      }
    }
  }
  return actual;
}

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
  const N = checkReferenceTokens(o.referenceVisualTokens ?? model.imageTokens);
  const checked = checkCounts(counts, L, N);
  const t = model.flops.text;
  const promptTokens = o.promptTokens ?? N + 32;
  if (!isInt(promptTokens, N, MAX_PROMPT_TOKENS)) refuse('flops.architecture.promptTokens', `an integer in [${N}, ${MAX_PROMPT_TOKENS}]`, promptTokens);
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    model: { id: text('model.id', modelId), fingerprint: model.fingerprint, layers: L, hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize },
    referenceVisualTokens: N,
    budget: nullableFraction('budget', o.budget ?? null, true, 'the fraction of reference FLOPs kept'),
    alpha: nullableFraction('alpha', o.alpha ?? null, false, 'the fit tolerance'),
    calibration: checkCalibration(o.calibration ?? null),
    counts: checked,
    flops: recipeFlops(model, N, checked, promptTokens),
    createdAt: new Date().toISOString(),
  };
}

/** Imports the seed paper's released per-layer arrays (e.g. LLaVA-1.5-7B "reduction 60"), fitted for N_ref visual tokens. */
export function recipeFromReleasedCounts(model: RecipeModel, modelId: string, counts: number[], referenceVisualTokens = model.imageTokens): Recipe {
  return makeRecipe(model, modelId, counts, { referenceVisualTokens });
}

/**
 * Parses, migrates (version 1 → 2) and validates a recipe for `model`; every refusal names the
 * field and what it must be. The counts must fit the visual tokens they were fitted for and
 * the stated FLOPs must be what the counts give on this model (recomputed). Returns a fresh
 * object holding only the validated fields (the input is never modified).
 */
export function parseRecipe(json: unknown, model: RecipeModel): Recipe {
  if (typeof json === 'string') {
    // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the JSON.
    const text = json.startsWith('\ufeff') ? json.slice(1) : json;
    if (text.length > MAX_RECIPE_CHARS) throw new RecipeError(`the recipe is ${text.length} characters long; a recipe has at most ${MAX_RECIPE_CHARS}`);
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new RecipeError(`the recipe is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (!isObject(json)) throw new RecipeError('the recipe must be a JSON object');
  const r = json;
  if (r['format'] !== RECIPE_FORMAT) throw new RecipeError(`not a fitprune-web recipe (format ${quoteValue(r['format'])}, expected "${RECIPE_FORMAT}")`);
  const version = r['version'];
  if (version !== 1 && version !== RECIPE_VERSION) throw new RecipeError(`recipe version ${quoteValue(version)} is not supported (expected 1 or ${RECIPE_VERSION})`);
  // Version 1 stored the fraction of FLOPs removed; everything now speaks of the fraction kept.
  const budget =
    version === 1
      ? ((removed) => (removed === null ? null : 1 - removed))(nullableFraction('budget', r['budget'], true, 'version 1: the fraction of reference FLOPs removed'))
      : nullableFraction('budget', r['budget'], true, 'the fraction of reference FLOPs kept');

  const m = r['model'];
  if (!isObject(m)) refuse('model', 'an object { id, fingerprint, layers, hiddenSize, intermediateSize } naming the model the recipe is for', m);
  const id = text('model.id', m['id']);
  const fingerprint = text('model.fingerprint', m['fingerprint'], 64);
  const L = model.textLayers;
  const layers = m['layers'];
  if (!isInt(layers, 1, 1e6)) refuse('model.layers', 'a positive integer (the decoder layers of the model the recipe is for)', layers);
  const counts = r['counts'];
  if (layers !== L) {
    throw new RecipeError(`the recipe is for a ${layers}-layer model; this model has ${L} layers`);
  }
  if (fingerprint !== model.fingerprint) {
    throw new RecipeError(`the recipe was made for another model (${quoteValue(id)}, config fingerprint ${fingerprint}); this model's fingerprint is ${model.fingerprint}`);
  }
  const t = model.flops.text;
  for (const [k, want] of [['hiddenSize', t.hiddenSize], ['intermediateSize', t.intermediateSize]] as const) {
    if (m[k] !== want) refuse(`model.${k}`, `${want}, this model's ${k} (the fingerprint matches, so the file was edited)`, m[k]);
  }

  const nRef = checkReferenceTokens(r['referenceVisualTokens']);
  const checked = checkCounts(counts, L, nRef);
  const alpha = nullableFraction('alpha', r['alpha'], false, 'the fit tolerance');
  const calibration = checkCalibration(r['calibration']);
  const createdAt = text('createdAt', r['createdAt'], 100);
  const flops = checkFlops(r['flops'], model, nRef, checked, version);
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    model: { id, fingerprint, layers: L, hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize },
    referenceVisualTokens: nRef,
    budget,
    alpha,
    calibration,
    counts: checked,
    flops,
    createdAt,
  };
}

/**
 * Counts for an input with N visual tokens: floor(k·N/N_ref) per layer. Takes any counts a
 * caller passes (a policy built in code may ask for more than an image has: the policy then
 * deletes what is left), but refuses what is not a count.
 */
export function rescaleCounts(recipe: Pick<Recipe, 'counts' | 'referenceVisualTokens'>, visualTokens: number): number[] {
  const nRef = checkReferenceTokens(recipe.referenceVisualTokens);
  const counts = recipe.counts as unknown;
  if (!Array.isArray(counts) || !counts.every((k) => isInt(k, 0, Number.MAX_SAFE_INTEGER))) {
    refuse('counts', 'a list of non-negative integers (visual tokens deleted at each layer)', counts);
  }
  if (!isInt(visualTokens, 0, Number.MAX_SAFE_INTEGER)) throw new RecipeError(`rescaleCounts: visual tokens must be a non-negative integer, got ${quoteValue(visualTokens)}`);
  if (visualTokens === nRef) return [...(counts as number[])];
  return (counts as number[]).map((k) => Math.floor((k * visualTokens) / nRef));
}
