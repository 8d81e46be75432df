// e2e global setup: build the production bundle (`vite build`), serve it with `vite preview`
// on 127.0.0.1 at a free port, and hand the URL to the tests. E2E_SKIP_BUILD=1 reuses dist/
// (for quick reruns while editing the test itself).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

const root = process.cwd();
const vite = join(root, 'node_modules', '.bin', 'vite');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`vite preview exited with code ${child.exitCode}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`vite preview did not answer at ${url} within ${timeoutMs} ms`);
}

let server: ChildProcess | null = null;

export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.E2E_SKIP_BUILD !== '1' || !existsSync(join(root, 'dist', 'index.html'))) {
    const t0 = Date.now();
    const r = spawnSync(vite, ['build', '--logLevel', 'warn'], { stdio: 'inherit', cwd: root, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`vite build failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
    console.info(`e2e: vite build took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const port = await freePort();
  server = spawn(vite, ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  server.stdout?.resume(); // drain its banner so the pipe never blocks it
  const baseUrl = `http://127.0.0.1:${port}/`;
  await waitForHttp(baseUrl, server, 30_000);
  project.provide('baseUrl', baseUrl);
  return () => {
    // Only the preview server this setup started, by its own handle.
    server?.kill('SIGTERM');
    server = null;
  };
}
