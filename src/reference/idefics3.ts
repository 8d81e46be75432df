/**
 * The Idefics3 / SmolVLM image path on the CPU and greedy generation with it, in float64
 * accumulation: per frame the SigLIP tower through its post-layernorm (last_hidden_state), then
 * the connector (pixel_shuffle as Python writes it, then the bias-free projection), the frames'
 * features concatenated in processor order; generation fills the prompt's runs of image tokens
 * with them and prunes over the whole region with the tile markers pinned. The oracle the GPU
 * model is checked against. Weights are plain Float32Arrays holding exactly what the GPU holds.
 */
import type { ImagePlacement } from '../models/family';
import type { Idefics3Config } from '../models/idefics3/config';
import { idefics3ConnectorRef } from '../models/idefics3/connector-ref';
import type { Idefics3WeightNames } from '../models/idefics3/weights';
import { siglipPatches } from '../models/siglip';
import { referenceGenerateFromFeatures, type ReferenceDecoderWeights, type ReferencePruner, type WeightLookup } from './decoder';
import { referenceSiglip } from './siglip';

export interface ReferenceIdefics3Weights {
  config: Idefics3Config;
  names: Idefics3WeightNames;
  /** Tensor by checkpoint name, as the GPU sees it (f16-rounded for matmul weights). */
  get: WeightLookup;
}

export function idefics3DecoderWeights(w: ReferenceIdefics3Weights): ReferenceDecoderWeights {
  return { config: w.config.text, names: w.names.text, get: w.get };
}

/** One frame (CHW f32 of the tower's size) → f32 [image_seq_len, text hidden]. */
export function referenceIdefics3Frame(w: ReferenceIdefics3Weights, pixels: Float32Array): Float32Array {
  const { config: c, get, names } = w;
  const v = c.vision;
  const hidden = referenceSiglip(v, get, names.vision, pixels, { postLayernorm: true });
  return idefics3ConnectorRef(hidden, siglipPatches(v), v.hiddenSize, c.scaleFactor, get(names.connector), c.text.hiddenSize);
}

/** Every frame's features, concatenated in order: f32 [frames · image_seq_len, text hidden]. */
export function referenceIdefics3ImageFeatures(w: ReferenceIdefics3Weights, frames: readonly Float32Array[]): Float32Array {
  const parts = frames.map((f) => referenceIdefics3Frame(w, f));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Greedy generation: `placement` (from placeImages over the prompt's image-token runs) says
 * which rows the features fill and which offsets of the region are tile markers.
 */
export function referenceIdefics3Generate(
  w: ReferenceIdefics3Weights,
  inputIds: Uint32Array,
  placement: ImagePlacement | null,
  frames: readonly Float32Array[] | null,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
  pruner: ReferencePruner | null = null,
): { features: Float32Array | null; logits: Float32Array[]; tokens: number[] } {
  const features = placement && frames ? referenceIdefics3ImageFeatures(w, frames) : null;
  const out = referenceGenerateFromFeatures(idefics3DecoderWeights(w), inputIds, placement, features, maxNewTokens, eosTokenIds, pruner);
  return { features, ...out };
}
