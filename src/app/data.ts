// Data for the page: the shipped samples and JSONL sets (fetched from this page's own origin)
// and the user's own files (a folder or picked files), turned into image blobs the worker takes.
import { DatasetError, imagePathProblem, parseJsonl, type DataItem } from '../data/dataset';
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

async function fetchOk(url: string, signal?: AbortSignal): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url, { signal });
  } catch (e) {
    signal?.throwIfAborted();
    throw new Error(`could not fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`);
  return r;
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
  const base = publicUrl(DATA_PATH);
  const raw: unknown = await (await fetchOk(new URL(EMBEDDED_MODEL.data.samples, base).href)).json();
  if (!Array.isArray(raw)) throw new Error('samples.json must be a list');
  return raw.flatMap((s: unknown) => {
    const o = s as { image?: unknown; questions?: unknown };
    if (typeof o?.image !== 'string' || !Array.isArray(o.questions)) return [];
    const questions = (o.questions as { question?: unknown; answer?: unknown }[])
      .filter((q) => typeof q?.question === 'string')
      .map((q) => ({ question: String(q.question), answer: typeof q.answer === 'string' ? q.answer : '' }));
    return [{ image: o.image, url: datasetImageUrl(o.image, new URL(EMBEDDED_MODEL.data.samples, base).href, EMBEDDED_MODEL.data.samples), questions }];
  });
}

export const SHIPPED_CALIB = `${DATA_PATH}${EMBEDDED_MODEL.data.calib}`;
export const SHIPPED_EVAL = `${DATA_PATH}${EMBEDDED_MODEL.data.eval}`;

/** The first `limit` items of a JSONL served by this page, images fetched relative to it. */
export async function loadUrlDataset(path: string, limit: number, signal?: AbortSignal): Promise<LoadedItem[]> {
  const url = publicUrl(path);
  const items = parseJsonl(await (await fetchOk(url, signal)).text(), path).slice(0, limit);
  return Promise.all(
    items.map(async (it, i) => {
      const imageUrl = datasetImageUrl(it.image, url, `${path} item ${i + 1}`);
      return { ...it, path: it.image, image: await (await fetchOk(imageUrl, signal)).blob() };
    }),
  );
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
  const items: DataItem[] = parseJsonl(await jsonl.text(), jsonl.name).slice(0, limit);
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
