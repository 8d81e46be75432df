/**
 * The weights of a tiny checkpoint for the CPU reference, exactly as the GPU holds them: every
 * tensor of the family's dtype plan, f16-rounded where the plan stores f16, f32 otherwise.
 */
import { openCheckpoint, type Checkpoint } from '../../src/load/checkpoint';
import { toFloat16Bits, toFloat32 } from '../../src/load/convert';
import { MemorySource, readJson } from '../../src/load/source';
import type { WeightLookup } from '../../src/reference/decoder';
import { fromHalfBits } from '../../src/util/half';

/** What a family makes of config.json and the checkpoint's tensor names: its config, weight names and dtype plan. */
export type WeightPlan<C, N> = (config: unknown, tensorNames: Iterable<string>) => { config: C; names: N; dtypes: ReadonlyMap<string, 'f16' | 'f32'> };

export async function referenceWeightsFromFiles<C, N>(files: ReadonlyMap<string, Uint8Array>, plan: WeightPlan<C, N>): Promise<{ config: C; names: N; get: WeightLookup }> {
  const source = new MemorySource(files);
  const raw = await readJson(source, 'config.json');
  const checkpoint = await openCheckpoint(source);
  const { config, names, dtypes } = plan(raw, checkpoint.tensors.keys());
  return { config, names, get: await lookupAsOnGpu(checkpoint, dtypes) };
}

/** Every tensor of `dtypes` read from the checkpoint as the GPU holds it (f16-rounded where planned f16). */
export async function lookupAsOnGpu(checkpoint: Checkpoint, dtypes: ReadonlyMap<string, 'f16' | 'f32'>): Promise<WeightLookup> {
  const values = new Map<string, Float32Array>();
  for (const [name, as] of dtypes) {
    const info = checkpoint.info(name);
    const bytes = await checkpoint.read(name);
    values.set(name, as === 'f16' ? fromHalfBits(toFloat16Bits(bytes, info.dtype)) : toFloat32(bytes, info.dtype));
  }
  return (name) => {
    const v = values.get(name);
    if (!v) throw new Error(`reference: no tensor ${name}`);
    return v;
  };
}
