/**
 * The weights of a tiny Idefics3 checkpoint for the CPU reference, exactly as the GPU holds them
 * (f16-rounded where the GPU stores f16).
 */
import { openCheckpoint } from '../../src/load/checkpoint';
import { toFloat16Bits, toFloat32 } from '../../src/load/convert';
import { MemorySource, readJson } from '../../src/load/source';
import { parseIdefics3Config } from '../../src/models/idefics3/config';
import { idefics3TensorDtypes, idefics3WeightNames } from '../../src/models/idefics3/weights';
import type { ReferenceIdefics3Weights } from '../../src/reference/idefics3';
import { fromHalfBits } from '../../src/util/half';

export async function idefics3ReferenceWeights(files: ReadonlyMap<string, Uint8Array>): Promise<ReferenceIdefics3Weights> {
  const source = new MemorySource(files);
  const config = parseIdefics3Config(await readJson(source, 'config.json'));
  const checkpoint = await openCheckpoint(source);
  const names = idefics3WeightNames(config);
  const dtypes = idefics3TensorDtypes(names);
  const values = new Map<string, Float32Array>();
  for (const [name, as] of dtypes) {
    const info = checkpoint.info(name);
    const bytes = await checkpoint.read(name);
    values.set(name, as === 'f16' ? fromHalfBits(toFloat16Bits(bytes, info.dtype)) : toFloat32(bytes, info.dtype));
  }
  return {
    config,
    names,
    get: (name) => {
      const v = values.get(name);
      if (!v) throw new Error(`reference: no tensor ${name}`);
      return v;
    },
  };
}
