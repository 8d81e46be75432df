/**
 * Model families by config.json: the one place that lists them. The engine asks for the family
 * of a config and never names one; an unknown model_type is refused with the supported list.
 */
import { ConfigError, type Json } from './config';
import type { ModelFamily } from './family';
import { idefics3Family } from './idefics3';
import { llavaFamily } from './llava';
import { llavaNextFamily, llavaOnevisionFamily } from './llava-next';

export const FAMILIES: readonly ModelFamily[] = [llavaFamily, llavaNextFamily, llavaOnevisionFamily, idefics3Family];

export function familyFor(config: unknown): ModelFamily {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ConfigError('config.json must be a JSON object');
  const c = config as Json;
  const family = FAMILIES.find((f) => f.accepts(c));
  if (!family) {
    throw new ConfigError(`config.json model_type "${String(c['model_type'])}" is not supported; supported: ${FAMILIES.map((f) => f.name).join(', ')}`);
  }
  return family;
}

/** Real Hub ids of every family (the page's suggestions). */
export function exampleModelIds(): string[] {
  return FAMILIES.flatMap((f) => [...f.examples]);
}
