/**
 * Model families by config.json: the one place that lists them. The engine asks for the family
 * of a config and never names one; an unknown model_type is refused with the supported list.
 */
import { ConfigError, type Json } from './config';
import type { ModelFamily } from './family';
import { idefics3Family } from './idefics3';
import { parseIdefics3Config } from './idefics3/config';
import { llavaFamily } from './llava';
import { parseLlavaConfig } from './llava/config';
import { llavaNextFamily, llavaOnevisionFamily } from './llava-next';
import { parseAnyresConfig } from './llava-next/config';

export const FAMILIES: readonly ModelFamily[] = [llavaFamily, llavaNextFamily, llavaOnevisionFamily, idefics3Family];

/**
 * Each family's full config.json check (its parser, result unused here). Run when the family
 * is chosen, so every config field is refused by name before any other file (tokenizer,
 * processor) or weight is read: a bad image_token_id is then reported as the config field it
 * is, not as a disagreement found later between files.
 */
const CONFIG_CHECKS: Readonly<Record<string, (config: Json) => unknown>> = {
  llava: (c) => parseLlavaConfig(c),
  llava_next: (c) => parseAnyresConfig(c, 'llava_next'),
  llava_onevision: (c) => parseAnyresConfig(c, 'llava_onevision'),
  idefics3: (c) => parseIdefics3Config(c),
};

export function familyFor(config: unknown): ModelFamily {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ConfigError('config.json must be a JSON object');
  const c = config as Json;
  const family = FAMILIES.find((f) => f.accepts(c));
  if (!family) {
    throw new ConfigError(`config.json model_type "${String(c['model_type'])}" is not supported; supported: ${FAMILIES.map((f) => f.name).join(', ')}`);
  }
  CONFIG_CHECKS[family.name]?.(c);
  return family;
}

/** Real Hub ids of every family (the page's suggestions). */
export function exampleModelIds(): string[] {
  return FAMILIES.flatMap((f) => [...f.examples]);
}
