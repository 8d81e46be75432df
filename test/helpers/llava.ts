/**
 * Shared by the end-to-end model tests: a tiny checkpoint in memory, the same weights for the
 * CPU reference (f16-rounded where the GPU stores f16), and a synthetic test image.
 */
import { parseLlavaConfig } from '../../src/models/llava/config';
import { detectLlavaLayout, llavaTensorDtypes, llavaWeightNames } from '../../src/models/llava/weights';
import type { ReferenceLlavaWeights } from '../../src/reference/llava';
import type { Rng } from '../../src/util/random';
import { referenceWeightsFromFiles } from './reference-weights';

/** `modelTypes` / `imageNewline`: for the families built on LLaVA (llava_next, llava_onevision). */
export function referenceWeights(files: ReadonlyMap<string, Uint8Array>, o: { modelTypes?: readonly string[]; imageNewline?: boolean } = {}): Promise<ReferenceLlavaWeights> {
  return referenceWeightsFromFiles(files, (raw, tensorNames) => {
    const config = parseLlavaConfig(raw, o.modelTypes);
    const names = llavaWeightNames(config, detectLlavaLayout(tensorNames)!, { imageNewline: o.imageNewline });
    return { config, names, dtypes: llavaTensorDtypes(names) };
  });
}

/** An RGBA test image: a few coloured rectangles on a grey background. */
export function testImage(rng: Rng, width: number, height: number): { data: Uint8ClampedArray; width: number; height: number; channels: 4 } {
  const data = new Uint8ClampedArray(width * height * 4).fill(128);
  for (let r = 0; r < 4; r++) {
    const [x0, y0] = [rng.int(0, width - 8), rng.int(0, height - 8)];
    const color = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
    for (let y = y0; y < Math.min(height, y0 + rng.int(6, 20)); y++) {
      for (let x = x0; x < Math.min(width, x0 + rng.int(6, 20)); x++) data.set([...color, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height, channels: 4 };
}
