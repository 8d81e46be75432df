/** Loads a JSONL data set with its images from disk (Node CLIs). */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { decodeJsonl, parseJsonl, DatasetError, MAX_DATASET_JSONL_BYTES, type DataItem } from '../src/data/dataset';
import { MAX_ENCODED_IMAGE_BYTES } from '../src/preprocess/image-input';
import { checkImageHeader } from '../src/preprocess/image-input';

export interface LoadedItem extends DataItem {
  /** A File named by the item's image path, so a decoding error later names the file. */
  blob: Blob;
}

/** True when `path` is `dir` itself or below it (both resolved, absolute). */
function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * The items of a JSONL and their images. Image paths are confined to the JSONL's folder:
 * parseJsonl refuses absolute paths and ".." above it, and here the real path (after
 * symlinks) must still be inside the folder's real path, so a link to /etc/passwd is refused too.
 * Each image's header is read here (format and stated size), so a non-image, an empty file or
 * one claiming 100000×100000 pixels is refused naming the file before any decoding.
 * `limit` (the CLIs' --limit) keeps the first `limit` items; it must be a positive integer.
 */
export async function loadDataset(path: string, limit?: number): Promise<LoadedItem[]> {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new DatasetError(`the data set's item limit (--limit) must be a positive integer; got ${String(limit)}`);
  }
  const cannot = (e: unknown): never => {
    throw new DatasetError(`cannot read ${path}${e instanceof Error && 'code' in e ? ` (${String(e.code)})` : ''}`);
  };
  const size = (await stat(path).catch(cannot)).size;
  if (size > MAX_DATASET_JSONL_BYTES) throw new DatasetError(`${path} is ${size} bytes; a data set's JSONL may have at most ${MAX_DATASET_JSONL_BYTES} (32 MiB)`);
  const bytes = await readFile(path).catch(cannot);
  const items = parseJsonl(decodeJsonl(bytes, path), path).slice(0, limit ?? Infinity);
  const dir = await realpath(dirname(resolve(path)));
  return Promise.all(
    items.map(async (item) => {
      const file = resolve(dir, item.image);
      const real = await realpath(file).catch(() => {
        throw new DatasetError(`${path}: image ${item.image} not found (looked at ${file})`);
      });
      if (!inside(dir, real)) {
        throw new DatasetError(`${path}: image ${item.image} resolves to ${real}, outside the data set's folder ${dir} (a symlink out of it?); images must be inside it`);
      }
      const { size } = await stat(real);
      if (size > MAX_ENCODED_IMAGE_BYTES) throw new DatasetError(`${path}: image ${item.image} is ${size} bytes; an image file may have at most ${MAX_ENCODED_IMAGE_BYTES} (64 MiB)`);
      const image = await readFile(real).catch(() => {
        throw new DatasetError(`${path}: image ${item.image} cannot be read (looked at ${real})`);
      });
      try {
        checkImageHeader(image, `${path}: image ${item.image}`);
      } catch (e) {
        throw new DatasetError(e instanceof Error ? e.message : String(e));
      }
      return { ...item, blob: new File([new Uint8Array(image)], item.image) };
    }),
  );
}
