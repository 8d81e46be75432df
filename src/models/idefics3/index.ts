/** The "idefics3" family: SmolVLM-256M/500M-Instruct (SigLIP tiles + pixel-shuffle connector + Llama). */
import type { Json } from '../config';
import type { ModelFamily } from '../family';
import { parseIdefics3Config } from './config';
import { Idefics3Model } from './model';
import { idefics3TensorDtypes, idefics3TensorShapes, idefics3WeightNames } from './weights';

/** The tensors the forward pass reads and their GPU dtypes, from config.json alone (memory estimates before a download). */
export function idefics3WeightPlan(config: Json, _tensorNames: Iterable<string>): Map<string, 'f16' | 'f32'> {
  return idefics3TensorDtypes(idefics3WeightNames(parseIdefics3Config(config)));
}

/** The shapes config.json implies for those tensors (checked against the headers at load). */
export function idefics3ExpectedShapes(config: Json, _tensorNames: Iterable<string>): Map<string, readonly number[]> {
  const parsed = parseIdefics3Config(config);
  return idefics3TensorShapes(idefics3WeightNames(parsed), parsed);
}

export const idefics3Family: ModelFamily & { weightPlan(config: Json, tensorNames: Iterable<string>): Map<string, 'f16' | 'f32'> } = {
  name: 'idefics3',
  examples: ['HuggingFaceTB/SmolVLM-256M-Instruct', 'HuggingFaceTB/SmolVLM-500M-Instruct'],
  accepts: (config) => config['model_type'] === 'idefics3',
  weightPlan: idefics3WeightPlan,
  expectedShapes: idefics3ExpectedShapes,
  load: (ctx, source, config, options) => Idefics3Model.load(ctx, source, parseIdefics3Config(config), options),
};
