import { describe, expect, it } from 'vitest';
import { parseLlavaConfig } from '../../src/models/llava/config';
import { LlavaFacts } from '../../src/models/llava/model';
import { makeRecipe, parseRecipe, recipeFromReleasedCounts, rescaleCounts } from '../../src/prune/recipe';
import { makeTinyLlava } from '../fixtures/tiny/llava';

const rawConfig = (preset: 'tiny' | 'tiny-144') => JSON.parse(new TextDecoder().decode(makeTinyLlava({ preset }).get('config.json')!)) as Record<string, unknown>;
const configOf = (preset: 'tiny' | 'tiny-144') => new LlavaFacts(parseLlavaConfig(rawConfig(preset))).describe(preset);

describe('recipes', () => {
  const config = configOf('tiny-144');
  const recipe = makeRecipe(config, 'tiny-144', [30, 50, 0, 20], { budget: 0.5, alpha: 0.3 });

  it('round-trips through JSON and reports FLOPs in both conventions', () => {
    const back = parseRecipe(JSON.stringify(recipe), config);
    expect(back.counts).toEqual([30, 50, 0, 20]);
    expect(back.flops.reference.ratio).toBeLessThan(1);
    expect(back.flops.architecture!.ratio).toBeGreaterThan(back.flops.reference.ratio);
  });

  it('refuses another model, another layer count and malformed documents, saying why', () => {
    const other = configOf('tiny');
    expect(() => parseRecipe(recipe, other)).toThrow(/recipe is for a 4-layer model; this model has 2 layers/);
    const raw = rawConfig('tiny-144');
    const sameDepth = new LlavaFacts(parseLlavaConfig({ ...raw, text_config: { ...(raw['text_config'] as object), hidden_size: 96 } })).describe('x');
    expect(() => parseRecipe(recipe, sameDepth)).toThrow(/made for another model \("tiny-144", config fingerprint [0-9a-f]{8}\)/);
    expect(() => parseRecipe('{nope', config)).toThrow(/not valid JSON/);
    expect(() => parseRecipe({ ...recipe, format: 'x' }, config)).toThrow(/not a fitprune-web recipe/);
    expect(() => parseRecipe({ ...recipe, counts: [1, -2, 0, 0] }, config)).toThrow(/non-negative integers/);
  });

  it('imports released per-layer arrays and rescales counts for another visual-token count', () => {
    const imported = recipeFromReleasedCounts(config, 'tiny-144', [10, 0, 5, 1], 576);
    expect(imported.referenceVisualTokens).toBe(576);
    expect(rescaleCounts(imported, 144)).toEqual([2, 0, 1, 0]);
    expect(rescaleCounts({ counts: [14, 33], referenceVisualTokens: 576 }, 2880)).toEqual([70, 165]);
  });

  it('loads version-1 files, whose budget was the fraction removed, as the fraction kept', () => {
    const v1 = { ...recipe, version: 1, budget: 0.7 };
    const back = parseRecipe(JSON.stringify(v1), config);
    expect(back.version).toBe(2);
    expect(back.budget).toBeCloseTo(0.3, 12);
    expect(parseRecipe({ ...recipe, version: 1, budget: null }, config).budget).toBeNull();
    expect(() => parseRecipe({ ...recipe, version: 3 }, config)).toThrow(/version 3 is not supported/);
  });
});
