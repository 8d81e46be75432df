// The Node tests' network guard (test/setup/network-guard.ts, a setup file of the unit and
// gpu-node projects): foreign hosts are refused by every client API and fail the test even when
// the code under test swallows the error; this machine and stub fetches keep working.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpSource } from '../../src/load/sources';
import { checkNoRefusedRequests, ForeignRequestError, isLoopbackHost, takeRefusedRequests } from '../setup/network-guard';

let server: http.Server;
let port = 0;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('local'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : 0;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Runs a node:http(s) request to completion: its body, or the error (thrown or emitted). */
function nodeGet(client: typeof http | typeof https, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    try {
      const req = client.get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    } catch (e) {
      reject(e);
    }
  });
}

describe('network guard in Node tests', () => {
  it('refuses fetch to a foreign host, naming the URL', async () => {
    await expect(fetch('https://huggingface.co/llava-hf/llava-1.5-7b-hf/resolve/main/config.json')).rejects.toThrow(ForeignRequestError);
    expect(takeRefusedRequests()).toEqual(['fetch https://huggingface.co/llava-hf/llava-1.5-7b-hf/resolve/main/config.json (globalThis.fetch)']);
    await expect(fetch(new Request('http://example.com/x'))).rejects.toThrow(/network guard: fetch http:\/\/example\.com\/x refused/);
    takeRefusedRequests();
  });

  it('refuses node:http, node:https, net and tls connections to foreign hosts before any DNS lookup', async () => {
    await expect(nodeGet(http, 'http://example.com/')).rejects.toThrow(/connection to example\.com:80 refused/);
    await expect(nodeGet(https, 'https://example.com/')).rejects.toThrow(/connection to example\.com:443 refused/);
    expect(() => net.connect(80, '203.0.113.7')).toThrow(/connection to 203\.0\.113\.7:80 refused/);
    expect(() => tls.connect({ host: 'example.org', port: 443 })).toThrow(/connection to example\.org:443 refused/);
    expect(takeRefusedRequests()).toHaveLength(4);
  });

  it('a refusal the code under test swallows still fails the test (the afterEach check)', async () => {
    // A loader that catches network errors (HttpSource turns them into "network error ...")
    // would let a foreign request pass unnoticed without the after-test check.
    const source = new HttpSource('https://models.example/m', { cache: null });
    await expect(source.read('config.json')).rejects.toThrow(/network error fetching https:\/\/models\.example\/m\/config\.json/);
    expect(checkNoRefusedRequests).toThrow(/tried to reach the network outside this machine \(refused\):\n {2}fetch https:\/\/models\.example\/m\/config\.json/);
    expect(takeRefusedRequests()).toEqual([]); // the check consumed them
  });

  it('lets requests to this machine through: fetch, node:http, localhost and 127.0.0.1', async () => {
    expect(await (await fetch(`http://127.0.0.1:${port}/a`)).text()).toBe('local');
    expect(await nodeGet(http, `http://127.0.0.1:${port}/b`)).toBe('local');
    expect(await (await fetch(`http://localhost:${port}/c`).catch(() => fetch(`http://127.0.0.1:${port}/c`))).text()).toBe('local');
    expect(takeRefusedRequests()).toEqual([]);
  });

  it('stub fetches (passed to a source or stubbed globally) are not touched', async () => {
    const stub = vi.fn(async () => new Response('{}', { headers: { 'content-length': '2' } }));
    const source = new HttpSource('https://models.example/m', { cache: null, fetch: stub });
    expect(await source.stat('config.json')).toEqual({ size: 2 });
    vi.stubGlobal('fetch', stub);
    try {
      expect(await (await fetch('https://huggingface.co/x')).text()).toBe('{}');
    } finally {
      vi.unstubAllGlobals();
    }
    expect(takeRefusedRequests()).toEqual([]);
  });

  it('knows which hosts are this machine', () => {
    for (const h of ['localhost', 'LOCALHOST', 'a.localhost', '127.0.0.1', '127.9.8.7', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['example.com', 'localhost.example.com', '10.0.0.1', '169.254.169.254', '0.0.0.0', '::', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });
});
