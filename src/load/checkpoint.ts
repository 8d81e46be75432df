import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { halfBitsToFloat } from '../util/half';
import { toFloat16Bits, toFloat32 } from './convert';
import type { LoadProgressTracker } from './progress';
import { excerpt, headerLength, parseHeader, SafetensorsError, type TensorInfo } from './safetensors';
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
        `${this.source.description}: ${missing.length} tensor(s) missing from the checkpoint: ${shown}${missing.length > 8 ? ', …' : ''}${missingHint(missing, this.tensors.keys())}`,
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

async function readHeader(source: ModelSource, file: string, signal?: AbortSignal, notFound?: () => Error) {
  const stat = await source.stat(file, { signal });
  if (!stat) throw notFound?.() ?? new ModelFileError(file, `not found in ${source.description}`);
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
    const index = await readJson<unknown>(source, INDEX_FILE, { signal });
    // null, a number or an array would fail as a raw TypeError on `.weight_map`: name the file.
    if (typeof index !== 'object' || index === null || Array.isArray(index)) {
      throw new CheckpointError(`${INDEX_FILE} must be a JSON object with a "weight_map", got ${excerpt(index)}`);
    }
    const map = (index as { weight_map?: unknown }).weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new CheckpointError(`${INDEX_FILE}: "weight_map" must be an object mapping tensor names to shard files, got ${excerpt(map)}`);
    }
    const entries = Object.entries(map as Record<string, unknown>);
    if (entries.length === 0) throw new CheckpointError(`${INDEX_FILE}: "weight_map" is empty (it lists no tensors, so no weights would be read)`);
    const shards = [...new Set(entries.map(([, shard]) => shard))];
    for (const shard of shards) {
      if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard.includes('..')) {
        throw new CheckpointError(`${INDEX_FILE}: shard name ${excerpt(shard)} is not a plain file name`);
      }
    }
    for (const shard of shards as string[]) {
      // A shard the index names but the folder lacks: say which index entry points at it.
      const header = await readHeader(source, shard, signal, () => {
        const tensor = entries.find(([, s]) => s === shard)![0];
        return new CheckpointError(`${INDEX_FILE} maps "${tensor}" to shard ${shard}, which is not in ${source.description}`);
      });
      for (const [name, info] of header.tensors) {
        const other = tensors.get(name);
        if (other) throw new CheckpointError(`tensor "${name}" appears in both ${other.file} and ${shard}`);
        tensors.set(name, { ...info, file: shard });
      }
    }
    for (const [name, shard] of entries) {
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

/**
 * Why planned tensors may be missing, for the error: layers past the checkpoint's last (the
 * config's num_hidden_layers, or vision_feature_layer for a tower), or an lm_head when the
 * config unties the head. "" when neither explains it (a renamed or deleted tensor).
 */
export function missingHint(missing: readonly string[], present: Iterable<string>): string {
  const hints: string[] = [];
  const layerOf = /^(.*\.layers\.)(\d+)\./;
  const highest = new Map<string, number>();
  for (const n of present) {
    const m = layerOf.exec(n);
    if (m) highest.set(m[1]!, Math.max(highest.get(m[1]!) ?? -1, Number(m[2])));
  }
  const seen = new Set<string>();
  for (const n of missing) {
    const m = layerOf.exec(n);
    if (!m || seen.has(m[1]!)) continue;
    const top = highest.get(m[1]!);
    if (top !== undefined && Number(m[2]) > top) {
      seen.add(m[1]!);
      const part = /vision/.test(m[1]!) ? 'vision_config.num_hidden_layers' : 'text_config.num_hidden_layers';
      hints.push(`the checkpoint holds ${m[1]}0…${top}: config.json ${part} asks for more layers than it has`);
    }
  }
  if (missing.some((n) => /lm_head\.weight$/.test(n))) hints.push('config.json tie_word_embeddings is false or absent, so a separate lm_head is needed');
  return hints.length ? ` (${hints.join('; ')})` : '';
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
  const values = options.as === 'f16' ? toFloat16Bits(bytes, info.dtype) : toFloat32(bytes, info.dtype);
  const bad = firstNonFinite(values);
  if (bad >= 0) {
    const v = values instanceof Float32Array ? values[bad]! : halfBitsToFloat(values[bad]!);
    const overflow = values instanceof Uint16Array && isFiniteIn(bytes, info.dtype, bad);
    const why = overflow ? ` (a finite ${info.dtype} value beyond ±65504, the f16 it is stored as on the GPU)` : '';
    throw new SafetensorsError(info.file, `tensor "${name}" holds ${v} at element ${bad}${why}: weights must be finite numbers (a NaN or infinite weight makes every answer NaN)`);
  }
  const tensor = values instanceof Uint16Array ? ctx.upload(values, info.shape, 'f16', name) : ctx.upload(values, info.shape, 'f32', name);
  options.progress?.uploadedBytes(tensor.byteLength);
  return tensor;
}

/**
 * Index of the first NaN or ±Infinity in converted weights (f16 bits or f32), or −1. Weights
 * are refused at load rather than answering NaN: the pass is one linear scan of bytes the
 * conversion has just walked, small next to the download itself, and a user would rather hear
 * which tensor is broken than read an empty answer.
 */
export function firstNonFinite(values: Uint16Array | Float32Array): number {
  if (values instanceof Float32Array) {
    // Exponent all ones (0x7f800000) is Inf or NaN; checking the bits avoids a float compare per value.
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  for (let i = 0; i < values.length; i++) if ((values[i]! & 0x7c00) === 0x7c00) return i;
  return -1;
}

/** Whether element `i` of the raw checkpoint bytes is finite (so a non-finite f16 came from overflow). */
function isFiniteIn(bytes: Uint8Array, dtype: TensorInfo['dtype'], i: number): boolean {
  return Number.isFinite(toFloat32(bytes.subarray(i * (dtype === 'F32' ? 4 : 2), (i + 1) * (dtype === 'F32' ? 4 : 2)), dtype)[0]);
}
