import { hubSource, HttpSource } from './sources';
import type { ModelSource } from './source';

/**
 * A model reference as a user types it: an http(s) URL (any server with the files), "hub:<id>"
 * or a bare "owner/name" that is not a local path (the Hugging Face Hub), or a local folder
 * (Node only).
 */
export async function openSource(ref: string): Promise<ModelSource> {
  if (/^https?:\/\//.test(ref)) return new HttpSource(ref);
  if (ref.startsWith('hub:')) return hubSource(ref.slice(4));
  const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);
  if (isNode) {
    const { NodeDirSource } = await import('./node-dir-source');
    const { stat } = await import('node:fs/promises');
    const isDir = await stat(ref).then((s) => s.isDirectory(), () => false);
    if (isDir) return new NodeDirSource(ref);
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(ref)) return hubSource(ref);
  throw new Error(`"${ref}" is neither a folder, a URL nor a Hugging Face model id`);
}
