import { hubSource, HttpSource } from './sources';
import type { ModelSource } from './source';

/**
 * A model reference as a user types it, in the browser: an http(s) URL serving the files, or a
 * Hugging Face model id ("owner/name" or "hub:owner/name"). Local folders come from the
 * directory picker (FilesSource) in the browser and from openNodeSource in Node.
 */
export function openSource(ref: string): ModelSource {
  if (/^https?:\/\//.test(ref)) return new HttpSource(ref);
  if (ref.startsWith('hub:')) return hubSource(ref.slice(4));
  if (/^[\w.-]+\/[\w.-]+$/.test(ref)) return hubSource(ref);
  throw new Error(`"${ref}" is neither a URL nor a Hugging Face model id (owner/name)`);
}
