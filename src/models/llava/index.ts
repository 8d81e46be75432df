/** The "llava" family: LLaVA-1.5 (CLIP + Llama/Vicuna) and the SigLIP + Qwen2 LLaVAs (llava-interleave). */
import type { ModelFamily } from '../family';
import { parseLlavaConfig } from './config';
import { LlavaModel, llavaNamesFor } from './model';
import { llavaTensorDtypes } from './weights';

export const llavaFamily: ModelFamily = {
  name: 'llava',
  examples: ['llava-hf/llava-1.5-7b-hf', 'llava-hf/llava-interleave-qwen-0.5b-hf'],
  accepts: (config) => config['model_type'] === 'llava',
  weightPlan: (config, tensors) => llavaTensorDtypes(llavaNamesFor(parseLlavaConfig(config), tensors)),
  load: (ctx, source, config, options) => LlavaModel.load(ctx, source, parseLlavaConfig(config), options),
};
