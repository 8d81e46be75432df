/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * ({ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {…} }), then the raw
 * tensor bytes, offsets relative to the end of the header. We validate everything we rely on
 * before reading a single tensor, so a damaged or hostile file gives a clear error instead of
 * a wrong model.
 */

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = { F32: 4, F16: 2, BF16: 2 };

/** Larger headers are refused (the reference implementation uses the same 100 MB bound). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range in the file (absolute, i.e. already shifted past the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  fileName: string;
  /** Absolute offset of the first data byte (8 + header length). */
  dataOffset: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    readonly fileName: string,
    detail: string,
  ) {
    super(`${fileName}: ${detail}`);
  }
}

/** Reads the 8-byte header length. `fileSize` bounds it. */
export function headerLength(first8: Uint8Array, fileSize: number, fileName: string): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new SafetensorsError(fileName, `file is ${fileSize} bytes, too short to be safetensors (truncated?)`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(fileName, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const length = Number(n);
  if (8 + length > fileSize) {
    throw new SafetensorsError(fileName, `header length ${length} runs past the end of the ${fileSize}-byte file (truncated?)`);
  }
  return length;
}

/**
 * Parses and validates a header. `headerBytes` is the JSON (without the 8-byte prefix);
 * `fileSize` is the whole file's size.
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(fileName, `header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(fileName, 'header must be a JSON object');
  }
  const dataOffset = 8 + headerBytes.byteLength;
  const dataSize = fileSize - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      // An array is an object too, and ["pt"] would pass a values check: refuse it by name.
      if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new SafetensorsError(fileName, `__metadata__ must be an object mapping strings to strings, got ${excerpt(value)}`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(fileName, name, value, dataOffset));
  }
  // Offsets must tile the data section exactly: sorted, contiguous, no overlap, no gap, inside.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = dataOffset;
  for (const t of sorted) {
    if (t.begin < expected) {
      const other = sorted.find((o) => o !== t && o.begin < t.end && t.begin < o.end);
      throw new SafetensorsError(fileName, `tensor "${t.name}" overlaps${other ? ` "${other.name}"` : ' another tensor'} (data_offsets [${t.begin - dataOffset}, ${t.end - dataOffset}])`);
    }
    if (t.begin > expected) {
      throw new SafetensorsError(fileName, `gap before tensor "${t.name}": data_offsets start at ${t.begin - dataOffset}, expected ${expected - dataOffset}`);
    }
    expected = t.end;
  }
  if (expected - dataOffset > dataSize) {
    throw new SafetensorsError(fileName, `tensor data needs ${expected - dataOffset} bytes but the file holds ${dataSize} after the header (truncated?)`);
  }
  if (expected - dataOffset < dataSize) {
    throw new SafetensorsError(fileName, `${dataSize - (expected - dataOffset)} unexpected bytes after the last tensor`);
  }
  return { fileName, dataOffset, tensors, metadata };
}

/**
 * A short JSON rendering of a header value for error messages. Depth- and length-bounded: a
 * hostile header may nest 10^5 arrays, and JSON.stringify of that overflows the stack.
 */
export function excerpt(value: unknown, max = 80): string {
  const walk = (v: unknown, depth: number): string => {
    if (Array.isArray(v)) return depth > 3 ? '[…]' : `[${v.slice(0, 8).map((x) => walk(x, depth + 1)).join(', ')}${v.length > 8 ? ', …' : ''}]`;
    if (typeof v === 'object' && v !== null) {
      if (depth > 3) return '{…}';
      const keys = Object.keys(v).slice(0, 8);
      return `{${keys.map((k) => `${JSON.stringify(k)}: ${walk((v as Record<string, unknown>)[k], depth + 1)}`).join(', ')}${Object.keys(v).length > 8 ? ', …' : ''}}`;
    }
    return v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  };
  const text = walk(value, 0);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function parseEntry(fileName: string, name: string, value: unknown, dataOffset: number): TensorInfo {
  const bad = (what: string) => new SafetensorsError(fileName, `tensor "${name}": ${what}`);
  if (typeof value !== 'object' || value === null) throw bad('entry must be an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw bad(`dtype ${excerpt(dtype)} is not supported (F32, F16 or BF16)`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`shape ${excerpt(shape)} must be a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw bad(`data_offsets ${excerpt(offsets)} must be [begin, end] of integers with 0 ≤ begin ≤ end < 2^53`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = count * SAFETENSORS_DTYPE_BYTES[dtype];
  const [begin, end] = offsets as [number, number];
  if (end - begin !== bytes) {
    throw bad(`shape [${(shape as number[]).join(', ')}] ${dtype} needs ${bytes} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin: dataOffset + begin, end: dataOffset + end };
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** Raw little-endian bytes of the tensor in `dtype`. */
  data: Uint8Array;
}

/** Serialises tensors into one safetensors file (in the order given). */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (bytes !== t.data.byteLength) {
      throw new Error(`encodeSafetensors: "${t.name}" [${t.shape.join(', ')}] ${t.dtype} needs ${bytes} bytes, got ${t.data.byteLength}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces to a multiple of 8 so tensor data is aligned (as the reference writer does).
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
