/** Loads a JSONL data set with its images from disk (Node CLIs). */
import { readFile, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { parseJsonl, DatasetError, type DataItem } from '../src/data/dataset';

export interface LoadedItem extends DataItem {
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
 */
export async function loadDataset(path: string, limit?: number): Promise<LoadedItem[]> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new DatasetError(`cannot read ${path}`);
  });
  const items = parseJsonl(text, path).slice(0, limit ?? Infinity);
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
      const bytes = await readFile(real).catch(() => {
        throw new DatasetError(`${path}: image ${item.image} cannot be read (looked at ${real})`);
      });
      return { ...item, blob: new Blob([new Uint8Array(bytes)]) };
    }),
  );
}
