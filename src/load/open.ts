import { hubSource, HttpSource, type HttpSourceOptions } from './sources';
import type { ModelSource } from './source';

/** What a caller of openSource may add; the URL policy itself is not negotiable. */
export interface OpenSourceOptions {
  /** Where cache failures (a full storage quota) are told, once per source; default console.warn. See HttpSourceOptions. */
  onCacheWarning?: HttpSourceOptions['onCacheWarning'];
}

/**
 * A model reference as a user types it, in the browser: an http(s) URL serving the files, or a
 * Hugging Face model id ("owner/name" or "hub:owner/name"). Local folders come from the
 * directory picker (FilesSource) in the browser and from openNodeSource in Node.
 *
 * URLs are held to modelUrlProblem: https, or plain http only to this machine (or, in the
 * page, to the page's own origin); no credentials; never a link-local address.
 */
export function openSource(ref: string, options: OpenSourceOptions = {}): ModelSource {
  const http: HttpSourceOptions = { checkUrl: modelUrlProblem, onCacheWarning: options.onCacheWarning };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    const problem = modelUrlProblem(ref);
    if (problem) throw new Error(`model URL ${redact(ref)} refused: ${problem}`);
    return new HttpSource(ref, http);
  }
  if (ref.startsWith('hub:')) return hubSource(ref.slice(4), http);
  if (/^[\w.-]+\/[\w.-]+$/.test(ref)) return hubSource(ref, http);
  throw new Error(`"${ref}" is neither a URL nor a Hugging Face model id (owner/name)`);
}

/** The page's own origin (in a window or worker), where the embedded model is served from. */
function ownOrigin(): string | null {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' && origin !== 'null' ? origin : null;
}

/** 127.0.0.0/8, ::1 and "localhost" (which browsers and Node resolve to loopback only). */
function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h) || /^::ffff:7f[0-9a-f]{2}:/.test(h)) return true;
  return /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** 169.254.0.0/16 (cloud metadata services live there) and fe80::/10. */
function isLinkLocal(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return /^169\.254\.\d+\.\d+$/.test(h) || /^::ffff:169\.254\./.test(h) || /^::ffff:a9fe:/.test(h) || /^fe[89ab][0-9a-f]:/.test(h);
}

/**
 * Why a URL may not serve a model, or null when it may: only https, or plain http to
 * localhost / 127.0.0.0/8 / [::1] (a local server; or the page's own origin, which serves the
 * embedded model); no user name or password in the URL (they would be sent to the server and
 * kept in caches and logs); never a link-local address such as 169.254.169.254, the metadata
 * service of cloud machines. Applied to the URL typed and to the final URL after redirects.
 */
export function modelUrlProblem(ref: string): string | null {
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    return 'it is not a valid URL';
  }
  if (url.username || url.password) return 'URLs with a user name or password are not accepted (pass a token instead)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `only https:// (or http:// to localhost) URLs serve models, not ${url.protocol}`;
  if (isLinkLocal(url.hostname)) return `${url.hostname} is a link-local address (169.254.0.0/16, fe80::/10: cloud metadata services, not model servers)`;
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && url.origin !== ownOrigin()) {
    return `plain http:// is accepted only to localhost, 127.0.0.0/8 or [::1]; use https:// for ${url.hostname} (an unencrypted download can be altered on the way)`;
  }
  return null;
}

/** The URL without its credentials, for error messages. */
function redact(ref: string): string {
  try {
    const url = new URL(ref);
    if (url.username || url.password) {
      url.username = url.username ? '***' : '';
      url.password = url.password ? '***' : '';
    }
    return url.href;
  } catch {
    return JSON.stringify(ref);
  }
}
