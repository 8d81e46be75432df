/**
 * Fuzz cases for where a model comes from: model references as a user types them (refused
 * before any request), and an HTTP server serving the unchanged tiny model with one fault
 * (ignored Range, endless or short bodies, wrong sizes, errors, redirects to refused hosts).
 * The server is a stub fetch: no socket is opened.
 */
import { modelUrlProblem, openSource } from '../../../src/load/open';
import { HttpSource } from '../../../src/load/sources';
import { FUZZ_ARCHS, pick, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase } from '../case';
import type { Rng } from '../../../src/util/random';

const BASE = 'https://models.example/tiny';

/** References that must be refused by openSource before anything is fetched. */
const BAD_REFS: readonly [string, string][] = [
  ['http://models.example/m', 'plain http'],
  ['http://10.0.0.7/m', 'plain http'],
  ['https://user:secret@models.example/m', 'password'],
  ['https://token@models.example/m', 'user name'],
  ['https://169.254.169.254/latest/meta-data', 'link-local'],
  ['http://[fe80::1]/m', 'link-local'],
  ['ftp://models.example/m', 'only https'],
  ['file:///etc/passwd', 'only https'],
  ['javascript:alert(1)', 'neither a URL'],
  ['data:text/plain,hi', 'neither a URL'],
  ['', 'neither a URL'],
  ['owner/name/extra', 'neither a URL'],
  ['owner name/model', 'neither a URL'],
  ['../../etc', 'neither a URL'],
  ['https://', 'not a valid URL'],
  ['x'.repeat(5000), 'neither a URL'],
];

type Fault =
  | 'ignore-range'
  | 'ignore-range-endless'
  | 'endless-json'
  | 'short-206'
  | 'long-206'
  | 'error-500'
  | 'missing-tokenizer'
  | 'forbidden'
  | 'redirect-link-local'
  | 'redirect-http'
  | 'html-config'
  | 'wrong-total';

const FAULTS: readonly { fault: Fault; expect: Expectation; mentions: readonly string[] }[] = [
  { fault: 'ignore-range', expect: 'accept', mentions: [] }, // small files: read up to each range's end
  { fault: 'ignore-range-endless', expect: 'refuse', mentions: ['Range', 'limit'] },
  { fault: 'endless-json', expect: 'refuse', mentions: ['limit', 'config.json', 'tokenizer'] },
  { fault: 'short-206', expect: 'refuse', mentions: ['bytes', 'model.safetensors'] },
  { fault: 'long-206', expect: 'either', mentions: ['bytes', 'model.safetensors'] },
  { fault: 'error-500', expect: 'refuse', mentions: ['HTTP 500'] },
  { fault: 'missing-tokenizer', expect: 'refuse', mentions: ['tokenizer.json'] },
  { fault: 'forbidden', expect: 'refuse', mentions: ['403', 'access denied'] },
  { fault: 'redirect-link-local', expect: 'refuse', mentions: ['link-local'] },
  { fault: 'redirect-http', expect: 'refuse', mentions: ['plain http'] },
  { fault: 'html-config', expect: 'refuse', mentions: ['config.json'] },
  { fault: 'wrong-total', expect: 'either', mentions: ['model.safetensors', 'bytes', 'size'] },
];

function endless(chunk = 1 << 20): ReadableStream<Uint8Array> {
  const bytes = new Uint8Array(chunk).fill(0x20);
  return new ReadableStream({ pull: (c) => c.enqueue(bytes) });
}

/** A stub server for `files` under BASE with one fault (`target`: the file it hits, or all). */
function faultyFetch(files: ReadonlyMap<string, Uint8Array>, fault: Fault, target: string): typeof fetch {
  return async (input, init) => {
    const url = String(input);
    const file = decodeURIComponent(url.slice(BASE.length + 1));
    const range = (init?.headers as Record<string, string> | undefined)?.['Range'];
    const body = files.get(file);
    const hit = target === '*' || file === target;
    const withUrl = (r: Response, landed: string) => (Object.defineProperty(r, 'url', { value: landed }), r);
    if (hit && fault === 'missing-tokenizer' && file === 'tokenizer.json') return new Response('missing', { status: 404 });
    if (!body) return new Response('missing', { status: 404 });
    if (hit) {
      if (fault === 'error-500') return new Response('boom', { status: 500, statusText: 'Internal Server Error' });
      if (fault === 'forbidden') return new Response('no', { status: 403, statusText: 'Forbidden' });
      if (fault === 'redirect-link-local') return withUrl(new Response(body.slice()), `https://169.254.169.254/${file}`);
      if (fault === 'redirect-http') return withUrl(new Response(body.slice()), `http://mirror.example/${file}`);
      if (fault === 'html-config' && file === 'config.json') return new Response('<!doctype html><html>not found</html>', { headers: { 'content-type': 'text/html' } });
      if (fault === 'endless-json' && file.endsWith('.json')) return new Response(endless());
      // As a real server does: the whole file with its length (Node's fetch would add it too).
      if (fault === 'ignore-range') return new Response(body.slice(), { headers: { 'content-length': String(body.byteLength) } });
      if (fault === 'ignore-range-endless') return new Response(endless());
    }
    if (!range) return new Response(body.slice(), { headers: { 'content-length': String(body.byteLength) } });
    const m = /^bytes=(\d+)-(\d+)$/.exec(range)!;
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]) + 1, body.byteLength);
    let part = body.slice(start, end);
    let total = body.byteLength;
    if (hit && fault === 'short-206' && part.byteLength > 1) part = part.slice(0, part.byteLength - 1);
    if (hit && fault === 'long-206') part = body.slice(start, Math.min(end + 16, body.byteLength));
    if (hit && fault === 'wrong-total') total += 7;
    return new Response(part, { status: 206, headers: { 'content-range': `bytes ${start}-${end - 1}/${total}` } });
  };
}

function refCase(arch: FuzzArch, rng: Rng): FuzzCase {
  const [ref, mention] = pick(rng, BAD_REFS);
  return {
    family: 'source',
    name: `${arch}: model reference ${JSON.stringify(ref.slice(0, 60))}`,
    expect: 'refuse',
    mentions: [mention, 'refused'],
    async run() {
      // Refused by openSource itself: engine.load(ref) would reach the same check first.
      openSource(ref);
      return {};
    },
  };
}

function serverCase(arch: FuzzArch, rng: Rng, files: Map<string, Uint8Array>): FuzzCase {
  const f = pick(rng, FAULTS);
  const targets = ['*', 'config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json'];
  let target = pick(rng, targets);
  if (f.fault === 'short-206' || f.fault === 'long-206' || f.fault === 'wrong-total' || f.fault === 'ignore-range-endless') target = 'model.safetensors';
  if (f.fault === 'missing-tokenizer') target = 'tokenizer.json';
  if (f.fault === 'html-config') target = 'config.json';
  if (f.fault === 'endless-json' && target === 'model.safetensors') target = 'tokenizer.json';
  return {
    family: 'source',
    name: `${arch}: server fault ${f.fault} on ${target === '*' ? 'every file' : target}`,
    expect: f.expect,
    mentions: f.mentions,
    async run(env) {
      const source = new HttpSource(BASE, { cache: null, fetch: faultyFetch(files, f.fault, target), checkUrl: modelUrlProblem, description: `${BASE} (stub)` });
      const result = await env.loadAndAsk(source, arch);
      return { result, sameAs: f.expect === 'accept' ? await env.baseAnswer(arch) : undefined };
    },
  };
}

export const sourceCases: CaseGenerator = {
  family: 'source',
  weight: 1,
  make(rng, gen) {
    const arch = pick(rng, FUZZ_ARCHS);
    return rng.next() < 0.35 ? refCase(arch, rng) : serverCase(arch, rng, gen.baseFiles(arch));
  },
};
