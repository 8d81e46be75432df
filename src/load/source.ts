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
  /**
   * For a whole-file read (no range): refuse a file larger than this many bytes, before
   * reading it where the size is known and, over HTTP, by stopping the download at the cap
   * (a server may send more than it said). readText / readJson always set it (textFileCap);
   * a source's own default for whole reads without it is MAX_WHOLE_READ_BYTES.
   */
  maxBytes?: number;
}

const MiB = 1024 * 1024;
/** Cap of a JSON or text file read whole (config.json, processor and tokenizer configs, index, chat template). */
export const MAX_TEXT_FILE_BYTES = 64 * MiB;
/**
 * Cap of tokenizer.json: the largest real ones are tens of MB (Gemma 3's is 33 MB, Llama 3's
 * and Qwen2's 7–9 MB), so 128 MiB leaves room without letting a server stream without end.
 */
export const MAX_TOKENIZER_FILE_BYTES = 128 * MiB;
/** Cap of any whole-file read that does not give its own (the readers above always do). */
export const MAX_WHOLE_READ_BYTES = MAX_TOKENIZER_FILE_BYTES;

/** The byte cap readText / readJson apply to a file, by its name. */
export function textFileCap(file: string): number {
  return file === 'tokenizer.json' || file.endsWith('/tokenizer.json') ? MAX_TOKENIZER_FILE_BYTES : MAX_TEXT_FILE_BYTES;
}

/** "64 MiB" / "1.5 MiB" / "900 bytes", for errors about sizes and caps. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const mib = n / MiB;
  return mib >= 1 ? `${Number(mib.toFixed(1))} MiB` : `${Number((n / 1024).toFixed(1))} KiB`;
}

/** The error every source gives for a whole-file read over its cap. */
export function tooLargeError(file: string, size: number | string, cap: number, where: string): ModelFileError {
  const what = typeof size === 'number' ? `is ${formatBytes(size)}` : size;
  return new ModelFileError(file, `${what} in ${where}, over the ${formatBytes(cap)} limit for this file (a JSON / text file is read whole; a larger one is refused, not buffered)`);
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

/** A whole file as UTF-8 text, refused over its cap (textFileCap, unless options.maxBytes says otherwise). */
export async function readText(source: ModelSource, file: string, options?: ReadOptions): Promise<string> {
  const maxBytes = options?.maxBytes ?? textFileCap(file);
  const bytes = await source.read(file, undefined, { ...options, maxBytes });
  // A source that does not know the cap (a third-party ModelSource) is still held to it here.
  if (bytes.byteLength > maxBytes) throw tooLargeError(file, bytes.byteLength, maxBytes, source.description);
  return new TextDecoder().decode(bytes);
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
    const cap = options?.maxBytes ?? MAX_WHOLE_READ_BYTES;
    if (!range && f.byteLength > cap) throw tooLargeError(file, f.byteLength, cap, this.description);
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
