/**
 * Where each LLaVA weight lives in a checkpoint. Two layouts exist on the Hub:
 * - 'hub' (checkpoints converted before transformers 4.52, e.g. llava-hf/llava-1.5-7b-hf):
 *   language_model.model.* / language_model.lm_head.weight / vision_tower.* / multi_modal_projector.*
 * - 'new' (saved by transformers ≥ 4.52): model.language_model.* / lm_head.weight /
 *   model.vision_tower.* / model.multi_modal_projector.*
 * The layout is detected from the names present, never from the file name. LLaVA-NeXT and
 * OneVision add `image_newline` (hub) / `model.image_newline` (new).
 */
import { clipTensorDtypes, clipTensorShapes, clipWeightNames, type ClipWeightNames, type WeightBiasNames } from '../clip';
import { decoderTensorDtypes, decoderTensorShapes, decoderWeightNames, type DecoderWeightNames } from '../llama-weights';
import { siglipTensorDtypes, siglipTensorShapes, siglipWeightNames, type SiglipWeightNames } from '../siglip';
import { visionLayersRun } from '../config';
import type { LlavaConfig } from './config';

export type LlavaLayout = 'hub' | 'new';

export interface LlavaWeightNames {
  layout: LlavaLayout;
  text: DecoderWeightNames;
  vision: { kind: 'clip'; names: ClipWeightNames } | { kind: 'siglip'; names: SiglipWeightNames };
  projector: { linear1: WeightBiasNames; linear2: WeightBiasNames };
  /** LLaVA-NeXT / OneVision's learned newline row, or null (LLaVA-1.5). */
  imageNewline: string | null;
}

export function detectLlavaLayout(names: Iterable<string>): LlavaLayout | null {
  for (const n of names) {
    if (n.startsWith('model.language_model.')) return 'new';
    if (n.startsWith('language_model.model.')) return 'hub';
  }
  return null;
}

export function llavaWeightNames(config: LlavaConfig, layout: LlavaLayout, o: { imageNewline?: boolean } = {}): LlavaWeightNames {
  const hub = layout === 'hub';
  const vt = hub ? 'vision_tower.vision_model.' : 'model.vision_tower.vision_model.';
  const pj = hub ? 'multi_modal_projector.' : 'model.multi_modal_projector.';
  const wb = (p: string) => ({ weight: `${p}.weight`, bias: `${p}.bias` });
  const layers = visionLayersRun(config.vision.numLayers, config.visionFeatureLayer);
  return {
    layout,
    text: decoderWeightNames(config.text, hub ? 'language_model.model.' : 'model.language_model.', hub ? 'language_model.lm_head.weight' : 'lm_head.weight'),
    vision: config.vision.kind === 'clip' ? { kind: 'clip', names: clipWeightNames(vt, layers) } : { kind: 'siglip', names: siglipWeightNames(vt, layers) },
    projector: { linear1: wb(`${pj}linear_1`), linear2: wb(`${pj}linear_2`) },
    imageNewline: o.imageNewline ? (hub ? 'image_newline' : 'model.image_newline') : null,
  };
}

/**
 * How each tensor is stored on the GPU: matmul weights, the patch convolution and the
 * embedding table as f16 (half the memory and bandwidth; bf16/f32 checkpoints are rounded at
 * load), norms, biases, position / class embeddings and the newline row as f32.
 */
export function llavaTensorDtypes(n: LlavaWeightNames): Map<string, 'f16' | 'f32'> {
  const m = decoderTensorDtypes(n.text);
  if (n.vision.kind === 'clip') clipTensorDtypes(n.vision.names, m);
  else for (const [k, v] of siglipTensorDtypes(n.vision.names, { postLayernorm: false })) m.set(k, v);
  for (const p of [n.projector.linear1, n.projector.linear2]) {
    m.set(p.weight, 'f16');
    m.set(p.bias, 'f32');
  }
  if (n.imageNewline) m.set(n.imageNewline, 'f32');
  return m;
}

/**
 * The shape config.json implies for every tensor llavaTensorDtypes plans: the decoder's, the
 * tower's, the projector's (linear_1 [text hidden, vision hidden], linear_2 [text hidden,
 * text hidden]) and the newline row [text hidden].
 */
export function llavaTensorShapes(n: LlavaWeightNames, config: LlavaConfig): Map<string, readonly number[]> {
  const m = decoderTensorShapes(n.text, config.text);
  const v = config.vision;
  if (n.vision.kind === 'clip' && v.kind === 'clip') clipTensorShapes(n.vision.names, v, m);
  else if (n.vision.kind === 'siglip' && v.kind === 'siglip') siglipTensorShapes(n.vision.names, v, { postLayernorm: false }, m);
  else throw new Error('llava: vision config and weight names disagree');
  const t = config.text.hiddenSize;
  m.set(n.projector.linear1.weight, [t, v.hiddenSize]);
  m.set(n.projector.linear1.bias, [t]);
  m.set(n.projector.linear2.weight, [t, t]);
  m.set(n.projector.linear2.bias, [t]);
  if (n.imageNewline) m.set(n.imageNewline, [t]);
  return m;
}
