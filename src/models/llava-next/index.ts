/**
 * The anyres LLaVA families: LLaVA-NeXT (llava-v1.6: CLIP + Mistral/Vicuna) and LLaVA-OneVision
 * (SigLIP + Qwen2, with the anyres_max_N downscale). Both are LLaVA underneath (src/models/llava/).
 */
import type { Json } from '../config';
import type { ModelFamily } from '../family';
import { llavaNamesFor, llavaWeightPlan } from '../llava/model';
import type { AnyresFamily } from './anyres';
import { parseAnyresConfig } from './config';
import { loadAnyresModel } from './model';

/** LLaVA's tensors plus the newline row, as the GPU will hold them (the memory check before a download) and their shapes. */
function plan(family: AnyresFamily, config: Json, tensors: Iterable<string>) {
  const llava = parseAnyresConfig(config, family).llava;
  return llavaWeightPlan(llava, llavaNamesFor(llava, tensors, { imageNewline: true }));
}

export const llavaNextFamily: ModelFamily = {
  name: 'llava_next',
  examples: ['llava-hf/llava-v1.6-mistral-7b-hf', 'llava-hf/llava-v1.6-vicuna-7b-hf'],
  accepts: (config) => config['model_type'] === 'llava_next',
  weightPlan: (config, tensors) => plan('llava_next', config, tensors).dtypes,
  expectedShapes: (config, tensors) => plan('llava_next', config, tensors).shapes,
  load: (ctx, source, config, options) => loadAnyresModel(ctx, source, config, options, 'llava_next'),
};

export const llavaOnevisionFamily: ModelFamily = {
  name: 'llava_onevision',
  examples: ['llava-hf/llava-onevision-qwen2-0.5b-ov-hf'],
  accepts: (config) => config['model_type'] === 'llava_onevision',
  weightPlan: (config, tensors) => plan('llava_onevision', config, tensors).dtypes,
  expectedShapes: (config, tensors) => plan('llava_onevision', config, tensors).shapes,
  load: (ctx, source, config, options) => loadAnyresModel(ctx, source, config, options, 'llava_onevision'),
};
