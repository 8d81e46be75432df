// The engine's worker entry: the GPU work happens here, off the main thread. For now it only
// reports what the adapter offers; the model engine joins it in a later step.
import * as Comlink from 'comlink';
import type { AdapterSummary, GpuContext } from '../src/gpu/context';
import { acquireGpu, describeAdapter } from '../src/gpu/device';

let context: Promise<GpuContext> | null = null;

const api = {
  async adapter(): Promise<{ summary: AdapterSummary; description: string }> {
    context ??= acquireGpu();
    const ctx = await context;
    return { summary: ctx.adapter, description: describeAdapter(ctx.adapter) };
  },
};

export type EngineWorkerApi = typeof api;
Comlink.expose(api);
