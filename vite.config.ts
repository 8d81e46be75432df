import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * Serves onnxruntime-web's wasm runtime from our own origin at /ort/ (dev and preview) and
 * copies it into the build, so transformers.js never reaches for a CDN (see ORT_WASM_PATH in
 * src/preprocess). Only the files of the one onnxruntime-web version in the tree.
 */
function ortWasm(): Plugin {
  const dist = join(process.cwd(), 'node_modules', 'onnxruntime-web', 'dist');
  const files = existsSync(dist) ? readdirSync(dist).filter((f) => /^ort-wasm.*\.(wasm|mjs)$/.test(f)) : [];
  const serve = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    const name = req.url?.startsWith('/ort/') ? req.url.slice(5).split('?')[0] : undefined;
    if (!name || !files.includes(name)) return next();
    res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    createReadStream(join(dist, name)).pipe(res);
  };
  return {
    name: 'fitprune-ort-wasm',
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
    generateBundle() {
      for (const f of files) {
        this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: new Uint8Array(readFileSync(join(dist, f))) });
      }
    },
  };
}

export default defineConfig({
  // 'mpa': a missing file is a 404, not index.html with 200 (the SPA fallback). The model
  // loader probes optional files (model.safetensors.index.json, chat_template.jinja) and must
  // see them missing, as on any static host.
  appType: 'mpa',
  // WGSL kernels are imported as text with `?raw`.
  plugins: [ortWasm()],
  worker: { format: 'es' },
  build: { target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
