/**
 * Where a model's files come from. Implementations: the Hugging Face Hub by model id, any base
 * URL, a local folder (browser directory picker / dropped files, or a path in Node), and
 * in-memory files (tests, generated checkpoints). Everything above this interface (weights,
 * tokenizer, configs) is source-agnostic.
 */
export interface ReadOptions {
  signal?: AbortSignal;
  /** Called with the number of new bytes as they arrive (for progress). */
  onBytes?: (bytes: number) => void;
}

export interface ModelSource {
  /** Human-readable, for progress and errors ("hub:llava-hf/llava-1.5-7b-hf@main", a path, …). */
  readonly description: string;
  /** File size in bytes, or null when the file does not exist. */
  stat(file: string, options?: ReadOptions): Promise<{ size: number } | null>;
  /** Bytes [start, end) of a file, or the whole file without a range. Throws if missing. */
  read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array>;
}

export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export async function readText(source: ModelSource, file: string, options?: ReadOptions): Promise<string> {
  return new TextDecoder().decode(await source.read(file, undefined, options));
}

export async function readJson<T = unknown>(source: ModelSource, file: string, options?: ReadOptions): Promise<T> {
  const text = await readText(source, file, options);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new ModelFileError(file, `is not valid JSON (${e instanceof Error ? e.message : String(e)}) in ${source.description}`);
  }
}

/** Reads a JSON file if it exists, else returns null. */
export async function readJsonIfPresent<T = unknown>(source: ModelSource, file: string, options?: ReadOptions): Promise<T | null> {
  return (await source.stat(file, options)) ? readJson<T>(source, file, options) : null;
}

/** In-memory files: tests, generated checkpoints, and files the browser already holds. */
export class MemorySource implements ModelSource {
  constructor(
    private readonly files: ReadonlyMap<string, Uint8Array>,
    readonly description = 'memory',
  ) {}

  async stat(file: string): Promise<{ size: number } | null> {
    const f = this.files.get(file);
    return f ? { size: f.byteLength } : null;
  }

  async read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted();
    const f = this.files.get(file);
    if (!f) throw new ModelFileError(file, `not found in ${this.description}`);
    const bytes = range ? f.subarray(range.start, Math.min(range.end, f.byteLength)) : f;
    options?.onBytes?.(bytes.byteLength);
    return bytes;
  }
}

/** Throws a ModelFileError unless `range` is a valid [start, end) of whole non-negative bytes. */
export function checkRange(file: string, range: { start: number; end: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new ModelFileError(file, `invalid byte range [${start}, ${end})`);
  }
}

/**
 * Rethrows the signal's reason when it was aborted (so every loader rejects with the same
 * AbortError whatever layer noticed), else the error itself.
 */
export function abortReasonOr(signal: AbortSignal | undefined, error: unknown): unknown {
  return signal?.aborted ? signal.reason : error;
}
