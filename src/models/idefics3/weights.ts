/**
 * Where each Idefics3 / SmolVLM weight lives in a checkpoint (Idefics3ForConditionalGeneration:
 * `model` = Idefics3Model with vision_model, connector, text_model; plus `lm_head`):
 *   model.vision_model.{embeddings,encoder.layers.N,post_layernorm}.*   SigLIP layout
 *   model.connector.modality_projection.proj.weight                     [text hidden, d·s²], no bias
 *   model.text_model.{embed_tokens,layers.N,norm}.*                     Llama
 *   lm_head.weight                                                      unless tied
 * Only this layout exists: Idefics3 entered transformers with these module names and the 4.52
 * base-model refactor (which moved LLaVA's language_model under model.) left them as they were,
 * so unlike LLaVA there is no older layout to detect. A checkpoint without
 * model.text_model.* names is refused with that message.
 */
import { decoderTensorDtypes, decoderTensorShapes, decoderWeightNames, type DecoderWeightNames } from '../llama-weights';
import { siglipTensorDtypes, siglipTensorShapes, siglipWeightNames, type SiglipWeightNames } from '../siglip';
import type { Idefics3Config } from './config';

export interface Idefics3WeightNames {
  text: DecoderWeightNames;
  vision: SiglipWeightNames;
  /** The connector's bias-free linear. */
  connector: string;
}

export const IDEFICS3_TEXT_PREFIX = 'model.text_model.';
export const IDEFICS3_VISION_PREFIX = 'model.vision_model.';
export const IDEFICS3_CONNECTOR = 'model.connector.modality_projection.proj.weight';

/** Whether tensor names look like an Idefics3 checkpoint (some decoder weight under model.text_model.). */
export function isIdefics3Layout(names: Iterable<string>): boolean {
  for (const n of names) if (n.startsWith(IDEFICS3_TEXT_PREFIX)) return true;
  return false;
}

export function idefics3WeightNames(config: Idefics3Config): Idefics3WeightNames {
  return {
    text: decoderWeightNames(config.text, IDEFICS3_TEXT_PREFIX, 'lm_head.weight'),
    // Idefics3 reads last_hidden_state: every layer runs, then the post-layernorm.
    vision: siglipWeightNames(IDEFICS3_VISION_PREFIX, config.vision.numLayers),
    connector: IDEFICS3_CONNECTOR,
  };
}

/** GPU dtypes: matmul weights, the patch convolution and the embedding table f16; norms, biases, positions f32. */
export function idefics3TensorDtypes(n: Idefics3WeightNames): Map<string, 'f16' | 'f32'> {
  const m = decoderTensorDtypes(n.text);
  for (const [k, v] of siglipTensorDtypes(n.vision, { postLayernorm: true })) m.set(k, v);
  m.set(n.connector, 'f16');
  return m;
}

/** The shape config.json implies for every planned tensor; the connector is [text hidden, vision hidden · scale_factor²]. */
export function idefics3TensorShapes(n: Idefics3WeightNames, config: Idefics3Config): Map<string, readonly number[]> {
  const m = decoderTensorShapes(n.text, config.text);
  siglipTensorShapes(n.vision, config.vision, { postLayernorm: true }, m);
  m.set(n.connector, [config.text.hiddenSize, config.vision.hiddenSize * config.scaleFactor ** 2]);
  return m;
}
