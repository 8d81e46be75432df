// A model folder on disk (Node only: CLIs, tests). Browser code never imports this file.
import { open, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openSource } from './open';
import { checkRange, MAX_WHOLE_READ_BYTES, ModelFileError, tooLargeError, type ModelSource, type ReadOptions } from './source';

/** A folder path if it is one, else a URL or Hugging Face id (openSource). */
export async function openNodeSource(ref: string): Promise<ModelSource> {
  const isDir = await stat(ref).then((s) => s.isDirectory(), () => false);
  if (isDir) return new NodeDirSource(ref);
  try {
    return openSource(ref);
  } catch (e) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) throw e; // a URL refused: say why
    throw new Error(`"${ref}" is neither a folder, a URL nor a Hugging Face model id (owner/name)`);
  }
}

const CHUNK = 8 * 1024 * 1024;

export class NodeDirSource implements ModelSource {
  readonly description: string;

  constructor(readonly dir: string) {
    this.dir = resolve(dir);
    this.description = this.dir;
  }

  private path(file: string): string {
    if (file.includes('..')) throw new ModelFileError(file, 'file names may not contain ".."');
    return join(this.dir, file);
  }

  async stat(file: string): Promise<{ size: number } | null> {
    try {
      const s = await stat(this.path(file));
      return s.isFile() ? { size: s.size } : null;
    } catch {
      return null;
    }
  }

  async read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array> {
    const path = this.path(file);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      throw new ModelFileError(file, `not found in ${this.dir}`);
    }
    try {
      const size = (await handle.stat()).size;
      if (range) checkRange(file, range);
      const cap = options?.maxBytes ?? MAX_WHOLE_READ_BYTES;
      if (!range && size > cap) throw tooLargeError(file, size, cap, this.dir);
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? size, size);
      const out = new Uint8Array(Math.max(0, end - start));
      for (let at = 0; at < out.byteLength; ) {
        options?.signal?.throwIfAborted();
        const { bytesRead } = await handle.read(out, at, Math.min(CHUNK, out.byteLength - at), start + at);
        if (bytesRead === 0) break;
        at += bytesRead;
        options?.onBytes?.(bytesRead);
      }
      return out;
    } finally {
      await handle.close();
    }
  }
}
