// Hostile servers and model references (issue 25, item 2 and the "lower" ones): every read is
// bounded and refused with an error naming the file and the cap; only safe URLs open.
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { modelUrlProblem, openSource } from '../../src/load/open';
import { NodeDirSource, openNodeSource } from '../../src/load/node-dir-source';
import { encodeSafetensors } from '../../src/load/safetensors';
import { MAX_TEXT_FILE_BYTES, MAX_TOKENIZER_FILE_BYTES, MemorySource, readJson, readText, textFileCap } from '../../src/load/source';
import { FilesSource, HttpSource, MAX_RANGE_IGNORED_BYTES } from '../../src/load/sources';

const MiB = 1024 * 1024;
const CHUNK = new Uint8Array(MiB);

/** A body of up to `max` bytes (default: a virtual 4 GiB) made on demand, counting what was pulled. */
function endless(max = 4096 * MiB) {
  const stats = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stats.pulled >= max) return controller.close();
      const n = Math.min(CHUNK.byteLength, max - stats.pulled);
      stats.pulled += n;
      controller.enqueue(CHUNK.subarray(0, n));
    },
    cancel() {
      stats.cancelled = true;
    },
  });
  return { stream, stats };
}

/**
 * A stub server. `probe`: the answer to the 1-byte version request (206 with this total size);
 * `body`: the answer to every other request.
 */
function stubFetch(probeSize: number, body: (range: string | null) => Response) {
  const requests: (string | null)[] = [];
  const fetchFn: typeof fetch = async (_input, init) => {
    const range = (init?.headers as Record<string, string> | undefined)?.['Range'] ?? null;
    requests.push(range);
    if (range === 'bytes=0-0') return new Response(new Uint8Array(1), { status: 206, headers: { 'content-range': `bytes 0-0/${probeSize}` } });
    return body(range);
  };
  return { fetchFn, requests };
}

describe('a hostile server cannot make a read unbounded', () => {
  it('config.json the server says is 300 MiB is refused before it is downloaded, naming the file and the 64 MiB cap', async () => {
    const { fetchFn, requests } = stubFetch(300 * MiB, () => {
      throw new Error('the body must not be requested');
    });
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    await expect(readJson(s, 'config.json')).rejects.toThrow(
      /^config\.json: is 300 MiB in https:\/\/models\.example\/m\/config\.json, over the 64 MiB limit for this file/,
    );
    expect(requests).toEqual(['bytes=0-0']);
  });

  it('config.json that says it is small but streams without end is cut at the cap and the stream cancelled', async () => {
    const { stream, stats } = endless();
    const { fetchFn } = stubFetch(100, () => new Response(stream, { status: 200 }));
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    await expect(readText(s, 'config.json')).rejects.toThrow(/^config\.json: sent more than 64 MiB in https:\/\/models\.example\/m\/config\.json, over the 64 MiB limit/);
    expect(stats.cancelled).toBe(true);
    expect(stats.pulled).toBeLessThanOrEqual(MAX_TEXT_FILE_BYTES + 3 * MiB);
  });

  it('a Content-Length over the cap is refused at the response, before the body is read', async () => {
    const { stream, stats } = endless();
    const { fetchFn } = stubFetch(100, () => new Response(stream, { status: 200, headers: { 'content-length': String(500 * MiB) } }));
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    await expect(readText(s, 'tokenizer_config.json')).rejects.toThrow(/^tokenizer_config\.json: is 500 MiB in .*, over the 64 MiB limit/);
    expect(stats.pulled).toBeLessThanOrEqual(2 * MiB);
  });

  it('tokenizer.json has its own, larger cap (128 MiB): 200 MiB is refused naming it', async () => {
    expect(textFileCap('tokenizer.json')).toBe(MAX_TOKENIZER_FILE_BYTES);
    expect(textFileCap('config.json')).toBe(MAX_TEXT_FILE_BYTES);
    const { fetchFn } = stubFetch(200 * MiB, () => {
      throw new Error('the body must not be requested');
    });
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    await expect(readJson(s, 'tokenizer.json')).rejects.toThrow(/^tokenizer\.json: is 200 MiB in .*, over the 128 MiB limit/);
  });

  it('the 8-byte header read from a server that ignores Range and streams gigabytes takes 8 bytes and cancels', async () => {
    const { stream, stats } = endless();
    const { fetchFn } = stubFetch(4096 * MiB, () => new Response(stream, { status: 200 }));
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    const first8 = await s.read('model.safetensors', { start: 0, end: 8 });
    expect(first8.byteLength).toBe(8);
    expect(stats.cancelled).toBe(true);
    expect(stats.pulled).toBeLessThanOrEqual(2 * MiB);
  });

  it('a ranged read past the Range-ignored limit is refused without reading the body, saying why', async () => {
    const { stream, stats } = endless();
    const { fetchFn } = stubFetch(4096 * MiB, () => new Response(stream, { status: 200 }));
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    const start = 1024 * MiB;
    await expect(s.read('model.safetensors', { start, end: start + 16 })).rejects.toThrow(
      /^model\.safetensors: https:\/\/models\.example\/m\/model\.safetensors ignored the Range request for bytes 1073741824-1073741839 \(HTTP 200 instead of 206\): reading them would download the first 1024 MiB of the file, over the 256 MiB limit/,
    );
    expect(stats.pulled).toBeLessThanOrEqual(MiB);
    expect(MAX_RANGE_IGNORED_BYTES).toBe(256 * MiB);
  });

  it('a 206 that streams more than the bytes asked for gives exactly those bytes and is cancelled', async () => {
    const { stream, stats } = endless();
    const { fetchFn } = stubFetch(4096 * MiB, () => new Response(stream, { status: 206, headers: { 'content-range': 'bytes 8-107/4294967296' } }));
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: fetchFn });
    expect((await s.read('model.safetensors', { start: 8, end: 108 })).byteLength).toBe(100);
    expect(stats.cancelled).toBe(true);
    expect(stats.pulled).toBeLessThanOrEqual(2 * MiB);
  });

  it('a 206 for other bytes than asked, or a short one, is refused', async () => {
    const other = stubFetch(1000, () => new Response(new Uint8Array(10), { status: 206, headers: { 'content-range': 'bytes 0-9/1000' } }));
    await expect(new HttpSource('https://m.example/m', { cache: null, fetch: other.fetchFn }).read('model.safetensors', { start: 8, end: 18 })).rejects.toThrow(
      /model\.safetensors: server answered bytes 0-9 for a request of 8-17/,
    );
    const short = stubFetch(1000, () => new Response(new Uint8Array(4), { status: 206, headers: { 'content-range': 'bytes 8-11/1000' } }));
    await expect(new HttpSource('https://m.example/m', { cache: null, fetch: short.fetchFn }).read('model.safetensors', { start: 8, end: 18 })).rejects.toThrow(
      /model\.safetensors: short read from https:\/\/m\.example\/m\/model\.safetensors: 4 of 10 bytes/,
    );
  });

  it('invalid byte ranges are refused before any request', async () => {
    const { fetchFn, requests } = stubFetch(1000, () => new Response(new Uint8Array(10), { status: 206 }));
    const s = new HttpSource('https://m.example/m', { cache: null, fetch: fetchFn });
    await expect(s.read('model.safetensors', { start: -8, end: 8 })).rejects.toThrow(/model\.safetensors: invalid byte range \[-8, 8\)/);
    await expect(s.read('model.safetensors', { start: 0, end: 1e300 })).rejects.toThrow(/invalid byte range/);
    expect(requests).toEqual([]);
  });

  it('local sources hold whole-file reads to the same caps (a sparse 200 MiB config.json on disk, 65 MiB in memory or a picked file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fitprune-hostile-'));
    writeFileSync(join(dir, 'config.json'), '');
    truncateSync(join(dir, 'config.json'), 200 * MiB); // sparse: nothing is written
    await expect(readJson(new NodeDirSource(dir), 'config.json')).rejects.toThrow(/^config\.json: is 200 MiB in .*fitprune-hostile-.*, over the 64 MiB limit/);
    const big = new Uint8Array(65 * MiB);
    await expect(readJson(new MemorySource(new Map([['preprocessor_config.json', big]])), 'preprocessor_config.json')).rejects.toThrow(
      /^preprocessor_config\.json: is 65 MiB in memory, over the 64 MiB limit/,
    );
    const picked = new FilesSource([{ name: 'chat_template.json', blob: new Blob([big]) }], 'my-model');
    await expect(readText(picked, 'chat_template.json')).rejects.toThrow(/^chat_template\.json: is 65 MiB in my-model, over the 64 MiB limit/);
  });
});

describe('a real server on 127.0.0.1 that streams without end', () => {
  let server: Server;
  let base = '';
  /** Bytes the server managed to write for the current request. */
  let written = 0;
  let closed = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.headers.range === 'bytes=0-0') {
        res.writeHead(206, { 'content-range': 'bytes 0-0/100' }).end('{');
        return;
      }
      // Ignores Range; chunked, no Content-Length; stops when the client goes away, and at
      // 1 GiB at most (a bounded loop whatever the client does).
      written = 0;
      closed = false;
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'content-type': 'application/json' });
      const write = () => {
        while (!closed && written < 1024 * MiB) {
          written += CHUNK.byteLength;
          if (!res.write(CHUNK)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('tokenizer.json is cut at 128 MiB and the connection dropped; the header read takes 8 bytes', async () => {
    const s = openSource(`${base}/m`);
    await expect(readJson(s, 'tokenizer.json')).rejects.toThrow(/^tokenizer\.json: sent more than 128 MiB in http:\/\/127\.0\.0\.1:\d+\/m\/tokenizer\.json, over the 128 MiB limit/);
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: 5000 });
    expect(written).toBeLessThan(MAX_TOKENIZER_FILE_BYTES + 64 * MiB); // socket buffers, not the whole GiB
    expect((await s.read('model.safetensors', { start: 0, end: 8 })).byteLength).toBe(8);
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: 5000 });
    expect(written).toBeLessThan(64 * MiB);
  }, 30_000);
});

describe('model references: only https, or http to this machine; no credentials; never link-local', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('accepts https anywhere and plain http to localhost, 127.0.0.0/8 and [::1]', () => {
    for (const ok of ['https://huggingface.co/x/resolve/main', 'http://localhost:5173/models/m/', 'http://127.0.0.1:8000/m', 'http://127.3.4.5/m', 'http://[::1]:8080/m', 'http://2130706433/m']) {
      expect(modelUrlProblem(ok), ok).toBeNull();
      expect(openSource(ok)).toBeInstanceOf(HttpSource);
    }
    expect(openSource('llava-hf/llava-1.5-7b-hf').description).toBe('hub:llava-hf/llava-1.5-7b-hf@main');
  });

  it('refuses link-local addresses (the cloud metadata service), over http or https, in any spelling', () => {
    for (const bad of ['http://169.254.169.254/latest/meta-data/', 'https://169.254.169.254/m', 'http://[fe80::1]/m', 'http://0xa9.0xfe.0xa9.0xfe/m', 'http://[::ffff:169.254.169.254]/m']) {
      expect(() => openSource(bad), bad).toThrow(/refused: .* is a link-local address \(169\.254\.0\.0\/16, fe80::\/10: cloud metadata services, not model servers\)/);
    }
  });

  it('refuses plain http to any other host, saying to use https', () => {
    expect(() => openSource('http://models.example.com/m')).toThrow(
      'model URL http://models.example.com/m refused: plain http:// is accepted only to localhost, 127.0.0.0/8 or [::1]; use https:// for models.example.com (an unencrypted download can be altered on the way)',
    );
    expect(() => openSource('http://192.168.1.5:5173/models/m/')).toThrow(/plain http:\/\/ is accepted only to localhost/);
    expect(() => openSource('ftp://models.example.com/m')).toThrow(/only https:\/\/ \(or http:\/\/ to localhost\) URLs serve models, not ftp:/);
    expect(() => openSource('file:///etc/passwd')).toThrow(/refused: only https:\/\//);
  });

  it('the page may load from its own origin over http (the embedded model from a LAN address), no other', () => {
    vi.stubGlobal('location', { origin: 'http://192.168.1.5:5173', href: 'http://192.168.1.5:5173/' });
    expect(modelUrlProblem('http://192.168.1.5:5173/models/fitprune-demo/')).toBeNull();
    expect(modelUrlProblem('http://192.168.1.6:5173/models/fitprune-demo/')).toMatch(/plain http:\/\/ is accepted only/);
  });

  it('refuses URLs with a user name or password, without repeating the password', () => {
    let message = '';
    try {
      openSource('https://alice:hunter2@models.example.com/m');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('model URL https://***:***@models.example.com/m refused: URLs with a user name or password are not accepted (pass a token instead)');
    expect(() => openSource('http://bob@localhost:8000/m')).toThrow(/URLs with a user name or password are not accepted/);
  });

  it('a redirect to a refused host is refused', async () => {
    const redirected: typeof fetch = async () => {
      const r = new Response('{}', { status: 200, headers: { 'content-length': '2' } });
      Object.defineProperty(r, 'url', { value: 'http://169.254.169.254/latest/config.json' });
      return r;
    };
    const s = new HttpSource('https://models.example/m', { cache: null, fetch: redirected, checkUrl: modelUrlProblem });
    await expect(readJson(s, 'config.json')).rejects.toThrow(
      /^config\.json: https:\/\/models\.example\/m\/config\.json redirected to a refused URL: 169\.254\.169\.254 is a link-local address/,
    );
  });

  it('the CLI says why a URL is refused (not "neither a folder, a URL nor a model id")', async () => {
    await expect(openNodeSource('http://169.254.169.254/m')).rejects.toThrow(/refused: 169\.254\.169\.254 is a link-local address/);
    await expect(openNodeSource('not a model')).rejects.toThrow(/is neither a folder, a URL nor a Hugging Face model id/);
  });

  it('a checkpoint through openSource still loads from a local server (nothing in the way of the normal path)', async () => {
    const st = encodeSafetensors([{ name: 't', dtype: 'F32', shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) }]);
    const server = createServer((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (!req.url!.endsWith('/model.safetensors')) return void res.writeHead(404).end();
      if (!m) return void res.writeHead(200, { 'content-length': st.length }).end(st);
      const [a, b] = [Number(m[1]), Math.min(Number(m[2]), st.length - 1)];
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${st.length}` }).end(st.subarray(a, b + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const ck = await openCheckpoint(openSource(`http://localhost:${port}/m`));
      expect([...new Float32Array((await ck.read('t')).slice().buffer)]).toEqual([1, 2]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
