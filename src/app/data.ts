// Data for the page: the shipped samples and JSONL sets (fetched from this page's own origin)
// and the user's own files (a folder or picked files), turned into image blobs the worker takes.
import { DatasetError, decodeJsonl, imagePathProblem, MAX_DATASET_JSONL_BYTES, parseJsonl, type DataItem } from '../data/dataset';
import { formatBytes } from '../load/source';
import { MAX_ENCODED_IMAGE_BYTES } from '../preprocess/image-input';
import { EMBEDDED_MODEL } from '../data/embedded';

/** The shipped data sets under the page's base URL. */
const DATA_PATH = EMBEDDED_MODEL.data.url.replace(/^\//, '');

/** URL of a file this page serves from public/ (respects Vite's base path). */
export function publicUrl(path: string): string {
  return new URL(`${import.meta.env.BASE_URL}${path}`, location.href).href;
}

export interface LoadedItem {
  image: Blob;
  /** Where the image came from (shown in errors and tables). */
  path: string;
  question: string;
  answer?: string;
  type?: string;
}

export interface Sample {
  image: string;
  url: string;
  questions: { question: string; answer: string }[];
}

const MiB = 1024 * 1024;
/** Cap of samples.json (4 KB shipped): a list of a few images and their questions. */
export const MAX_SAMPLES_JSON_BYTES = 1 * MiB;


export interface PageFetchOptions {
  signal?: AbortSignal;
  /** Default: globalThis.fetch (a test passes a stub). */
  fetch?: typeof fetch;
}

interface CappedFetch extends PageFetchOptions {
  /** What the file is, for errors ("eval.jsonl", "eval.jsonl item 3 image eval/x.png"). */
  name: string;
  /** The most bytes read; a file over it is refused, its download stopped at the cap. */
  cap: number;
  /** Why the URL a response finally came from (after redirects) may not be used, or null. */
  problem: (landed: URL) => string | null;
}

/**
 * Fetches one file of the page's own data with a byte cap: refused by its Content-Length when
 * that is over the cap, and the body is read only up to the cap (then the download is
 * cancelled), so a server that lies about the size or streams without end is not buffered. The
 * final URL after redirects is held to `problem` (the caller's origin and folder rule), and a
 * server's HTML page where a data file should be (a single-page-app fallback) is a not-found.
 */
export async function fetchCapped(url: string, o: CappedFetch): Promise<{ bytes: Uint8Array<ArrayBuffer>; type: string }> {
  const fetchFn = o.fetch ?? ((input, init) => fetch(input, init));
  let r: Response;
  try {
    r = await fetchFn(url, { signal: o.signal, credentials: 'same-origin' });
  } catch (e) {
    o.signal?.throwIfAborted();
    throw new Error(`${o.name}: could not fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const cancel = () => r.body?.cancel().catch(() => undefined);
  if (r.url && r.url !== url) {
    const problem = o.problem(new URL(r.url));
    if (problem) {
      await cancel();
      throw new DatasetError(`${o.name}: ${url} redirected to ${r.url}, which is refused: ${problem}`);
    }
  }
  if (!r.ok) {
    await cancel();
    throw new Error(`${o.name}: ${url}: HTTP ${r.status} ${r.statusText}`);
  }
  const type = r.headers.get('content-type') ?? '';
  if (type.startsWith('text/html') && !/\.html?$/i.test(new URL(url).pathname)) {
    await cancel();
    throw new Error(`${o.name}: not found at ${url} (the server answered with an HTML page)`);
  }
  const tooLarge = (what: string) => new DatasetError(`${o.name}: ${url} ${what}, over the ${formatBytes(o.cap)} limit for this file; it is refused, not downloaded`);
  // The exact count when rounding would show the size as the cap itself.
  const size = (n: number) => (formatBytes(n) === formatBytes(o.cap) ? `${n} bytes` : formatBytes(n));
  const length = Number(r.headers.get('content-length') ?? NaN);
  if (Number.isFinite(length) && length > o.cap) {
    await cancel();
    throw tooLarge(`is ${size(length)}`);
  }
  if (!r.body) {
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (bytes.byteLength > o.cap) throw tooLarge(`is ${size(bytes.byteLength)}`);
    return { bytes, type };
  }
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > o.cap) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(`sent more than ${formatBytes(o.cap)}`);
      }
      chunks.push(value);
    }
  } catch (e) {
    o.signal?.throwIfAborted();
    if (e instanceof DatasetError) throw e;
    throw new Error(`${o.name}: download of ${url} interrupted: ${e instanceof Error ? e.message : String(e)}`);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, type };
}

/** The folder of a URL ("https://h/data/shapes/" for ".../shapes/eval.jsonl"). */
function folderOf(url: URL): string {
  return url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
}

/** Why `landed` is not inside `list`'s folder on its origin, or null. */
function outsideFolder(landed: URL, list: URL): string | null {
  const folder = folderOf(list);
  if (landed.origin !== list.origin) return `it is on ${landed.origin}, not the data set's origin ${list.origin}`;
  if (!landed.pathname.startsWith(folder)) return `it is outside the data set's folder ${list.origin}${folder}`;
  return null;
}

/**
 * The URL of a data set's image: `image` resolved against the JSONL's (or samples.json's) URL,
 * refused unless it stays on that URL's origin and inside its folder, so a served JSONL cannot
 * point the page at another site or elsewhere on this one. parseJsonl has already refused
 * absolute paths, schemes and ".." above the folder; this checks what the URL parser made of it.
 */
export function datasetImageUrl(image: string, listUrl: string, where: string): string {
  const problem = imagePathProblem(image);
  if (problem) throw new DatasetError(`${where}: "image" ${JSON.stringify(image)} ${problem}`);
  const list = new URL(listUrl);
  const folder = list.pathname.slice(0, list.pathname.lastIndexOf('/') + 1);
  const url = new URL(image, list);
  if (url.origin !== list.origin || !url.pathname.startsWith(folder) || url.pathname === folder) {
    throw new DatasetError(`${where}: "image" ${JSON.stringify(image)} resolves to ${url.href}, outside the data set's folder ${list.origin}${folder}`);
  }
  return url.href;
}

export async function loadSamples(): Promise<Sample[]> {
  return loadSamplesFrom(new URL(EMBEDDED_MODEL.data.samples, publicUrl(DATA_PATH)).href);
}

/** samples.json at `url` (capped, confined to its folder), each sample's image URL checked like a data set's. */
export async function loadSamplesFrom(url: string, o: PageFetchOptions = {}): Promise<Sample[]> {
  const name = EMBEDDED_MODEL.data.samples;
  const list = new URL(url);
  const { bytes } = await fetchCapped(url, { ...o, name, cap: MAX_SAMPLES_JSON_BYTES, problem: (landed) => outsideFolder(landed, list) });
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new DatasetError(`${name}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!Array.isArray(raw)) throw new DatasetError(`${name} must be a list`);
  return raw.flatMap((s: unknown) => {
    const o = s as { image?: unknown; questions?: unknown };
    if (typeof o?.image !== 'string' || !Array.isArray(o.questions)) return [];
    const questions = (o.questions as { question?: unknown; answer?: unknown }[])
      .filter((q) => typeof q?.question === 'string')
      .map((q) => ({ question: String(q.question), answer: typeof q.answer === 'string' ? q.answer : '' }));
    return [{ image: o.image, url: datasetImageUrl(o.image, url, name), questions }];
  });
}

/**
 * A sample's image as a blob, capped like a data set's images and held to the samples' folder
 * (its URL came from datasetImageUrl; a redirect must stay there too).
 */
export async function fetchSampleImage(sample: Pick<Sample, 'image' | 'url'>, o: PageFetchOptions & { listUrl?: string } = {}): Promise<Blob> {
  const list = new URL(o.listUrl ?? sample.url);
  const { bytes, type } = await fetchCapped(sample.url, {
    ...o,
    name: `sample image ${sample.image}`,
    cap: MAX_ENCODED_IMAGE_BYTES,
    problem: (landed) => outsideFolder(landed, list),
  });
  return new Blob([bytes], { type });
}

export const SHIPPED_CALIB = `${DATA_PATH}${EMBEDDED_MODEL.data.calib}`;
export const SHIPPED_EVAL = `${DATA_PATH}${EMBEDDED_MODEL.data.eval}`;

/** The first `limit` items of a JSONL served by this page, images fetched relative to it. */
export async function loadUrlDataset(path: string, limit: number, signal?: AbortSignal): Promise<LoadedItem[]> {
  const url = publicUrl(path);
  // publicUrl follows Vite's base, which could name another host: the page's data is its own.
  if (new URL(url).origin !== location.origin) throw new DatasetError(`${path}: ${url} is not on this page's origin ${location.origin}`);
  return loadDatasetFrom(url, limit, { signal, name: path });
}

/**
 * The first `limit` items of the JSONL at `url` with their images: the JSONL capped at
 * MAX_DATASET_JSONL_BYTES and each image at MAX_ENCODED_IMAGE_BYTES; every image URL (and where any
 * redirect lands) inside the JSONL's folder on its origin. The first failure cancels the
 * image downloads still running.
 */
export async function loadDatasetFrom(url: string, limit: number, o: PageFetchOptions & { name?: string } = {}): Promise<LoadedItem[]> {
  const list = new URL(url);
  // How errors name the JSONL: the page passes the path it asked for ("data/shapes/eval.jsonl").
  const name = o.name ?? (list.pathname.split('/').pop() || url);
  const { bytes } = await fetchCapped(url, { ...o, name, cap: MAX_DATASET_JSONL_BYTES, problem: (landed) => outsideFolder(landed, list) });
  const items = parseJsonl(decodeJsonl(bytes, name), name).slice(0, limit);
  const imageUrls = items.map((it, i) => datasetImageUrl(it.image, url, `${name} item ${i + 1}`));
  const controller = new AbortController();
  const stop = () => controller.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.all(
      items.map(async (it, i) => {
        const image = await fetchCapped(imageUrls[i]!, {
          fetch: o.fetch,
          signal: controller.signal,
          name: `${name} item ${i + 1} image ${it.image}`,
          cap: MAX_ENCODED_IMAGE_BYTES,
          problem: (landed) => outsideFolder(landed, list),
        }).catch((e: unknown) => {
          controller.abort(e);
          throw e;
        });
        return { ...it, path: it.image, image: new Blob([image.bytes], { type: image.type }) };
      }),
    );
  } catch (e) {
    o.signal?.throwIfAborted();
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
}

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|avif)$/i;
export const isImageFile = (f: File): boolean => f.type.startsWith('image/') || IMAGE_EXT.test(f.name);

/** A picked file's path below the picked folder ("" segments dropped). */
function relPath(f: File): string {
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
  return rel ? rel.split('/').slice(1).join('/') : f.name;
}

/** Images of a picked folder, each with the same question (calibration needs no answer). */
export function folderImages(files: readonly File[], question: string, limit: number): LoadedItem[] {
  const images = files.filter(isImageFile).sort((a, b) => relPath(a).localeCompare(relPath(b)));
  if (images.length === 0) throw new DatasetError('the picked folder holds no images (png, jpg, webp, gif, bmp)');
  if (!question.trim()) throw new DatasetError('enter the question to ask about each image');
  return images.slice(0, limit).map((f) => ({ image: f, path: relPath(f), question: question.trim() }));
}

/**
 * A JSONL and its images from picked files: the JSONL's image paths resolve relative to the
 * JSONL's folder; failing that, by file name (when the files were picked together, flat).
 */
export async function filesDataset(files: readonly File[], limit: number): Promise<LoadedItem[]> {
  const jsonls = files.filter((f) => /\.jsonl$/i.test(f.name));
  if (jsonls.length === 0) throw new DatasetError('no .jsonl file among the picked files');
  if (jsonls.length > 1) throw new DatasetError(`${jsonls.length} .jsonl files were picked (${jsonls.map(relPath).join(', ')}); pick one`);
  const jsonl = jsonls[0]!;
  const dir = relPath(jsonl).split('/').slice(0, -1).join('/');
  const byPath = new Map(files.map((f) => [relPath(f), f]));
  const byName = new Map(files.map((f) => [f.name, f]));
  const items: DataItem[] = parseJsonl(decodeJsonl(new Uint8Array(await jsonl.arrayBuffer()), jsonl.name), jsonl.name).slice(0, limit);
  return items.map((it, i) => {
    const path = normalise(dir ? `${dir}/${it.image}` : it.image);
    const f = byPath.get(path) ?? byName.get(it.image.split('/').pop() ?? '');
    if (!f) throw new DatasetError(`${jsonl.name}:${i + 1}: image "${it.image}" is not among the picked files`);
    return { ...it, path: it.image, image: f };
  });
}

/** "a/./b/../c" → "a/c". */
function normalise(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.join('/');
}
