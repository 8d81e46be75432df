// The page's data-set loader (src/app/data.ts) with a stub fetch: every fetch of a JSONL,
// samples.json or an image is byte-capped (refused by Content-Length, or the download stopped
// at the cap, naming the file and the cap) and stays on the JSONL's origin and folder, also
// after redirects (issue 25: "a served JSONL can point the page at another origin").
import { describe, expect, it } from 'vitest';
import { fetchSampleImage, loadDatasetFrom, loadSamplesFrom, MAX_SAMPLES_JSON_BYTES } from '../../src/app/data';
import { MAX_DATASET_JSONL_BYTES } from '../../src/data/dataset';
import { MAX_ENCODED_IMAGE_BYTES } from '../../src/preprocess/image-input';

const ORIGIN = 'https://page.example';
const LIST = `${ORIGIN}/data/shapes/eval.jsonl`;
const png = (n: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(7);

interface Served {
  body?: BodyInit;
  headers?: Record<string, string>;
  status?: number;
  /** The URL the response says it came from (a redirect). */
  landed?: string;
}

/** A fetch answering from a table; records every URL asked for. */
function stubFetch(table: Record<string, Served>) {
  const asked: string[] = [];
  const fetchFn: typeof fetch = async (input) => {
    const url = String(input);
    asked.push(url);
    const s = table[url];
    if (!s) return new Response('missing', { status: 404, statusText: 'Not Found' });
    const r = new Response(s.body ?? null, { status: s.status ?? 200, headers: s.headers });
    if (s.landed) Object.defineProperty(r, 'url', { value: s.landed });
    return r;
  };
  return { fetchFn, asked };
}

/** A body that never ends (1 MiB chunks), counting what was pulled from it. */
function endless(): { stream: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let pulled = 0;
  let cancelled = false;
  const chunk = new Uint8Array(1024 * 1024);
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += chunk.byteLength;
      c.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

const jsonl = (...images: string[]) => images.map((image) => JSON.stringify({ image, question: 'What shape?', answer: 'circle' })).join('\n');

describe('page data sets (src/app/data.ts)', () => {
  it('loads a JSONL and its images from the JSONL folder', async () => {
    const { fetchFn, asked } = stubFetch({
      [LIST]: { body: jsonl('eval/a.png', 'eval/b.png', 'eval/c.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: png(10), headers: { 'content-type': 'image/png' } },
      [`${ORIGIN}/data/shapes/eval/b.png`]: { body: png(20), headers: { 'content-type': 'image/png' } },
    });
    const items = await loadDatasetFrom(LIST, 2, { fetch: fetchFn });
    expect(items.map((i) => [i.path, i.image.size, i.image.type, i.answer])).toEqual([
      ['eval/a.png', 10, 'image/png', 'circle'],
      ['eval/b.png', 20, 'image/png', 'circle'],
    ]);
    expect(asked).toEqual([LIST, `${ORIGIN}/data/shapes/eval/a.png`, `${ORIGIN}/data/shapes/eval/b.png`]);
  });

  it('refuses a JSONL that is not UTF-8 (a Latin-1 é would become U+FFFD in the question), naming the line', async () => {
    const latin1 = new Uint8Array([...new TextEncoder().encode('{"image": "eval/a.png", "question": "caf'), 0xe9, ...new TextEncoder().encode('?"}')]);
    const { fetchFn } = stubFetch({ [LIST]: { body: latin1 } });
    await expect(loadDatasetFrom(LIST, 10, { fetch: fetchFn })).rejects.toThrow(/eval\.jsonl.*UTF-8/);
  });

  it('refuses a JSONL whose Content-Length is over the cap, naming the file and the cap', async () => {
    const { fetchFn } = stubFetch({ [LIST]: { body: 'x', headers: { 'content-length': String(MAX_DATASET_JSONL_BYTES + 1) } } });
    await expect(loadDatasetFrom(LIST, 10, { fetch: fetchFn })).rejects.toThrow(
      /^eval\.jsonl: https:\/\/page\.example\/data\/shapes\/eval\.jsonl is 33554433 bytes, over the 32 MiB limit for this file; it is refused, not downloaded$/,
    );
  });

  it('stops reading a JSONL that streams without end at the cap', async () => {
    const body = endless();
    const { fetchFn } = stubFetch({ [LIST]: { body: body.stream } });
    await expect(loadDatasetFrom(LIST, 10, { fetch: fetchFn })).rejects.toThrow(/^eval\.jsonl: .* sent more than 32 MiB, over the 32 MiB limit for this file/);
    expect(body.cancelled()).toBe(true);
    expect(body.pulled()).toBeLessThanOrEqual(MAX_DATASET_JSONL_BYTES + 3 * 1024 * 1024); // the cap and the stream's read-ahead
  });

  it('refuses an image over the cap (declared or streamed) and cancels the other downloads', async () => {
    const huge = endless();
    const slow = endless();
    const { fetchFn } = stubFetch({
      [LIST]: { body: jsonl('eval/a.png', 'eval/b.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: huge.stream, headers: { 'content-type': 'image/png' } },
      [`${ORIGIN}/data/shapes/eval/b.png`]: { body: slow.stream, headers: { 'content-type': 'image/png' } },
    });
    await expect(loadDatasetFrom(LIST, 2, { fetch: fetchFn })).rejects.toThrow(/eval\.jsonl item \d image eval\/[ab]\.png: .* sent more than 64 MiB, over the 64 MiB limit for this file/);
    expect(huge.cancelled() || slow.cancelled()).toBe(true);
    expect(huge.pulled() + slow.pulled()).toBeLessThanOrEqual(2 * MAX_ENCODED_IMAGE_BYTES + 6 * 1024 * 1024);

    const declared = stubFetch({
      [LIST]: { body: jsonl('eval/a.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: png(1), headers: { 'content-length': String(100 * 1024 * 1024) } },
    });
    await expect(loadDatasetFrom(LIST, 1, { fetch: declared.fetchFn })).rejects.toThrow(/^eval\.jsonl item 1 image eval\/a\.png: .*\/eval\/a\.png is 100 MiB, over the 64 MiB limit/);
  });

  it('never requests an image outside the JSONL folder or origin', async () => {
    for (const image of ['https://evil.example/x.png', '//evil.example/x.png', '/etc/passwd', '../other/x.png', 'eval/%2e%2e/%2e%2e/x.png', 'data:image/png;base64,AAAA']) {
      const { fetchFn, asked } = stubFetch({ [LIST]: { body: jsonl(image) } });
      await expect(loadDatasetFrom(LIST, 1, { fetch: fetchFn }), image).rejects.toThrow(/"image"/);
      expect(asked, image).toEqual([LIST]);
    }
  });

  it('refuses a JSONL or image whose redirect leaves the folder or the origin', async () => {
    const offOrigin = stubFetch({
      [LIST]: { body: jsonl('eval/a.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: png(4), landed: 'https://evil.example/a.png' },
    });
    await expect(loadDatasetFrom(LIST, 1, { fetch: offOrigin.fetchFn })).rejects.toThrow(
      /eval\.jsonl item 1 image eval\/a\.png: .* redirected to https:\/\/evil\.example\/a\.png, which is refused: it is on https:\/\/evil\.example, not the data set's origin https:\/\/page\.example/,
    );
    const offFolder = stubFetch({ [LIST]: { body: jsonl('eval/a.png'), landed: `${ORIGIN}/private/eval.jsonl` } });
    await expect(loadDatasetFrom(LIST, 1, { fetch: offFolder.fetchFn })).rejects.toThrow(/redirected to .*\/private\/eval\.jsonl, which is refused: it is outside the data set's folder https:\/\/page\.example\/data\/shapes\//);
    // Inside the folder, a redirect is fine.
    const inside = stubFetch({
      [LIST]: { body: jsonl('eval/a.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: png(4), landed: `${ORIGIN}/data/shapes/eval/v2/a.png` },
    });
    expect((await loadDatasetFrom(LIST, 1, { fetch: inside.fetchFn }))[0]!.image.size).toBe(4);
  });

  it('an HTML page (a single-page-app fallback) where an image should be is a not-found, and HTTP errors name the file', async () => {
    const html = stubFetch({
      [LIST]: { body: jsonl('eval/a.png') },
      [`${ORIGIN}/data/shapes/eval/a.png`]: { body: '<!doctype html>', headers: { 'content-type': 'text/html; charset=utf-8' } },
    });
    await expect(loadDatasetFrom(LIST, 1, { fetch: html.fetchFn })).rejects.toThrow(/eval\.jsonl item 1 image eval\/a\.png: not found at .* \(the server answered with an HTML page\)/);
    const missing = stubFetch({ [LIST]: { body: jsonl('eval/a.png') } });
    await expect(loadDatasetFrom(LIST, 1, { fetch: missing.fetchFn })).rejects.toThrow(/eval\.jsonl item 1 image eval\/a\.png: .*: HTTP 404 Not Found/);
  });

  it('a user abort rejects with its reason', async () => {
    const controller = new AbortController();
    const body = endless();
    const fetchFn: typeof fetch = async (_input, init) => {
      controller.abort(new DOMException('stopped by you', 'AbortError'));
      init?.signal?.throwIfAborted();
      return new Response(body.stream);
    };
    await expect(loadDatasetFrom(LIST, 1, { fetch: fetchFn, signal: controller.signal })).rejects.toThrow(/stopped by you/);
  });

  it('samples.json and sample images are capped and confined too', async () => {
    const samples = `${ORIGIN}/data/shapes/samples.json`;
    const big = stubFetch({ [samples]: { body: '[]', headers: { 'content-length': String(MAX_SAMPLES_JSON_BYTES + 1) } } });
    await expect(loadSamplesFrom(samples, { fetch: big.fetchFn })).rejects.toThrow(/^samples\.json: .* over the 1 MiB limit for this file/);
    const ok = stubFetch({
      [samples]: { body: JSON.stringify([{ image: 'samples/s.png', questions: [{ question: 'Q?', answer: 'a' }] }]) },
      [`${ORIGIN}/data/shapes/samples/s.png`]: { body: png(3), headers: { 'content-type': 'image/png' } },
    });
    const list = await loadSamplesFrom(samples, { fetch: ok.fetchFn });
    expect(list).toEqual([{ image: 'samples/s.png', url: `${ORIGIN}/data/shapes/samples/s.png`, questions: [{ question: 'Q?', answer: 'a' }] }]);
    expect((await fetchSampleImage(list[0]!, { fetch: ok.fetchFn, listUrl: samples })).size).toBe(3);
    const hostile = stubFetch({ [samples]: { body: JSON.stringify([{ image: 'https://evil.example/s.png', questions: [] }]) } });
    await expect(loadSamplesFrom(samples, { fetch: hostile.fetchFn })).rejects.toThrow(/samples\.json: "image" "https:\/\/evil\.example\/s\.png" has a scheme/);
    const endlessImage = endless();
    const stream = stubFetch({ [`${ORIGIN}/data/shapes/samples/s.png`]: { body: endlessImage.stream } });
    await expect(fetchSampleImage(list[0]!, { fetch: stream.fetchFn, listUrl: samples })).rejects.toThrow(/^sample image samples\/s\.png: .* sent more than 64 MiB/);
  });
});
