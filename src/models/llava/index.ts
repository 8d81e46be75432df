/** The "llava" family: LLaVA-1.5 (CLIP + Llama/Vicuna) and the SigLIP + Qwen2 LLaVAs (llava-interleave). */
import type { ModelFamily } from '../family';
import { parseLlavaConfig } from './config';
import { LlavaModel, llavaNamesFor, llavaWeightPlan } from './model';

const plan = (config: Record<string, unknown>, tensors: Iterable<string>) => {
  const parsed = parseLlavaConfig(config);
  return llavaWeightPlan(parsed, llavaNamesFor(parsed, tensors));
};

export const llavaFamily: ModelFamily = {
  name: 'llava',
  examples: ['llava-hf/llava-1.5-7b-hf', 'llava-hf/llava-interleave-qwen-0.5b-hf'],
  accepts: (config) => config['model_type'] === 'llava',
  weightPlan: (config, tensors) => plan(config, tensors).dtypes,
  expectedShapes: (config, tensors) => plan(config, tensors).shapes,
  load: (ctx, source, config, options) => LlavaModel.load(ctx, source, parseLlavaConfig(config), options),
};
