/**
 * Every family's case generator, and the one function that turns (seed, index) into a case.
 * A family's share of the cases is its generator's weight.
 */
import { Rng } from '../../../src/util/random';
import { pickWeighted, type CaseGenerator, type FuzzCase, type FuzzFamily, type GenContext } from '../case';
import { chatTemplateCases } from './chat-template';
import { configCases } from './config';
import { datasetCases } from './dataset';
import { preprocessorCases } from './preprocessor';
import { recipeCases } from './recipe';
import { requestCases } from './request';
import { safetensorsCases } from './safetensors';
import { sourceCases } from './source';
import { tokenizerCases } from './tokenizer';

export const GENERATORS: readonly CaseGenerator[] = [safetensorsCases, configCases, tokenizerCases, preprocessorCases, chatTemplateCases, recipeCases, datasetCases, requestCases, sourceCases];

/** A 32-bit seed for case `index` of run `seed` (so cases do not depend on each other). */
export function caseSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

export function makeCase(seed: number, index: number, gen: GenContext, only?: readonly FuzzFamily[]): FuzzCase {
  const pool = only?.length ? GENERATORS.filter((g) => only.includes(g.family)) : GENERATORS;
  if (pool.length === 0) throw new Error(`no case generator for ${only?.join(', ') ?? 'any family'}`);
  const rng = new Rng(caseSeed(seed, index));
  return pickWeighted(rng, pool, (g) => g.weight).make(rng, gen);
}
