import { defineConfig } from 'vite';

export default defineConfig({
  // WGSL kernels are imported as text with `?raw`; nothing else special is needed to build.
  worker: { format: 'es' },
  build: { target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
