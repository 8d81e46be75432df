// The engine's worker entry: all GPU work runs here, off the main thread, exposed with comlink.
// AbortSignals cannot cross threads, so requests carry an id and abort(id) aborts them.
import * as Comlink from 'comlink';
import { describeAdapter } from '../src/gpu/device';
import type { AdapterSummary } from '../src/gpu/context';
import { Engine, type GenerateRequest, type GenerateResult, type ModelInfo, type ModelRef, type TokenEvent } from '../src/engine/engine';
import type { LoadProgress } from '../src/load/progress';
import { FilesSource } from '../src/load/sources';

/** What the page can pass as a model: a URL / hub id string, files in memory, or picked files. */
export type WorkerModelRef = string | { files: Map<string, Uint8Array>; name?: string } | { picked: File[]; name?: string };

export type WorkerGenerateRequest = Omit<GenerateRequest, 'signal' | 'hooks'> & { requestId: string };

let engine: Promise<Engine> | null = null;
const controllers = new Map<string, AbortController>();

function getEngine(): Promise<Engine> {
  engine ??= Engine.create().catch((e: unknown) => {
    engine = null; // let a later call retry (e.g. after the user enables WebGPU)
    throw e;
  });
  return engine;
}

function toRef(ref: WorkerModelRef): ModelRef {
  if (typeof ref === 'string') return ref;
  if ('picked' in ref) return new FilesSource(ref.picked, ref.name ?? 'local folder');
  return ref;
}

const api = {
  async adapter(): Promise<{ summary: AdapterSummary; description: string }> {
    const e = await getEngine();
    return { summary: e.adapter, description: describeAdapter(e.adapter) };
  },

  async load(ref: WorkerModelRef, requestId: string, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(requestId, controller);
    try {
      return await e.load(toRef(ref), { signal: controller.signal, onProgress });
    } finally {
      controllers.delete(requestId);
    }
  },

  async generate(request: WorkerGenerateRequest, onToken?: (t: TokenEvent) => void): Promise<GenerateResult> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(request.requestId, controller);
    try {
      return await e.generate({ ...request, signal: controller.signal }, onToken);
    } finally {
      controllers.delete(request.requestId);
    }
  },

  abort(requestId: string): void {
    controllers.get(requestId)?.abort(new DOMException('aborted by the user', 'AbortError'));
  },

  async info(): Promise<ReturnType<Engine['info']>> {
    return (await getEngine()).info();
  },
};

export type EngineWorkerApi = typeof api;
Comlink.expose(api);
