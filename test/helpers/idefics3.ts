/**
 * The weights of a tiny Idefics3 checkpoint for the CPU reference, exactly as the GPU holds them
 * (f16-rounded where the GPU stores f16).
 */
import { parseIdefics3Config } from '../../src/models/idefics3/config';
import { idefics3TensorDtypes, idefics3WeightNames } from '../../src/models/idefics3/weights';
import type { ReferenceIdefics3Weights } from '../../src/reference/idefics3';
import { referenceWeightsFromFiles } from './reference-weights';

export function idefics3ReferenceWeights(files: ReadonlyMap<string, Uint8Array>): Promise<ReferenceIdefics3Weights> {
  return referenceWeightsFromFiles(files, (raw) => {
    const config = parseIdefics3Config(raw);
    const names = idefics3WeightNames(config);
    return { config, names, dtypes: idefics3TensorDtypes(names) };
  });
}
