import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { NodeDirSource } from '../../src/load/node-dir-source';
import { encodeSafetensors } from '../../src/load/safetensors';
import { resolveSource } from '../../src/engine/engine';
import { FilesSource, hubSource, HttpSource, type CacheLike, type CacheWarning } from '../../src/load/sources';
import { MemorySource, readText } from '../../src/load/source';

const f32 = (n: number, v: number) => new Uint8Array(new Float32Array(n).fill(v).buffer);
// Two shards, one big tensor in each: a full download would be visible in the byte counts.
const shard1 = encodeSafetensors([{ name: 'big1', dtype: 'F32', shape: [50_000], data: f32(50_000, 1) }, { name: 'small', dtype: 'F32', shape: [4], data: f32(4, 2) }]);
const shard2 = encodeSafetensors([{ name: 'big2', dtype: 'F32', shape: [50_000], data: f32(50_000, 3) }]);
const files: Record<string, Uint8Array> = {
  'model-00001-of-00002.safetensors': shard1,
  'model-00002-of-00002.safetensors': shard2,
  'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ weight_map: { big1: 'model-00001-of-00002.safetensors', small: 'model-00001-of-00002.safetensors', big2: 'model-00002-of-00002.safetensors' } })),
};

interface Hit {
  path: string;
  range: string | undefined;
  bytes: number;
}
let server: Server;
let base = '';
let hits: Hit[] = [];
let honourRange = true;
/** The ETag the server gives every file; a test bumps it when it re-publishes. */
let etag = '"v1"';

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(req.url!.split('?')[0]!);
    const name = path.replace(/^\/(repo\/resolve\/main\/|plain\/)/, '');
    const body = files[name];
    if (!body) {
      res.writeHead(404).end();
      hits.push({ path, range: req.headers.range, bytes: 0 });
      return;
    }
    const m = honourRange ? /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') : null;
    if (m) {
      const [start, end] = [Number(m[1]), Math.min(Number(m[2]), body.length - 1)];
      const part = body.subarray(start, end + 1);
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': part.length, etag });
      res.end(part);
      hits.push({ path, range: req.headers.range, bytes: part.length });
    } else {
      res.writeHead(200, { 'content-length': body.length, etag });
      res.end(body);
      hits.push({ path, range: req.headers.range, bytes: body.length });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

// Like the real Cache API, URL fragments are ignored when storing and matching.
class MemoryCache implements CacheLike {
  readonly entries = new Map<string, ArrayBuffer>();
  async match(key: string) {
    const b = this.entries.get(key.split('#')[0]!);
    return b ? new Response(b.slice(0)) : undefined;
  }
  async put(key: string, response: Response) {
    this.entries.set(key.split('#')[0]!, await response.arrayBuffer());
  }
}

describe('HTTP sources', () => {
  it('reads only headers and the tensors asked for, with Range requests; a second load hits the cache', async () => {
    hits = [];
    honourRange = true;
    const cache = new MemoryCache();
    const ck = await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache }));
    const small = await ck.read('small');
    expect([...new Float32Array(small.slice().buffer)]).toEqual([2, 2, 2, 2]);
    const total = hits.reduce((a, h) => a + h.bytes, 0);
    expect(hits.every((h) => h.range !== undefined || h.path.endsWith('.json'))).toBe(true);
    expect(total).toBeLessThan(2000); // the two 200 kB tensors were never downloaded
    hits = [];
    const again = await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache }));
    await again.read('small');
    // Only the 1-byte version checks went out, one per file the load touched.
    expect(hits.map((h) => [h.range, h.bytes])).toEqual(hits.map(() => ['bytes=0-0', 1]));
    expect(new Set(hits.map((h) => h.path)).size).toBe(hits.length);
  });

  it('a file re-published at the same URL (same size, new ETag) is fetched again, not served stale', async () => {
    hits = [];
    const cache = new MemoryCache();
    const name = 'model-00001-of-00002.safetensors';
    const original = files[name]!;
    const first = await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache }));
    expect([...new Float32Array((await first.read('small')).slice().buffer)]).toEqual([2, 2, 2, 2]);
    const republished = encodeSafetensors([{ name: 'big1', dtype: 'F32', shape: [50_000], data: f32(50_000, 1) }, { name: 'small', dtype: 'F32', shape: [4], data: f32(4, 7) }]);
    expect(republished.byteLength).toBe(original.byteLength);
    files[name] = republished;
    etag = '"v2"';
    try {
      const second = await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache }));
      expect([...new Float32Array((await second.read('small')).slice().buffer)]).toEqual([7, 7, 7, 7]);
    } finally {
      files[name] = original;
      etag = '"v1"';
    }
  });

  it('offline, a cached model still loads from the versions seen last; an uncached one fails clearly', async () => {
    const cache = new MemoryCache();
    await (await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache }))).read('small');
    const offline: typeof fetch = async () => {
      throw new TypeError('Failed to fetch');
    };
    const ck = await openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache, fetch: offline }));
    expect([...new Float32Array((await ck.read('small')).slice().buffer)]).toEqual([2, 2, 2, 2]);
    await expect(openCheckpoint(new HttpSource(`${base}/repo/resolve/main`, { cache: new MemoryCache(), fetch: offline }))).rejects.toThrow(
      /network error fetching http:.*Failed to fetch/,
    );
  });

  it('a file that changes on the server in the middle of a load is an error, not a mix of two versions', async () => {
    const s = new HttpSource(`${base}/repo/resolve/main`, { cache: null });
    expect(await s.stat('model-00002-of-00002.safetensors')).toEqual({ size: shard2.byteLength });
    etag = '"v3"';
    try {
      await expect(s.read('model-00002-of-00002.safetensors', { start: 0, end: 8 })).rejects.toThrow(/changed on the server while loading \(ETag "v3"\); load the model again/);
    } finally {
      etag = '"v1"';
    }
  });

  it('works with a server that ignores Range', async () => {
    honourRange = false;
    try {
      const ck = await openCheckpoint(new HttpSource(`${base}/plain`, { cache: null }));
      expect([...new Float32Array((await ck.read('small')).slice().buffer)]).toEqual([2, 2, 2, 2]);
    } finally {
      honourRange = true;
    }
  });

  it('a missing file is a clear 404 error naming the URL', async () => {
    const s = new HttpSource(`${base}/repo/resolve/main`, { cache: null });
    expect(await s.stat('nope.json')).toBeNull();
    await expect(s.read('config.json')).rejects.toThrow(/config\.json: not found at http:\/\/127\.0\.0\.1:\d+\/repo\/resolve\/main\/config\.json \(HTTP 404\)/);
  });

  it('a single-page-app server answering a missing file with its HTML index counts as a 404', async () => {
    const spa: typeof fetch = async (input) =>
      String(input).endsWith('/config.json')
        ? new Response('{"model_type":"llava"}', { headers: { 'content-type': 'application/json', 'content-length': '22' } })
        : new Response('<!doctype html><html></html>', { headers: { 'content-type': 'text/html; charset=utf-8' } });
    const s = new HttpSource('http://127.0.0.1:1/m', { cache: null, fetch: spa });
    expect(await s.stat('model.safetensors.index.json')).toBeNull();
    await expect(s.read('tokenizer.json')).rejects.toThrow(/tokenizer\.json: not found at .* \(HTTP 404: the server answered with an HTML page\)/);
    expect(await s.stat('config.json')).toEqual({ size: 22 });
  });

  it('aborts a read with the signal’s reason', async () => {
    const s = new HttpSource(`${base}/repo/resolve/main`, { cache: null });
    const controller = new AbortController();
    controller.abort(new DOMException('stop', 'AbortError'));
    await expect(s.read('model-00001-of-00002.safetensors', { start: 0, end: 100 }, { signal: controller.signal })).rejects.toThrow(/stop/);
  });

  it('validates Hub model ids and builds resolve URLs', () => {
    expect(() => hubSource('not a model id')).toThrow(/is not a Hugging Face model id/);
    expect(hubSource('llava-hf/llava-1.5-7b-hf', { cache: null }).url('config.json')).toBe('https://huggingface.co/llava-hf/llava-1.5-7b-hf/resolve/main/config.json');
  });
});

/**
 * A cache with the real Cache API's shape (headers kept, delete) whose faults a test sets: puts
 * that throw after the first `putsOk` (optionally leaving part of the entry behind, as a crash
 * mid-write could), bodies stored cut short, bodies that fail when read back.
 */
class FaultyCache implements CacheLike {
  readonly entries = new Map<string, { body: Uint8Array; headers: Headers }>();
  puts = 0;
  deletes: string[] = [];
  constructor(
    private readonly faults: { putsOk?: number; putError?: () => Error; leaveHalf?: boolean; truncate?: boolean; unreadable?: boolean } = {},
  ) {}
  async match(key: string) {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.faults.unreadable) {
      const body = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new DOMException('the entry is gone from disk', 'NotReadableError')) });
      return new Response(body, { headers: e.headers });
    }
    return new Response(e.body.slice(), { headers: e.headers });
  }
  async put(key: string, response: Response) {
    const body = new Uint8Array(await response.arrayBuffer());
    this.puts++;
    if (this.puts > (this.faults.putsOk ?? Infinity)) {
      if (this.faults.leaveHalf) this.entries.set(key, { body: body.subarray(0, body.length >> 1), headers: response.headers });
      throw this.faults.putError?.() ?? new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    }
    this.entries.set(key, { body: this.faults.truncate ? body.subarray(0, Math.max(0, body.length - 1)) : body, headers: response.headers });
  }
  async delete(key: string) {
    this.deletes.push(key);
    return this.entries.delete(key);
  }
}

describe('HTTP sources when the Cache API fails', () => {
  const repo = () => `${base}/repo/resolve/main`;
  const smallValues = async (s: HttpSource) => [...new Float32Array((await (await openCheckpoint(s)).read('small')).slice().buffer)];

  it('a full quota (put throws QuotaExceededError) does not fail the load: one warning, writes stop, nothing left behind', async () => {
    honourRange = true;
    const cache = new FaultyCache({ putsOk: 0, leaveHalf: true });
    const warnings: CacheWarning[] = [];
    const source = new HttpSource(repo(), { cache, onCacheWarning: (w) => warnings.push(w) });
    expect(await smallValues(source)).toEqual([2, 2, 2, 2]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.kind).toBe('quota');
    expect(warnings[0]!.message).toMatch(/no longer being cached: the browser's storage for this site is full \(QuotaExceededError storing .+\)\. This load goes on from the network; .*Clear cached model files/);
    // The first put failed; no further file was copied for a cache that cannot take it.
    expect(cache.puts).toBe(1);
    // The part the failed put left was deleted: nothing for the next load to trust.
    expect(cache.entries.size).toBe(0);
    expect(cache.deletes).toHaveLength(1);
    // The next load (a new source on the same cache) downloads and answers the same.
    hits = [];
    expect(await smallValues(new HttpSource(repo(), { cache, onCacheWarning: () => undefined }))).toEqual([2, 2, 2, 2]);
    expect(hits.some((h) => h.bytes > 1)).toBe(true);
  });

  it('a quota error after some files were stored keeps those (whole and usable) and the load goes on', async () => {
    const cache = new FaultyCache({ putsOk: 3 });
    const warnings: CacheWarning[] = [];
    expect(await smallValues(new HttpSource(repo(), { cache, onCacheWarning: (w) => warnings.push(w) }))).toEqual([2, 2, 2, 2]);
    expect(warnings.map((w) => w.kind)).toEqual(['quota']);
    expect(cache.entries.size).toBe(3);
    expect(await smallValues(new HttpSource(repo(), { cache, onCacheWarning: (w) => warnings.push(w) }))).toEqual([2, 2, 2, 2]);
  });

  it('any other put error is a "write" warning; without a callback it goes to console.warn once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const cache = new FaultyCache({ putsOk: 0, putError: () => new TypeError('Request scheme is unsupported') });
      expect(await smallValues(new HttpSource(repo(), { cache }))).toEqual([2, 2, 2, 2]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/no longer being cached: the browser refused to store .* \(TypeError: Request scheme is unsupported\)/);
    } finally {
      warn.mockRestore();
    }
  });

  it('an entry that fails to read back is deleted and fetched again', async () => {
    const good = new FaultyCache();
    await smallValues(new HttpSource(repo(), { cache: good }));
    const unreadable = new FaultyCache({ unreadable: true });
    for (const [k, v] of good.entries) unreadable.entries.set(k, v);
    const warnings: CacheWarning[] = [];
    hits = [];
    expect(await smallValues(new HttpSource(repo(), { cache: unreadable, onCacheWarning: (w) => warnings.push(w) }))).toEqual([2, 2, 2, 2]);
    expect(warnings.map((w) => w.kind)).toEqual(['read']);
    expect(warnings[0]!.message).toMatch(/could not be read back \(NotReadableError: the entry is gone from disk\); it was deleted and is downloaded again/);
    expect(unreadable.deletes.length).toBeGreaterThan(0);
    expect(hits.some((h) => h.bytes > 1)).toBe(true);
  });

  it('an entry stored cut short (its length is not the length it was stored with) is deleted and fetched again', async () => {
    const cache = new FaultyCache({ truncate: true });
    const first = new HttpSource(repo(), { cache });
    expect(await smallValues(first)).toEqual([2, 2, 2, 2]);
    const stored = cache.entries.size;
    expect(stored).toBeGreaterThan(0);
    const warnings: CacheWarning[] = [];
    hits = [];
    expect(await smallValues(new HttpSource(repo(), { cache, onCacheWarning: (w) => warnings.push(w) }))).toEqual([2, 2, 2, 2]);
    expect(warnings.map((w) => w.kind)).toEqual(['read']);
    expect(warnings[0]!.message).toMatch(/was incomplete \(\d+ bytes, expected \d+\)/);
    expect(cache.deletes.length).toBeGreaterThan(0);
    expect(hits.some((h) => h.bytes > 1)).toBe(true);
  });

  it('a whole file that is not the size its version check said is returned but not stored', async () => {
    const cache = new FaultyCache();
    const fetchFn: typeof fetch = async (_input, init) => {
      const range = new Headers(init?.headers).get('range');
      return range
        ? new Response('{', { status: 206, headers: { 'content-range': 'bytes 0-0/40', etag: '"a"' } })
        : new Response('{"model_type":"llava"}', { headers: { etag: '"a"' } });
    };
    const source = new HttpSource('https://models.example/m', { cache, fetch: fetchFn });
    expect(await readText(source, 'config.json')).toBe('{"model_type":"llava"}');
    expect([...cache.entries.keys()].filter((k) => k.includes('%7Call'))).toEqual([]);
    expect([...cache.entries.keys()].some((k) => k.includes('version'))).toBe(true);
    // The same file at the size it announced is stored.
    const honest: typeof fetch = async (_input, init) =>
      new Headers(init?.headers).get('range')
        ? new Response('{', { status: 206, headers: { 'content-range': 'bytes 0-0/22', etag: '"b"' } })
        : new Response('{"model_type":"llava"}', { headers: { etag: '"b"' } });
    expect(await readText(new HttpSource('https://models.example/m', { cache, fetch: honest }), 'config.json')).toBe('{"model_type":"llava"}');
    expect([...cache.entries.keys()].filter((k) => k.includes('%7Call'))).toHaveLength(1);
  });

  it('offline, a corrupt stored version is not trusted: the load fails as offline, not with a JSON error', async () => {
    const cache = new FaultyCache();
    await smallValues(new HttpSource(repo(), { cache }));
    for (const [k, e] of cache.entries) if (k.includes('fitprune-cache=version')) cache.entries.set(k, { body: new TextEncoder().encode('{"size":'), headers: new Headers() });
    const offline: typeof fetch = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(openCheckpoint(new HttpSource(repo(), { cache, fetch: offline }))).rejects.toThrow(/network error fetching http:.*Failed to fetch/);
  });
});

describe('local sources', () => {
  it('a Node folder and memory give the same bytes and ranges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fitprune-src-'));
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const disk = new NodeDirSource(dir);
    const memory = new MemorySource(new Map(Object.entries(files)));
    for (const s of [disk, memory]) {
      const ck = await openCheckpoint(s);
      expect(new Float32Array((await ck.read('big2')).slice().buffer)[49_999]).toBe(3);
    }
    expect(await disk.read('model-00002-of-00002.safetensors', { start: 3, end: 11 })).toEqual(shard2.subarray(3, 11));
    expect(await disk.stat('missing')).toBeNull();
  });
});

describe('model references', () => {
  it('picked browser files load as files, not as an in-memory map (FilesSource has a `files` field too)', async () => {
    const picked = new FilesSource([new File(['{"model_type":"llava"}'], 'config.json')], 'my-model');
    const source = await resolveSource(picked);
    expect(source).toBe(picked);
    expect(await readText(source, 'config.json')).toBe('{"model_type":"llava"}');
    const memory = await resolveSource({ files: new Map([['config.json', new TextEncoder().encode('{}')]]), name: 'mem' });
    expect(await readText(memory, 'config.json')).toBe('{}');
  }, 60_000);
});
