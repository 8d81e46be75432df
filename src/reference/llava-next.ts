/**
 * LLaVA-NeXT / OneVision on the CPU: LLaVA's tower + projector (./llava) on every anyres tile,
 * packed by assembleAnyresFeatures (the float64 transcription of Python's pack_image_features,
 * bilinear downscale included), then the reference decoder. The oracle for the GPU's tile loop,
 * gather plan and bilinear kernel.
 */
import type { ImagePlacement } from '../models/family';
import { assembleAnyresFeatures, type AnyresLayout } from '../models/llava-next/anyres';
import { referenceGenerateFromFeatures, type ReferencePruner } from './decoder';
import { llavaDecoderWeights, referenceImageFeatures, type ReferenceGeneration, type ReferenceLlavaWeights } from './llava';

/** Packed image features [layout.totalTokens, text hidden] of one anyres image (tiles: base first). */
export function referenceAnyresFeatures(w: ReferenceLlavaWeights, tiles: readonly Float32Array[], layout: AnyresLayout): Float32Array {
  if (!w.names.imageNewline) throw new Error('reference: an anyres model needs image_newline');
  if (tiles.length !== layout.numTiles) throw new Error(`reference: ${tiles.length} tiles for a layout of ${layout.numTiles}`);
  const perTile = tiles.map((pixels) => referenceImageFeatures(w, pixels).projected);
  return assembleAnyresFeatures(layout, perTile[0]!, perTile.slice(1), w.get(w.names.imageNewline), w.config.text.hiddenSize);
}

/** Greedy generation: prompt ids with one run of image tokens (`imageSpan`, newline rows included) filled from the image. */
export function referenceGenerateAnyres(
  w: ReferenceLlavaWeights,
  inputIds: Uint32Array,
  imageSpan: { start: number; end: number } | null,
  image: { tiles: readonly Float32Array[]; layout: AnyresLayout } | null,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
  pruner: ReferencePruner | null = null,
): ReferenceGeneration {
  const projected = imageSpan && image ? referenceAnyresFeatures(w, image.tiles, image.layout) : null;
  const placement: ImagePlacement | null = imageSpan ? { runs: [imageSpan], region: imageSpan, fixedOffsets: [] } : null;
  const out = referenceGenerateFromFeatures(llavaDecoderWeights(w), inputIds, placement, projected, maxNewTokens, eosTokenIds, pruner);
  return { visionFeatures: null, projected, ...out };
}
