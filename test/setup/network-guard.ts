// Node tests may talk to this machine only. The e2e test refuses page requests that leave the
// page's origin; this does the same for the `unit` and `gpu-node` projects: a request to any
// host other than localhost / 127.0.0.0/8 / ::1 is refused where it is made (globalThis.fetch,
// and every TCP or TLS socket, which node:http, node:https and Node's own fetch all open) and
// fails the test that made it in afterEach, naming the URL, even when the code under test
// catches the error (a loader that turns a refused fetch into "offline, use the cache" would
// otherwise pass quietly). Stub fetches passed to a source or installed with vi.stubGlobal
// never reach the guard, so tests that use them are unaffected.
import net from 'node:net';
import { afterAll, afterEach } from 'vitest';

interface GuardState {
  /** What was refused since the last check, as "URL (where)" strings. */
  refused: string[];
  installed: boolean;
}

// On globalThis, so a test that imports this file (to read refusals it expects) shares the
// state with the copy vitest ran as a setup file, whichever module instance it gets.
const KEY = Symbol.for('fitprune.networkGuard');
const holder = globalThis as { [KEY]?: GuardState };
const state: GuardState = (holder[KEY] ??= { refused: [], installed: false });

/** localhost (and *.localhost), 127.0.0.0/8, ::1 and ::ffff:127.x: hosts that never leave this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return /^127\.\d+\.\d+\.\d+$/.test(h);
}

export class ForeignRequestError extends Error {
  override readonly name = 'ForeignRequestError';
}

function refuse(what: string, where: string): never {
  const entry = `${what} (${where})`;
  state.refused.push(entry);
  throw new ForeignRequestError(`network guard: ${what} refused: Node tests may only reach localhost, 127.0.0.1 or ::1 (test/setup/network-guard.ts)`);
}

/** Refusals since the last call, cleared: for a test that provokes one on purpose. */
export function takeRefusedRequests(): string[] {
  return state.refused.splice(0);
}

function requestUrl(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  if (typeof Request !== 'undefined' && input instanceof Request) return input.url;
  return String(input);
}

/**
 * The host a Socket#connect call dials, or null for a local pipe / Unix socket. Covers the
 * forms Node accepts: (options), (path), (port[, host]) and the pre-normalised [options, cb]
 * array net.connect passes on.
 */
function dialledHost(args: unknown[]): { host: string; port: unknown } | null {
  let first = args[0];
  if (Array.isArray(first)) first = first[0];
  if (first && typeof first === 'object') {
    const o = first as { path?: unknown; host?: unknown; port?: unknown };
    if (typeof o.path === 'string' && o.path) return null;
    return { host: typeof o.host === 'string' && o.host ? o.host : 'localhost', port: o.port };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return null; // a pipe path
  return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first };
}

function install(): void {
  if (state.installed) return;
  state.installed = true;

  const realFetch = globalThis.fetch;
  const guardedFetch: typeof fetch = (input, init) => {
    const url = requestUrl(input);
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      // Not absolute: the real fetch rejects it with its own error.
    }
    if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') && !isLoopbackHost(parsed.hostname)) {
      try {
        refuse(`fetch ${url}`, 'globalThis.fetch');
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return realFetch(input, init);
  };
  globalThis.fetch = guardedFetch;

  // The socket layer: node:http / node:https requests, Node's built-in fetch (undici) and raw
  // net / tls clients all dial through Socket#connect; refusing there, before the DNS lookup,
  // means nothing leaves the machine whichever API a library uses.
  const proto = net.Socket.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const realConnect = proto.connect;
  proto.connect = function (this: net.Socket, ...args: unknown[]) {
    const target = dialledHost(args);
    if (target && !isLoopbackHost(target.host)) refuse(`connection to ${target.host}:${String(target.port)}`, 'net.Socket#connect');
    return realConnect.apply(this, args);
  };
}

install();

/** Throws, listing them, if anything was refused since the last check (run after every test). */
export function checkNoRefusedRequests(): void {
  const refused = takeRefusedRequests();
  if (refused.length > 0) {
    throw new ForeignRequestError(`this test tried to reach the network outside this machine (refused):\n  ${refused.join('\n  ')}`);
  }
}

afterEach(checkNoRefusedRequests);
// And for hooks outside any test (beforeAll, afterAll): reported against the file.
afterAll(checkNoRefusedRequests);
