import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL } from '../../src/data/embedded';
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

// Hostile recipes (issue 25, item 7): each is refused naming the field and what it must be.
describe('recipes: hostile documents', () => {
  const config = configOf('tiny-144'); // 4 layers, 144 visual tokens
  const good = makeRecipe(config, 'tiny-144', [30, 50, 0, 20], { budget: 0.5, alpha: 0.3, calibration: { samples: 2, source: 'set', seconds: 1.5, searchSteps: 8 } });
  const json = (r: unknown) => JSON.parse(JSON.stringify(r)) as Record<string, unknown> & typeof good;
  const withField = (path: string, value: unknown) => {
    const r = json(good);
    const keys = path.split('.');
    let o: Record<string, unknown> = r;
    for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
    if (value === undefined) delete o[keys.at(-1)!];
    else o[keys.at(-1)!] = value;
    return r;
  };
  const refused = (r: unknown, message: RegExp) => expect(() => parseRecipe(r, config)).toThrow(message);

  it('a good recipe still round-trips, as a fresh object without unknown fields, leaving the input alone', () => {
    const input = { ...json(good), extra: 'ignored' };
    const back = parseRecipe(input, config);
    expect(back).toEqual(json(good));
    expect(back).not.toHaveProperty('extra');
    expect(parseRecipe(JSON.stringify(back), config)).toEqual(back);
    const v1 = { ...json(good), version: 1, budget: 0.7 };
    parseRecipe(v1, config);
    expect(v1.version).toBe(1);
    expect(v1.budget).toBe(0.7);
  });

  it('refuses counts above the visual tokens the recipe is for, one layer or in sum (no silent clamping later)', () => {
    refused({ ...json(good), counts: [500, 0, 0, 0] }, /recipe "counts\[0\]" must be an integer in \[0, 144\]: layer 1 cannot delete more than the 144 visual tokens the recipe is for \("referenceVisualTokens"\); got 500/);
    refused({ ...json(good), counts: [100, 100, 0, 0] }, /recipe "counts" delete 200 visual tokens in all \(100, 100, 0, 0\), more than the 144 the recipe is for \("referenceVisualTokens"\); their sum must be in \[0, 144\]/);
    refused({ ...json(good), counts: [1.5, 0, 0, 0] }, /recipe "counts" must be a list of 4 non-negative integers/);
    refused({ ...json(good), counts: ['30', 50, 0, 20] }, /recipe "counts" must be a list of 4 non-negative integers/);
    refused({ ...json(good), counts: [30, 50, 0] }, /recipe "counts" must be a list of 4 non-negative integers .*; got \[30,50,0\]/);
    refused({ ...json(good), counts: null }, /recipe "counts" must be a list of 4 non-negative integers/);
  });

  it('refuses a referenceVisualTokens that is not an integer in [1, 2^20]', () => {
    refused({ ...json(good), referenceVisualTokens: 1 }, /recipe "counts\[0\]" must be an integer in \[0, 1\].*got 30/);
    refused({ ...json(good), counts: [0, 0, 0, 0], referenceVisualTokens: 1 }, /recipe "flops.reference.ratio" is .*, but its counts give 1 for 1 visual tokens on this model/);
    for (const bad of [1e300, 0, -144, 144.5, '144', null, 2 ** 20 + 1]) {
      refused({ ...json(good), referenceVisualTokens: bad }, /recipe "referenceVisualTokens" must be an integer in \[1, 1048576\] \(the visual tokens per image the counts were fitted for\); got /);
    }
    refused(withField('referenceVisualTokens', undefined), /recipe "referenceVisualTokens" must be an integer in \[1, 1048576\].*; got missing/);
  });

  it('refuses a budget or alpha that is not null or a number in range (version 1 budgets too)', () => {
    refused({ ...json(good), budget: 'half' }, /recipe "budget" must be null or a number in \(0, 1\) \(the fraction of reference FLOPs kept\); got "half"/);
    for (const bad of [7, 0, 1, -0.5, Number.NaN, undefined]) refused(withField('budget', bad), /recipe "budget" must be null or a number in \(0, 1\)/);
    refused({ ...json(good), version: 1, budget: 'half' }, /recipe "budget" must be null or a number in \(0, 1\) \(version 1: the fraction of reference FLOPs removed\); got "half"/);
    refused({ ...json(good), alpha: 'x' }, /recipe "alpha" must be null or a number in \[0, 1\] \(the fit tolerance\); got "x"/);
    for (const bad of [1.01, -1, undefined]) refused(withField('alpha', bad), /recipe "alpha" must be null or a number in \[0, 1\]/);
    expect(parseRecipe({ ...json(good), budget: null, alpha: null }, config)).toMatchObject({ budget: null, alpha: null });
  });

  it('refuses a calibration that is not null or an object with the right field types', () => {
    refused({ ...json(good), calibration: 'yes' }, /recipe "calibration" must be null or an object \{ samples, source, seconds, searchSteps \}; got "yes"/);
    refused(withField('calibration.samples', '2'), /recipe "calibration.samples" must be an integer in \[1, 1e9\].*; got "2"/);
    refused(withField('calibration.source', 5), /recipe "calibration.source" must be a string of at most 4096 characters; got 5/);
    refused(withField('calibration.seconds', -1), /recipe "calibration.seconds" must be a finite number ≥ 0; got -1/);
    refused(withField('calibration.searchSteps', undefined), /recipe "calibration.searchSteps" must be an integer in \[0, 1e6\]; got missing/);
    expect(parseRecipe({ ...json(good), calibration: null }, config).calibration).toBeNull();
  });

  it('refuses a model id, fingerprint, width or creation date of the wrong type', () => {
    refused(withField('model.id', 42), /recipe "model.id" must be a string of at most 4096 characters; got 42/);
    refused(withField('model.id', 'x'.repeat(5000)), /recipe "model.id" must be a string of at most 4096 characters/);
    refused(withField('model.fingerprint', undefined), /recipe "model.fingerprint" must be a string of at most 64 characters; got missing/);
    refused({ ...json(good), model: 'tiny' }, /recipe "model" must be an object \{ id, fingerprint, layers, hiddenSize, intermediateSize \}/);
    refused(withField('model.layers', '4'), /recipe "model.layers" must be a positive integer/);
    refused(withField('model.hiddenSize', 96), /recipe "model.hiddenSize" must be 64, this model's hiddenSize \(the fingerprint matches, so the file was edited\); got 96/);
    refused(withField('createdAt', 0), /recipe "createdAt" must be a string of at most 100 characters; got 0/);
    refused(withField('createdAt', undefined), /recipe "createdAt" must be a string .*; got missing/);
  });

  it('refuses missing or malformed FLOPs, and FLOPs that are not what the counts give (recomputed)', () => {
    refused(withField('flops', undefined), /recipe "flops" must be an object \{ reference, architecture \} \(the FLOPs the counts keep\); got missing/);
    refused(withField('flops.reference', null), /recipe "flops.reference" must be an object \{ ratio, macs, baselineMacs \}; got null/);
    refused(withField('flops.reference.ratio', '0.5'), /recipe "flops.reference.ratio" must be a finite number ≥ 0; got "0.5"/);
    refused(withField('flops.architecture.flops', Number.POSITIVE_INFINITY), /recipe "flops.architecture.flops" must be a finite number ≥ 0; got Infinity/);
    refused(JSON.stringify(good).replace(/"baselineMacs":\d+/, '"baselineMacs":1e999'), /recipe "flops.reference.baselineMacs" must be a finite number ≥ 0; got Infinity/);
    refused(withField('flops.architecture.promptTokens', 10), /recipe "flops.architecture.promptTokens" must be an integer in \[144, 4194304\].*; got 10/);
    // The case: every visual token deleted at layer 1 while the file claims 57 % of the FLOPs kept.
    const lying = { ...json(good), counts: [144, 0, 0, 0], flops: { ...good.flops, reference: { ...good.flops.reference, ratio: 0.57 } } };
    refused(lying, /recipe "flops.reference.ratio" is 0.57, but its counts give 0\.\d+ for 144 visual tokens on this model \(recomputed in the reference convention; they must agree within 0.000001 relative\)/);
    refused(withField('flops.reference.ratio', good.flops.reference.ratio * (1 + 1e-5)), /recipe "flops.reference.ratio" is .*, but its counts give/);
    refused(withField('flops.reference.macs', good.flops.reference.macs + 1e6), /recipe "flops.reference.macs" is/);
    refused(withField('flops.architecture.ratio', 0.01), /recipe "flops.architecture.ratio" is 0.01, but its counts give .* for a 176-token prompt on this model/);
    // Within the tolerance (a rounding-level difference) is accepted; a null architecture too.
    expect(() => parseRecipe(withField('flops.reference.ratio', good.flops.reference.ratio * (1 + 1e-9)), config)).not.toThrow();
    expect(parseRecipe(withField('flops.architecture', null), config).flops.architecture).toBeNull();
  });

  it('version 1 files keep their reference FLOPs checked; their architecture figures (an older formula) are recomputed', () => {
    const v1 = { ...withField('flops.architecture.flops', 123), version: 1, budget: 0.5 };
    const back = parseRecipe(v1, config);
    expect(back.flops.architecture).toEqual(good.flops.architecture);
    const lyingV1 = { ...withField('flops.reference.ratio', 0.9), version: 1 };
    refused(lyingV1, /recipe "flops.reference.ratio" is 0.9, but its counts give/);
  });

  it('makeRecipe refuses what parseRecipe would (counts over N_ref, budget and alpha out of range)', () => {
    expect(() => makeRecipe(config, 'm', [500, 0, 0, 0])).toThrow(/recipe "counts\[0\]" must be an integer in \[0, 144\]/);
    expect(() => makeRecipe(config, 'm', [0, 0, 0, 0], { budget: 7 })).toThrow(/recipe "budget" must be null or a number in \(0, 1\)/);
    expect(() => makeRecipe(config, 'm', [0, 0, 0, 0], { alpha: Number.NaN })).toThrow(/recipe "alpha" must be null or a number in \[0, 1\]/);
    expect(() => makeRecipe(config, 'm', [0, 0, 0, 0], { referenceVisualTokens: 1e300 })).toThrow(/recipe "referenceVisualTokens" must be an integer in \[1, 1048576\]/);
  });

  it('rescaleCounts refuses what is not a count or a token count (policies built in code still get clamped later)', () => {
    expect(() => rescaleCounts({ counts: [1, Number.NaN], referenceVisualTokens: 144 }, 144)).toThrow(/recipe "counts" must be a list of non-negative integers/);
    expect(() => rescaleCounts({ counts: [1, 2], referenceVisualTokens: 0 }, 144)).toThrow(/recipe "referenceVisualTokens" must be an integer in \[1, 1048576\]/);
    expect(() => rescaleCounts({ counts: [1, 2], referenceVisualTokens: 144 }, -1)).toThrow(/visual tokens must be a non-negative integer/);
    expect(rescaleCounts({ counts: [100, 100, 100, 100], referenceVisualTokens: 144 }, 144)).toEqual([100, 100, 100, 100]);
  });
});

// Found by the fuzzer (issue 20, recipe family).
describe('recipes: what the fuzzer found', () => {
  const config = configOf('tiny-144');
  const good = makeRecipe(config, 'tiny-144', [30, 50, 0, 20], { budget: 0.5, alpha: 0.3 });

  it('a recipe file saved with a UTF-8 byte-order mark (Windows editors) loads like one without', () => {
    expect(parseRecipe(`\ufeff${JSON.stringify(good, null, 2)}\r\n`, config)).toEqual(parseRecipe(good, config));
  });

  it('quotes NaN and Infinity counts as such (they printed as null)', () => {
    expect(() => parseRecipe({ ...good, counts: [30, Number.NaN, 0, 20] }, config)).toThrow(/recipe "counts" must be a list of 4 non-negative integers .*; got \[30,NaN,0,20\]/);
    expect(() => parseRecipe({ ...good, counts: [Number.NEGATIVE_INFINITY, 50, 0, 20] }, config)).toThrow(/got \[-Infinity,50,0,20\]/);
    expect(() => parseRecipe({ ...good, alpha: Number.NaN }, config)).toThrow(/recipe "alpha" must be null or a number in \[0, 1\] \(the fit tolerance\); got NaN/);
  });
});

describe('recipes of the demo model (written by the page and the CLIs) still load', () => {
  const raw = JSON.parse(readFileSync(join(EMBEDDED_MODEL.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const demo = new LlavaFacts(parseLlavaConfig(raw)).describe(EMBEDDED_MODEL.dir);
  // Downloaded from the page after calibrating at 50 % on two shipped images (test/e2e/page.test.ts).
  const fromPage = {
    format: 'fitprune-web/recipe',
    version: 2,
    model: { id: 'http://127.0.0.1:39933/models/fitprune-demo', fingerprint: 'e816a165', layers: 6, hiddenSize: 128, intermediateSize: 320 },
    referenceVisualTokens: 196,
    budget: 0.5,
    alpha: 0.109375,
    calibration: { samples: 2, source: '/data/shapes/calib.jsonl (first 2)', seconds: 15.14660000000149, searchSteps: 8 },
    counts: [60, 35, 8, 7, 0, 0],
    flops: {
      reference: { ratio: 0.49673914630229776, macs: 139377152, baselineMacs: 280584192 },
      architecture: { ratio: 0.6663101940847485, flops: 476993920, baselineFlops: 715873664, promptTokens: 228 },
    },
    createdAt: '2026-12-04T01:46:34.282Z',
  };

  it('a recipe the page wrote loads unchanged', () => {
    expect(demo.fingerprint).toBe('e816a165');
    expect(parseRecipe(JSON.stringify(fromPage, null, 2), demo)).toEqual(fromPage);
  });

  it('makeRecipe on the demo model (what `npm run calibrate` writes) round-trips, and hostile edits of it are refused', () => {
    const r = makeRecipe(demo, EMBEDDED_MODEL.dir, [60, 35, 8, 7, 0, 0], { referenceVisualTokens: 196, budget: 0.5, alpha: 0.109375, calibration: fromPage.calibration });
    expect(r.flops).toEqual(fromPage.flops);
    const text = `${JSON.stringify(r, null, 2)}\n`;
    expect(parseRecipe(text, demo)).toEqual(r);
    expect(() => parseRecipe({ ...r, counts: [500, 0, 0, 0, 0, 0] }, demo)).toThrow(/recipe "counts\[0\]" must be an integer in \[0, 196\]: layer 1 cannot delete more than the 196 visual tokens/);
    expect(() => parseRecipe({ ...r, counts: [196, 0, 0, 0, 0, 0] }, demo)).toThrow(/recipe "flops.reference.ratio" is 0.4967.*, but its counts give/);
  });

  it('a released array for another visual-token count imports with FLOPs for that count', () => {
    const r = recipeFromReleasedCounts(demo, 'released', [100, 100, 50, 0, 0, 0], 576);
    expect(r.referenceVisualTokens).toBe(576);
    expect(parseRecipe(r, demo)).toEqual(r);
    expect(() => recipeFromReleasedCounts(demo, 'released', [300, 300, 0, 0, 0, 0], 576)).toThrow(/recipe "counts" delete 600 visual tokens in all/);
  });
});
