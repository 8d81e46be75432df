#!/usr/bin/env node
// Runs a TypeScript entry point in Node through Vite's module runner, so Node code resolves
// imports exactly as the browser build and the tests do (TypeScript, `.wgsl?raw` kernels).
// Usage: node scripts/run-ts.mjs <file.ts> [args...]   (the entry sees its args in process.argv)
import { resolve } from 'node:path';
import { createServer, createServerModuleRunner } from 'vite';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(entry), ...args];

const server = await createServer({
  configFile: false,
  root: process.cwd(),
  logLevel: 'error',
  server: { middlewareMode: true, hmr: false, ws: false },
  appType: 'custom',
  optimizeDeps: { noDiscovery: true, include: [] },
});
const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
let code = 0;
try {
  await runner.import(resolve(entry));
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  code = 1;
} finally {
  await runner.close();
  await server.close();
}
process.exit(process.exitCode ?? code);
