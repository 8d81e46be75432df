/** Loads a JSONL data set with its images from disk (Node CLIs). */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseJsonl, DatasetError, type DataItem } from '../src/data/dataset';

export interface LoadedItem extends DataItem {
  blob: Blob;
}

export async function loadDataset(path: string, limit?: number): Promise<LoadedItem[]> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new DatasetError(`cannot read ${path}`);
  });
  const items = parseJsonl(text, path).slice(0, limit ?? Infinity);
  return Promise.all(
    items.map(async (item) => {
      const file = resolve(dirname(path), item.image);
      const bytes = await readFile(file).catch(() => {
        throw new DatasetError(`${path}: image ${item.image} not found (looked at ${file})`);
      });
      return { ...item, blob: new Blob([new Uint8Array(bytes)]) };
    }),
  );
}
