/**
 * Fuzz cases for FitPrune recipes: a valid recipe for the loaded tiny model (makeRecipe, or a
 * released array via recipeFromReleasedCounts) is edited in one way, parsed against the model
 * (parseRecipe) and, if accepted, used for a generate with `pruning: { kind: 'fitprune' }`.
 * Harmless edits must answer exactly as the unedited recipe does.
 */
import type { ModelInfo } from '../../../src/models/family';
import { makeRecipe, parseRecipe, recipeFromReleasedCounts, type Recipe } from '../../../src/prune/recipe';
import { Rng } from '../../../src/util/random';
import { FUZZ_ARCHS, pick, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type FuzzEnv } from '../case';

type Doc = Record<string, unknown>;
/** An edit of the recipe document: returns the new document (any JSON value, or a JSON text). */
type Mutation = (r: Doc, m: ModelInfo, rng: Rng) => unknown;

const clone = (r: Recipe): Doc => JSON.parse(JSON.stringify(r)) as Doc;
const at = (r: Doc, key: string) => r[key] as Doc;

/** Counts that delete about `share` of the model's visual tokens, spread over the first layers. */
function validCounts(m: ModelInfo, rng: Rng, nRef = m.imageTokens): number[] {
  const counts = new Array<number>(m.textLayers).fill(0);
  let left = Math.floor(nRef * rng.uniform(0, 0.9));
  for (let l = 0; l < counts.length && left > 0; l++) {
    const k = l === counts.length - 1 ? left : rng.int(0, left + 1);
    counts[l] = k;
    left -= k;
  }
  return counts;
}

async function loadedModel(env: FuzzEnv, arch: FuzzArch): Promise<ModelInfo> {
  // A one-token question makes sure the arch's unchanged model is the one loaded.
  await env.ask(arch, { ...env.defaultRequest(arch), maxNewTokens: 1 });
  const m = env.engine.info().model;
  if (!m) throw new Error('fuzz: no model loaded');
  return m;
}

function recipeCase(arch: FuzzArch, seed: number, name: string, expect: Expectation, mentions: readonly string[], mutate: Mutation): FuzzCase {
  return {
    family: 'recipe',
    name: `${arch}: ${name}`,
    expect,
    mentions,
    async run(env) {
      const m = await loadedModel(env, arch);
      const rng = new Rng(seed);
      const base = makeRecipe(m, `fuzz/${arch}`, validCounts(m, rng), { budget: 0.5, alpha: 0.25, calibration: { samples: 4, source: 'fuzz', seconds: 1.25, searchSteps: 8 } });
      const doc = mutate(clone(base), m, rng);
      const recipe = parseRecipe(doc, m);
      const ask = (r: Recipe) => env.ask(arch, { ...env.defaultRequest(arch), pruning: { kind: 'fitprune', recipe: r } });
      const result = await ask(recipe);
      return { result, sameAs: expect === 'accept' ? (await ask(base)).tokens : undefined };
    },
  };
}

/** Sets a value at a dotted path (undefined deletes). */
function set(path: string, value: unknown): Mutation {
  return (r) => {
    const keys = path.split('.');
    let o = r;
    for (const k of keys.slice(0, -1)) o = at(o, k);
    if (value === undefined) delete o[keys.at(-1)!];
    else o[keys.at(-1)!] = value;
    return r;
  };
}

function countsEdit(edit: (counts: number[], m: ModelInfo, rng: Rng) => unknown): Mutation {
  return (r, m, rng) => ({ ...r, counts: edit([...(r['counts'] as number[])], m, rng) });
}

/** Replaces the counts and restates FLOPs that match them (only the counts' own validity is tested). */
function consistentCounts(edit: (m: ModelInfo, rng: Rng) => number[], nRef?: (m: ModelInfo) => number): Mutation {
  return (r, m, rng) => {
    const n = nRef?.(m) ?? m.imageTokens;
    return clone(recipeFromReleasedCounts(m, String(at(r, 'model')['id']), edit(m, rng), n));
  };
}

/** A value as a case name shows it (NaN stays NaN, strings keep their quotes). */
const label = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

export const recipeCases: CaseGenerator = {
  family: 'recipe',
  weight: 2,
  make(rng) {
    const arch = pick(rng, FUZZ_ARCHS);
    const seed = rng.int(1, 2 ** 31);
    const c = (name: string, expect: Expectation, mentions: readonly string[], mutate: Mutation) => () => recipeCase(arch, seed, name, expect, mentions, mutate);
    const variants: (() => FuzzCase)[] = [
      // Harmless.
      c('unchanged', 'accept', [], (r) => r),
      c('as JSON text, pretty-printed', 'accept', [], (r) => JSON.stringify(r, null, 4)),
      c('as JSON text with a trailing newline and CRLF', 'accept', [], (r) => `${JSON.stringify(r, null, 2).replace(/\n/g, '\r\n')}\r\n`),
      c('as JSON text with a UTF-8 byte-order mark', 'accept', [], (r) => `\ufeff${JSON.stringify(r)}`),
      c('extra top-level fields', 'accept', [], (r) => ({ ...r, note: 'hand-edited', tags: ['a'], nested: { deep: [1, { x: null }] } })),
      c('extra fields in model and flops', 'accept', [], (r) => {
        at(r, 'model')['revision'] = 'main';
        at(at(r, 'flops'), 'reference')['unit'] = 'MAC';
        return r;
      }),
      c('a "__proto__" key in the JSON text', 'accept', [], (r) => JSON.stringify(r).replace(/^\{/, '{"__proto__":{"counts":[999999]},')),
      c('keys in reverse order', 'accept', [], (r) => Object.fromEntries(Object.entries(r).reverse())),
      c('another model id, same fingerprint', 'accept', [], set('model.id', 'renamed/local-copy')),
      c('budget 0.3, alpha 0', 'accept', [], (r) => ({ ...r, budget: 0.3, alpha: 0 })),
      c('budget, alpha and calibration null', 'accept', [], (r) => ({ ...r, budget: null, alpha: null, calibration: null })),
      c('flops.architecture null', 'accept', [], set('flops.architecture', null)),
      c('version 1 (budget = fraction removed)', 'accept', [], (r) => ({ ...r, version: 1, budget: 0.5 })),
      c('createdAt "" (any string)', 'accept', [], set('createdAt', '')),
      // Valid, different counts.
      c('all counts 0', 'either', ['counts'], consistentCounts((m) => new Array<number>(m.textLayers).fill(0))),
      c('every visual token deleted at layer 1', 'either', ['counts'], consistentCounts((m) => [m.imageTokens, ...new Array<number>(m.textLayers - 1).fill(0)])),
      c('every visual token deleted at the last layer', 'either', ['counts'], consistentCounts((m) => [...new Array<number>(m.textLayers - 1).fill(0), m.imageTokens])),
      c('released counts for 576 visual tokens', 'either', ['counts'], consistentCounts((m, g) => validCounts(m, g, 576), () => 576)),
      c('released counts for 1 visual token', 'either', ['counts', 'referenceVisualTokens'], consistentCounts((m) => [1, ...new Array<number>(m.textLayers - 1).fill(0)], () => 1)),
      c('released counts for 2^20 visual tokens', 'either', ['counts', 'referenceVisualTokens'], consistentCounts((m, g) => validCounts(m, g, 1 << 20), () => 1 << 20)),
      // The model.
      c('another fingerprint', 'refuse', ['fingerprint', 'another model'], set('model.fingerprint', '0badf00d')),
      c('fingerprint missing', 'refuse', ['fingerprint'], set('model.fingerprint', undefined)),
      c('fingerprint a number', 'refuse', ['fingerprint'], set('model.fingerprint', 12345678)),
      c('model.layers + 1', 'refuse', ['layer'], (r, m) => set('model.layers', m.textLayers + 1)(r, m, new Rng(1))),
      c('model.layers "2"', 'refuse', ['model.layers'], set('model.layers', '2')),
      c('model.hiddenSize + 8', 'refuse', ['hiddenSize'], (r, m) => set('model.hiddenSize', m.flops.text.hiddenSize + 8)(r, m, new Rng(1))),
      c('model.intermediateSize missing', 'refuse', ['intermediateSize'], set('model.intermediateSize', undefined)),
      c('model missing', 'refuse', ['model'], set('model', undefined)),
      c('model "tiny"', 'refuse', ['model'], set('model', 'tiny')),
      c('model.id 42', 'refuse', ['model.id'], set('model.id', 42)),
      // Counts.
      c('one count too few', 'refuse', ['counts'], countsEdit((k) => k.slice(1))),
      c('one count too many', 'refuse', ['counts'], countsEdit((k) => [...k, 0])),
      c('no counts', 'refuse', ['counts'], countsEdit(() => [])),
      c('counts missing', 'refuse', ['counts'], set('counts', undefined)),
      c('counts a string', 'refuse', ['counts'], set('counts', '1,2,3')),
      c('counts an object', 'refuse', ['counts'], set('counts', { 0: 1 })),
      c('a negative count', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = -1), k))),
      c('a NaN count', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = Number.NaN), k))),
      c('a null count (NaN in JSON)', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = null as never), k))),
      c('a fractional count', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = 0.5), k))),
      c('a count of 1e300', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = 1e300), k))),
      c('a count of Infinity', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = Number.POSITIVE_INFINITY), k))),
      c('a count of 2^53', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = 2 ** 53), k))),
      c('a count "3"', 'refuse', ['counts'], countsEdit((k, _m, g) => ((k[g.int(0, k.length)] = '3' as never), k))),
      c('a count above the visual tokens', 'refuse', ['counts', 'referenceVisualTokens'], countsEdit((k, m, g) => ((k[g.int(0, k.length)] = m.imageTokens + 1), k))),
      c('counts summing past the visual tokens', 'refuse', ['counts', 'referenceVisualTokens'], countsEdit((k, m) => k.map(() => Math.ceil(m.imageTokens / k.length) + 1))),
      c('every layer deleting N/L + 1', 'refuse', ['counts', 'referenceVisualTokens'], (r, m) => {
        const counts = new Array<number>(m.textLayers).fill(Math.ceil(m.imageTokens / m.textLayers) + 1);
        return { ...r, counts };
      }),
      // FLOPs that do not match the counts (issue 25 item 7).
      c('counts changed, FLOPs not', 'refuse', ['flops'], countsEdit((k, m) => {
        const j = k.findIndex((x) => x > 0);
        if (j >= 0) k[j]! -= 1;
        else k[0] = Math.min(1, m.imageTokens);
        return k;
      })),
      c('flops.reference.ratio × 1.1', 'refuse', ['flops.reference.ratio'], (r) => {
        const ref = at(at(r, 'flops'), 'reference');
        ref['ratio'] = (ref['ratio'] as number) * 1.1;
        return r;
      }),
      c('flops.reference.ratio 0.123456 (claimed)', 'refuse', ['flops.reference.ratio'], (r) => {
        at(at(r, 'flops'), 'reference')['ratio'] = 0.123456;
        return r;
      }),
      c('flops.reference.macs + 1000', 'refuse', ['flops.reference.macs'], (r) => {
        const ref = at(at(r, 'flops'), 'reference');
        ref['macs'] = (ref['macs'] as number) + 1000;
        return r;
      }),
      c('flops.reference.baselineMacs halved', 'refuse', ['flops.reference.baselineMacs'], (r) => {
        const ref = at(at(r, 'flops'), 'reference');
        ref['baselineMacs'] = (ref['baselineMacs'] as number) / 2;
        return r;
      }),
      c('flops.architecture.ratio 0.01', 'refuse', ['flops.architecture.ratio'], set('flops.architecture.ratio', 0.01)),
      c('flops.architecture.promptTokens 1', 'refuse', ['promptTokens'], set('flops.architecture.promptTokens', 1)),
      c('flops.architecture.promptTokens 1e300', 'refuse', ['promptTokens'], set('flops.architecture.promptTokens', 1e300)),
      c('flops missing', 'refuse', ['flops'], set('flops', undefined)),
      c('flops "57%"', 'refuse', ['flops'], set('flops', '57%')),
      c('flops.reference missing', 'refuse', ['flops.reference'], set('flops.reference', undefined)),
      c('flops.reference.ratio "0.5"', 'refuse', ['flops.reference.ratio'], set('flops.reference.ratio', '0.5')),
      c('flops.reference.macs missing', 'refuse', ['flops.reference.macs'], set('flops.reference.macs', undefined)),
      c('flops.reference.macs -1', 'refuse', ['flops.reference.macs'], set('flops.reference.macs', -1)),
      c('flops.architecture "x"', 'refuse', ['flops.architecture'], set('flops.architecture', 'x')),
      c('flops.architecture missing', 'refuse', ['flops.architecture'], set('flops.architecture', undefined)),
      c('flops.architecture.flops NaN', 'refuse', ['flops.architecture.flops'], set('flops.architecture.flops', Number.NaN)),
      // N_ref.
      c('referenceVisualTokens 0', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', 0)),
      c('referenceVisualTokens 1', 'refuse', ['referenceVisualTokens', 'counts', 'flops'], set('referenceVisualTokens', 1)),
      c('referenceVisualTokens 1e300', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', 1e300)),
      c('referenceVisualTokens -5', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', -5)),
      c('referenceVisualTokens 100.5', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', 100.5)),
      c('referenceVisualTokens "576"', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', '576')),
      c('referenceVisualTokens null', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', null)),
      c('referenceVisualTokens missing', 'refuse', ['referenceVisualTokens'], set('referenceVisualTokens', undefined)),
      c('referenceVisualTokens doubled, FLOPs not', 'refuse', ['flops', 'referenceVisualTokens'], (r) => ({ ...r, referenceVisualTokens: (r['referenceVisualTokens'] as number) * 2 })),
      // Budget and alpha.
      ...(['half', 7, -1, 0, 1, Number.NaN, Number.POSITIVE_INFINITY, [0.5], true] as const).map((b) => c(`budget ${label(b)}`, 'refuse', ['budget'], set('budget', b))),
      c('budget missing', 'refuse', ['budget'], set('budget', undefined)),
      c('version 1 budget "half"', 'refuse', ['budget'], (r) => ({ ...r, version: 1, budget: 'half' })),
      ...(['0.25', 2, -0.1, Number.NaN, {}] as const).map((a) => c(`alpha ${label(a)}`, 'refuse', ['alpha'], set('alpha', a))),
      c('alpha missing', 'refuse', ['alpha'], set('alpha', undefined)),
      // Calibration, dates, format, version.
      c('calibration "yes"', 'refuse', ['calibration'], set('calibration', 'yes')),
      c('calibration.samples 0', 'refuse', ['calibration.samples'], set('calibration.samples', 0)),
      c('calibration.seconds "1"', 'refuse', ['calibration.seconds'], set('calibration.seconds', '1')),
      c('calibration.source missing', 'refuse', ['calibration.source'], set('calibration.source', undefined)),
      c('createdAt 0', 'refuse', ['createdAt'], set('createdAt', 0)),
      c('createdAt missing', 'refuse', ['createdAt'], set('createdAt', undefined)),
      c('format missing', 'refuse', ['format', 'fitprune-web'], set('format', undefined)),
      c('format "fitprune/recipe"', 'refuse', ['format', 'fitprune-web'], set('format', 'fitprune/recipe')),
      ...([3, 0, '2', 2.5, null] as const).map((v) => c(`version ${label(v)}`, 'refuse', ['version'], set('version', v))),
      c('version missing', 'refuse', ['version'], set('version', undefined)),
      // Not a recipe document.
      c('an array', 'refuse', ['recipe', 'object'], (r) => [r]),
      c('a number', 'refuse', ['recipe', 'object'], () => 42),
      c('null', 'refuse', ['recipe', 'object'], () => null),
      c('true', 'refuse', ['recipe', 'object'], () => true),
      c('JSON text "[]"', 'refuse', ['recipe', 'object'], () => '[]'),
      c('JSON text "null"', 'refuse', ['recipe', 'object'], () => 'null'),
      c('an empty string', 'refuse', ['recipe', 'JSON'], () => ''),
      c('truncated JSON text', 'refuse', ['recipe', 'JSON'], (r, _m, g) => {
        const t = JSON.stringify(r);
        return t.slice(0, g.int(1, t.length - 1));
      }),
      c('JSON text with a trailing comma', 'refuse', ['recipe', 'JSON'], (r) => JSON.stringify(r).replace(/\}$/, ',}')),
      c('JSON text with comments', 'refuse', ['recipe', 'JSON'], (r) => `// my recipe\n${JSON.stringify(r)}`),
      c('JSON text of 6 MB', 'refuse', ['recipe', 'characters'], (r) => JSON.stringify({ ...r, pad: 'x'.repeat(6 * 2 ** 20) })),
      c('JSON text nested 100,000 deep in an extra field', 'either', ['recipe', 'JSON'], (r) => JSON.stringify(r).replace(/\}$/, `,"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)),
    ];
    return pick(rng, variants)();
  },
};
