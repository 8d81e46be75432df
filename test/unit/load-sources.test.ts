import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { NodeDirSource } from '../../src/load/node-dir-source';
import { encodeSafetensors } from '../../src/load/safetensors';
import { resolveSource } from '../../src/engine/engine';
import { FilesSource, hubSource, HttpSource, type CacheLike } from '../../src/load/sources';
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
