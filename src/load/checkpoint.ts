import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { toFloat16Bits, toFloat32 } from './convert';
import type { LoadProgressTracker } from './progress';
import { headerLength, parseHeader, SafetensorsError, type TensorInfo } from './safetensors';
import { ModelFileError, readJson, type ModelSource } from './source';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface CheckpointTensor extends TensorInfo {
  file: string;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/**
 * The tensors of a safetensors checkpoint (one file, or shards listed by
 * model.safetensors.index.json), known from the headers alone. Tensor data is read on demand
 * with ranged reads, so only the tensors a model needs are ever downloaded.
 */
export class Checkpoint {
  constructor(
    readonly source: ModelSource,
    readonly tensors: ReadonlyMap<string, CheckpointTensor>,
  ) {}

  /** Throws one error listing every name that is missing. */
  require(names: Iterable<string>): void {
    const missing = [...names].filter((n) => !this.tensors.has(n));
    if (missing.length > 0) {
      const shown = missing.slice(0, 8).join(', ');
      throw new CheckpointError(
        `${this.source.description}: ${missing.length} tensor(s) missing from the checkpoint: ${shown}${missing.length > 8 ? ', …' : ''}`,
      );
    }
  }

  info(name: string): CheckpointTensor {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(`${this.source.description}: tensor "${name}" is not in the checkpoint`);
    return t;
  }

  /** The raw bytes of one tensor. */
  async read(name: string, options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<Uint8Array> {
    const t = this.info(name);
    const bytes = await this.source.read(t.file, { start: t.begin, end: t.end }, options);
    if (bytes.byteLength !== t.end - t.begin) {
      throw new SafetensorsError(t.file, `short read of "${name}": got ${bytes.byteLength} of ${t.end - t.begin} bytes`);
    }
    return bytes;
  }
}

async function readHeader(source: ModelSource, file: string, signal?: AbortSignal) {
  const stat = await source.stat(file, { signal });
  if (!stat) throw new ModelFileError(file, `not found in ${source.description}`);
  const first8 = await source.read(file, { start: 0, end: Math.min(8, stat.size) }, { signal });
  const length = headerLength(first8, stat.size, file);
  const header = await source.read(file, { start: 8, end: 8 + length }, { signal });
  return parseHeader(header, stat.size, file);
}

/** Reads the checkpoint's headers (never whole files) and validates the shard index. */
export async function openCheckpoint(source: ModelSource, options: { signal?: AbortSignal } = {}): Promise<Checkpoint> {
  const { signal } = options;
  const tensors = new Map<string, CheckpointTensor>();
  if (await source.stat(INDEX_FILE, { signal })) {
    const index = await readJson<{ weight_map?: Record<string, unknown> }>(source, INDEX_FILE, { signal });
    const map = index.weight_map;
    if (!map || typeof map !== 'object') throw new CheckpointError(`${INDEX_FILE}: "weight_map" is missing or not an object`);
    const shards = [...new Set(Object.values(map))];
    for (const shard of shards) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('..')) {
        throw new CheckpointError(`${INDEX_FILE}: shard name ${JSON.stringify(shard)} is not a plain file name`);
      }
    }
    for (const shard of shards as string[]) {
      const header = await readHeader(source, shard, signal);
      for (const [name, info] of header.tensors) {
        const other = tensors.get(name);
        if (other) throw new CheckpointError(`tensor "${name}" appears in both ${other.file} and ${shard}`);
        tensors.set(name, { ...info, file: shard });
      }
    }
    for (const [name, shard] of Object.entries(map)) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${INDEX_FILE} maps "${name}" to ${String(shard)}, which does not contain it`);
      if (t.file !== shard) throw new CheckpointError(`${INDEX_FILE} maps "${name}" to ${String(shard)}, but it is in ${t.file}`);
    }
  } else if (await source.stat(SINGLE_FILE, { signal })) {
    const header = await readHeader(source, SINGLE_FILE, signal);
    for (const [name, info] of header.tensors) tensors.set(name, { ...info, file: SINGLE_FILE });
  } else {
    throw new CheckpointError(`${source.description}: no weights found (looked for ${SINGLE_FILE} and ${INDEX_FILE})`);
  }
  return new Checkpoint(source, tensors);
}

/** GPU bytes of a tensor uploaded as f16 or f32 (for upload progress totals). */
export function uploadBytes(t: TensorInfo, as: 'f16' | 'f32'): number {
  const count = t.shape.reduce((a, b) => a * b, 1);
  return Math.ceil((count * (as === 'f16' ? 2 : 4)) / 4) * 4;
}

/**
 * Reads one tensor and uploads it: 'f16' for matmul weights and embedding tables (converted
 * from F32/BF16 with round-to-nearest-even), 'f32' for norms, biases and position tables.
 */
export async function uploadTensor(
  ctx: GpuContext,
  checkpoint: Checkpoint,
  name: string,
  options: { as: 'f16' | 'f32'; signal?: AbortSignal; progress?: LoadProgressTracker },
): Promise<Tensor> {
  const info = checkpoint.info(name);
  const bytes = await checkpoint.read(name, {
    signal: options.signal,
    onBytes: (n) => options.progress?.downloaded(info.file, n),
  });
  options.signal?.throwIfAborted();
  const tensor =
    options.as === 'f16'
      ? ctx.upload(toFloat16Bits(bytes, info.dtype), info.shape, 'f16', name)
      : ctx.upload(toFloat32(bytes, info.dtype), info.shape, 'f32', name);
  options.progress?.uploadedBytes(tensor.byteLength);
  return tensor;
}
