import { checkRange, formatBytes, MAX_WHOLE_READ_BYTES, ModelFileError, tooLargeError, type ModelSource, type ReadOptions } from './source';

/** The part of the Cache API we use (window.caches / self.caches in browsers). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  /** Removes an entry (the Cache API has it; a stub may leave it out, then bad entries are only skipped). */
  delete?(request: string): Promise<boolean>;
}

/**
 * The cache could not store or give back a file. The load goes on from the network either
 * way; this says why the next load may download again. Reported once per source (per kind).
 */
export interface CacheWarning {
  /** 'quota': the browser's storage for the site is full; 'write': any other refusal to store; 'read': a stored entry could not be read back whole. */
  kind: 'quota' | 'write' | 'read';
  /** The model file concerned. */
  file: string;
  /** What happened and what to do, for the user. */
  message: string;
}

/** The header each stored entry carries with its length, so a truncated entry is recognised on the way out. */
const LENGTH_HEADER = 'x-fitprune-bytes';

export const BROWSER_CACHE_NAME = 'fitprune-web-models-v2';
/** Caches of earlier versions of this code (keyed without file versions): deleted on first use. */
const STALE_CACHE_NAMES = ['fitprune-web-models-v1'];

interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
  delete(name: string): Promise<boolean>;
}

async function defaultCache(): Promise<CacheLike | null> {
  const caches = (globalThis as { caches?: CacheStorageLike }).caches;
  if (!caches) return null;
  try {
    for (const name of STALE_CACHE_NAMES) await caches.delete(name).catch(() => false);
    return await caches.open(BROWSER_CACHE_NAME);
  } catch {
    return null; // e.g. opaque origins
  }
}

/** How a failed fetch is reported; an offline load recognises it to fall back on the cache. */
const NETWORK_ERROR = 'network error';

/** What a server says about one file: its size and a validator that changes when its bytes do. */
interface FileVersion {
  size: number;
  /** The ETag, else Last-Modified, else only the size (all a server without either allows). */
  validator: string;
  /** The ETag, when the server sends one: later responses are checked against it. */
  etag?: string;
}

export interface HttpSourceOptions {
  fetch?: typeof fetch;
  /** A Cache API cache; default: the browser's, when there is one. null disables caching. */
  cache?: CacheLike | null;
  headers?: Record<string, string>;
  description?: string;
  /**
   * Why a URL may not serve the model, or null (openSource passes modelUrlProblem): checked on
   * the final URL of every response, so a redirect to a refused host is refused too.
   */
  checkUrl?: (url: string) => string | null;
  /**
   * Told once per source and kind when the cache fails (a full quota, a refused write, an
   * entry that does not read back); the download goes on regardless. Default: console.warn.
   */
  onCacheWarning?: (warning: CacheWarning) => void;
}

/**
 * Files under a base URL, read with HTTP Range requests so only the bytes needed (headers,
 * then the tensors a model uses) are transferred. Every read is bounded: a ranged read takes
 * exactly the bytes asked for (the stream is cancelled after them); a server that ignores Range
 * (200 instead of 206) is read only up to the range's end, and refused when that is over
 * MAX_RANGE_IGNORED_BYTES; a whole-file read stops at its cap (ReadOptions.maxBytes). Responses are cached per (url, file version, range) in the Cache API
 * when available. The version comes from one 1-byte request per file and load (its ETag or
 * Last-Modified), so a model re-published at the same URL is fetched again rather than served
 * stale; when the server is unreachable, the last version seen is used, so a cached model
 * still loads offline.
 */
export class HttpSource implements ModelSource {
  readonly description: string;
  private readonly fetchFn: typeof fetch;
  private cachePromise: Promise<CacheLike | null>;
  /** Per file: its version as first seen in this source's lifetime, or why it was not found. */
  private readonly versions = new Map<string, Promise<FileVersion | ModelFileError>>();
  /**
   * Cleared by the first failed write: after a full quota every later put would fail too,
   * each after copying its bytes, so the rest of this source's files go uncached.
   */
  private cacheWrites = true;
  private readonly warned = new Set<CacheWarning['kind']>();

  constructor(
    readonly baseUrl: string,
    private readonly options: HttpSourceOptions = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.description = options.description ?? this.baseUrl;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.cachePromise = options.cache !== undefined ? Promise.resolve(options.cache) : defaultCache();
  }

  url(file: string): string {
    return `${this.baseUrl}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * Cache API key of a file's size or byte range. A query parameter, not a #fragment: the Cache
   * API drops fragments when matching, so "#size" and every "#bytes=…" key would collide with
   * the whole file's (a read of tokenizer.json returned the cached size "18511").
   */
  private cacheKey(file: string, tag?: string): string {
    const url = this.url(file);
    return tag ? `${url}${url.includes('?') ? '&' : '?'}fitprune-cache=${encodeURIComponent(tag)}` : url;
  }

  private warn(kind: CacheWarning['kind'], file: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    const warning: CacheWarning = { kind, file, message };
    if (this.options.onCacheWarning) this.options.onCacheWarning(warning);
    else console.warn(`${this.description}: ${message}`);
  }

  /**
   * A stored entry, or null to fetch it again: a miss, an entry that fails to read (storage
   * evicted or corrupted under us), or one whose length is not the length it was stored with
   * (or, for a byte range, not the range's). A bad entry is deleted so no later load trusts it.
   */
  private async cached(file: string, key: string, expectedBytes?: number): Promise<Uint8Array | null> {
    const cache = await this.cachePromise;
    if (!cache) return null;
    let hit: Response | undefined;
    try {
      hit = await cache.match(key);
    } catch {
      return null; // the cache cannot be searched: the network it is
    }
    if (!hit) return null;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await hit.arrayBuffer());
    } catch (e) {
      await this.forget(cache, key);
      this.warn('read', file, `a cached copy of ${file} could not be read back (${errorText(e)}); it was deleted and is downloaded again`);
      return null;
    }
    const stored = hit.headers.get(LENGTH_HEADER);
    const bad =
      (stored !== null && Number(stored) !== bytes.byteLength) || (expectedBytes !== undefined && bytes.byteLength !== expectedBytes);
    if (bad) {
      await this.forget(cache, key);
      this.warn('read', file, `a cached copy of ${file} was incomplete (${bytes.byteLength} bytes, expected ${expectedBytes ?? stored}); it was deleted and is downloaded again`);
      return null;
    }
    return bytes;
  }

  private async forget(cache: CacheLike, key: string): Promise<void> {
    await cache.delete?.(key).catch(() => false);
  }

  /**
   * Stores an entry, best effort: a failure (a full quota above all) never fails the read, whose
   * bytes are already in memory. The entry is deleted in case the failed put left part of it,
   * writes stop for this source, and the user is told once why the next load downloads again.
   */
  private async remember(file: string, key: string, bytes: Uint8Array): Promise<void> {
    if (!this.cacheWrites) return;
    const cache = await this.cachePromise;
    if (!cache) return;
    try {
      await cache.put(key, new Response(bytes.slice(), { status: 200, headers: { [LENGTH_HEADER]: String(bytes.byteLength) } }));
    } catch (e) {
      this.cacheWrites = false;
      await this.forget(cache, key);
      const quota = (e as { name?: unknown } | null)?.name === 'QuotaExceededError';
      this.warn(
        quota ? 'quota' : 'write',
        file,
        quota
          ? `model files are no longer being cached: the browser's storage for this site is full (QuotaExceededError storing ${file}). This load goes on from the network; the next load downloads the uncached files again. Free space with "Clear cached model files" or in the browser's site settings.`
          : `model files are no longer being cached: the browser refused to store ${file} (${errorText(e)}). This load goes on from the network; the next load downloads the uncached files again.`,
      );
    }
  }

  private async get(file: string, range: { start: number; end: number } | null, options?: ReadOptions): Promise<Response> {
    const url = this.url(file);
    const headers: Record<string, string> = { ...this.options.headers };
    if (range) headers['Range'] = `bytes=${range.start}-${range.end - 1}`;
    let response: Response;
    try {
      response = await this.fetchFn(url, { headers, signal: options?.signal });
    } catch (e) {
      options?.signal?.throwIfAborted();
      throw new ModelFileError(file, `${NETWORK_ERROR} fetching ${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const landed = response.url;
    const problem = landed && landed !== url ? this.options.checkUrl?.(landed) : null;
    if (problem) {
      await response.body?.cancel().catch(() => undefined);
      throw new ModelFileError(file, `${url} redirected to a refused URL: ${problem}`);
    }
    if (response.status === 404) throw new ModelFileError(file, `not found at ${url} (HTTP 404)`);
    if (response.status === 401 || response.status === 403) {
      throw new ModelFileError(file, `access denied at ${url} (HTTP ${response.status}): the model may be gated or private; pass a token`);
    }
    if (!response.ok) throw new ModelFileError(file, `HTTP ${response.status} ${response.statusText} from ${url}`);
    // Single-page-app servers (Vite's dev server among them) answer a missing file with their
    // index page and status 200; no model file is HTML, so that is a 404.
    if (!file.endsWith('.html') && response.headers.get('content-type')?.startsWith('text/html')) {
      await response.body?.cancel();
      throw new ModelFileError(file, `not found at ${url} (HTTP 404: the server answered with an HTML page)`);
    }
    return response;
  }

  async stat(file: string, options?: ReadOptions): Promise<{ size: number } | null> {
    const version = await this.version(file, options);
    return version instanceof ModelFileError ? null : { size: version.size };
  }

  private version(file: string, options?: ReadOptions): Promise<FileVersion | ModelFileError> {
    let known = this.versions.get(file);
    if (!known) {
      known = this.fetchVersion(file, options);
      this.versions.set(file, known);
      known.catch(() => this.versions.delete(file)); // an abort or a network error is not the answer
    }
    return known;
  }

  /** The file's version, or the not-found error (a missing file is an answer, not a failure). */
  private async fetchVersion(file: string, options?: ReadOptions): Promise<FileVersion | ModelFileError> {
    const key = this.cacheKey(file, 'version');
    let response: Response;
    try {
      response = await this.get(file, { start: 0, end: 1 }, options);
    } catch (e) {
      if (e instanceof ModelFileError && /HTTP 404/.test(e.message)) return e;
      if (e instanceof ModelFileError && e.message.includes(NETWORK_ERROR)) {
        const hit = await this.cached(file, key); // offline: the version this browser saw last
        const seen = hit ? parseVersion(hit) : null;
        if (seen) return seen;
      }
      throw e;
    }
    await response.body?.cancel();
    const contentRange = response.headers.get('content-range');
    const total = contentRange ? Number(/\/(\d+)\s*$/.exec(contentRange)?.[1]) : NaN;
    // Without a Content-Range the server ignored Range: its Content-Length is the file size.
    const size = response.status === 206 && Number.isFinite(total) ? total : Number(response.headers.get('content-length') ?? NaN);
    if (!Number.isFinite(size)) throw new ModelFileError(file, `${this.url(file)} gave no file size (no Content-Range or Content-Length)`);
    const etag = response.headers.get('etag') ?? undefined;
    const tag = etag ?? response.headers.get('last-modified');
    const version: FileVersion = { size, validator: tag ? `${tag} ${size}` : `${size}`, etag };
    await this.remember(file, key, new TextEncoder().encode(JSON.stringify(version)));
    return version;
  }

  async read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array> {
    if (range) checkRange(file, range);
    if (range && range.end <= range.start) return new Uint8Array(0);
    const version = await this.version(file, options);
    if (version instanceof ModelFileError) throw version;
    const url = this.url(file);
    const cap = options?.maxBytes ?? MAX_WHOLE_READ_BYTES;
    if (!range && version.size > cap) throw tooLargeError(file, version.size, cap, url);
    const key = this.cacheKey(file, `${version.validator}|${range ? `bytes=${range.start}-${range.end}` : 'all'}`);
    const hit = await this.cached(file, key, range ? range.end - range.start : undefined);
    if (hit) {
      options?.onBytes?.(hit.byteLength);
      return hit;
    }
    const response = await this.get(file, range ?? null, options);
    const tag = response.headers.get('etag');
    if (tag && version.etag && tag !== version.etag) {
      await response.body?.cancel();
      throw new ModelFileError(file, `${url} changed on the server while loading (ETag ${tag}); load the model again`);
    }
    let bytes: Uint8Array;
    if (!range) {
      // A whole file: stopped at the cap whatever the server says or sends.
      const length = Number(response.headers.get('content-length') ?? NaN);
      if (Number.isFinite(length) && length > cap) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLargeError(file, length, cap, url);
      }
      bytes = await readBody(response, file, cap + 1, options);
      if (bytes.byteLength > cap) throw tooLargeError(file, `sent more than ${formatBytes(cap)}`, cap, url);
    } else if (response.status === 206) {
      const cr = response.headers.get('content-range');
      const m = cr ? /bytes (\d+)-(\d+)\//.exec(cr) : null;
      if (m && Number(m[1]) !== range.start) {
        await response.body?.cancel().catch(() => undefined);
        throw new ModelFileError(file, `server answered bytes ${m[1]}-${m[2]} for a request of ${range.start}-${range.end - 1}`);
      }
      // Exactly the bytes asked for: anything past them is not even downloaded.
      bytes = await readBody(response, file, range.end - range.start, options);
    } else {
      // Range ignored (HTTP 200, the file from its first byte): read up to the range's end
      // and cancel the rest, unless even that prefix is over the cap.
      if (range.end > MAX_RANGE_IGNORED_BYTES) {
        await response.body?.cancel().catch(() => undefined);
        throw new ModelFileError(
          file,
          `${url} ignored the Range request for bytes ${range.start}-${range.end - 1} (HTTP ${response.status} instead of 206): reading them would download the first ${formatBytes(range.end)} of the file, over the ${formatBytes(MAX_RANGE_IGNORED_BYTES)} limit for a server without Range support; serve the model from one that honours Range (the Hub, a CDN, vite, nginx)`,
        );
      }
      bytes = (await readBody(response, file, range.end, options)).subarray(range.start);
    }
    if (range && bytes.byteLength !== range.end - range.start) {
      throw new ModelFileError(file, `short read from ${url}: ${bytes.byteLength} of ${range.end - range.start} bytes`);
    }
    // A whole file that is not the size its version check gave (a body cut short without a
    // transport error, or a server that disagrees with itself) is used but not stored: a later
    // load would otherwise trust the odd copy for as long as the version stays the same.
    if (range || bytes.byteLength === version.size) await this.remember(file, key, bytes);
    return bytes;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** A stored version entry, or null when it is not one (then it is fetched again, or the load fails as offline). */
function parseVersion(bytes: Uint8Array): FileVersion | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<FileVersion> | null;
    if (!v || !Number.isSafeInteger(v.size) || (v.size as number) < 0 || typeof v.validator !== 'string') return null;
    if (v.etag !== undefined && typeof v.etag !== 'string') return null;
    return { size: v.size as number, validator: v.validator, etag: v.etag };
  } catch {
    return null;
  }
}

/**
 * A server that ignores Range sends every ranged read from byte 0. Prefixes up to this long are
 * read (and the rest cancelled), so a small model still loads from e.g. `python3 -m http.server`;
 * a tensor or header further into the file is refused instead of downloading the file up to it
 * once per tensor.
 */
export const MAX_RANGE_IGNORED_BYTES = 256 * 1024 * 1024;

/**
 * The body, at most `limit` bytes: the stream is cancelled as soon as the limit is reached, so
 * a server that sends more (or without end) is never buffered past it.
 */
async function readBody(response: Response, file: string, limit: number, options?: ReadOptions): Promise<Uint8Array> {
  if (!response.body) {
    const b = new Uint8Array(await response.arrayBuffer()).subarray(0, limit);
    options?.onBytes?.(b.byteLength);
    return b;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const onAbort = () => void reader.cancel().catch(() => undefined);
  options?.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (total < limit) {
      options?.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.byteLength > limit - total ? value.subarray(0, limit - total) : value;
      chunks.push(part);
      total += part.byteLength;
      options?.onBytes?.(part.byteLength);
    }
    options?.signal?.throwIfAborted();
  } catch (e) {
    options?.signal?.throwIfAborted();
    throw new ModelFileError(file, `download interrupted: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    options?.signal?.removeEventListener('abort', onAbort);
  }
  // At the limit with the stream still open: stop the download rather than drain it.
  if (total >= limit) await reader.cancel().catch(() => undefined);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A Hugging Face Hub model by id: files at `${endpoint}/${id}/resolve/${revision}/…`. */
export function hubSource(
  modelId: string,
  options: HttpSourceOptions & { revision?: string; endpoint?: string; token?: string } = {},
): HttpSource {
  if (!HUB_ID.test(modelId)) {
    throw new ModelFileError(modelId, 'is not a Hugging Face model id (expected "owner/name", e.g. llava-hf/llava-1.5-7b-hf)');
  }
  const revision = options.revision ?? 'main';
  const endpoint = (options.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
  const headers = { ...options.headers, ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}) };
  return new HttpSource(`${endpoint}/${modelId}/resolve/${encodeURIComponent(revision)}`, {
    ...options,
    headers,
    description: `hub:${modelId}@${revision}`,
  });
}

/** Files the browser holds: a dropped folder, an <input webkitdirectory>, or picked files. */
export class FilesSource implements ModelSource {
  private readonly files = new Map<string, Blob>();

  constructor(
    files: Iterable<File | { name: string; blob: Blob }>,
    readonly description = 'local files',
  ) {
    for (const f of files) {
      if ('blob' in f) {
        this.files.set(f.name, f.blob);
      } else {
        // webkitRelativePath is "folder/file"; keep the path below the picked folder.
        const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
        const name = rel ? rel.split('/').slice(1).join('/') || f.name : f.name;
        this.files.set(name, f);
      }
    }
  }

  /** The top level of a folder picked with showDirectoryPicker(). */
  static async fromDirectory(dir: FileSystemDirectoryHandle): Promise<FilesSource> {
    const files: { name: string; blob: Blob }[] = [];
    for await (const entry of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
      if (entry.kind === 'file') files.push({ name: entry.name, blob: await (entry as FileSystemFileHandle).getFile() });
    }
    return new FilesSource(files, dir.name);
  }

  async stat(file: string): Promise<{ size: number } | null> {
    const b = this.files.get(file);
    return b ? { size: b.size } : null;
  }

  async read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted();
    const b = this.files.get(file);
    if (!b) throw new ModelFileError(file, `not found in ${this.description}`);
    if (range) checkRange(file, range);
    const cap = options?.maxBytes ?? MAX_WHOLE_READ_BYTES;
    if (!range && b.size > cap) throw tooLargeError(file, b.size, cap, this.description);
    const bytes = new Uint8Array(await (range ? b.slice(range.start, range.end) : b).arrayBuffer());
    options?.signal?.throwIfAborted();
    options?.onBytes?.(bytes.byteLength);
    return bytes;
  }
}
