// The engine's worker entry: all GPU work runs here, off the main thread, exposed with comlink.
// AbortSignals cannot cross threads, so requests carry an id and abort(id) aborts them.
import * as Comlink from 'comlink';
import { describeAdapter } from '../src/gpu/device';
import type { AdapterSummary } from '../src/gpu/context';
import { Engine, type GenerateRequest, type GenerateResult, type ModelInfo, type ModelInspection, type ModelRef, type TokenEvent } from '../src/engine/engine';
import type { LoadProgress } from '../src/load/progress';
import { FilesSource } from '../src/load/sources';
import { Calibrator, type CalibrationProgress, type CalibrationResult, type CalibrationSample, type PassA } from '../src/prune/calibrate';
import { parseRecipe, type Recipe } from '../src/prune/recipe';
import { evaluate, type EvalItem, type EvalRow } from '../src/prune/evaluate';
import type { PruningPolicy } from '../src/prune/policies';

/** What the page can pass as a model: a URL / hub id string, files in memory, or picked files. */
export type WorkerModelRef = string | { files: Map<string, Uint8Array>; name?: string } | { picked: File[]; name?: string };

export type WorkerGenerateRequest = Omit<GenerateRequest, 'signal' | 'hooks'> & { requestId: string };

let engine: Promise<Engine> | null = null;
const controllers = new Map<string, AbortController>();
let passACache: { setId: string; passA: PassA } | null = null;

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

  /** What loading `ref` would take on this adapter (config.json and safetensors headers only). */
  async inspect(ref: WorkerModelRef, requestId: string): Promise<ModelInspection> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(requestId, controller);
    try {
      return await e.inspect(toRef(ref), { signal: controller.signal });
    } finally {
      controllers.delete(requestId);
    }
  },

  /** The supported model families and real Hub ids of each. */
  async families(): Promise<{ name: string; examples: string[] }[]> {
    return (await getEngine()).families();
  },

  async load(ref: WorkerModelRef, requestId: string, onProgress?: (p: LoadProgress) => void, onWarning?: (message: string) => void): Promise<ModelInfo> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(requestId, controller);
    try {
      const info = await e.load(toRef(ref), { signal: controller.signal, onProgress, onWarning });
      passACache = null;
      return info;
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

  /**
   * Calibrates a FitPrune recipe on the given samples for a budget (fraction of the
   * reference-convention FLOPs to keep). Pass A is kept in the worker and reused for the next
   * budget on the same samples (same `setId`).
   */
  async calibrate(
    samples: CalibrationSample[],
    budget: number,
    requestId: string,
    o: { setId?: string; modelId?: string; source?: string } = {},
    onProgress?: (p: CalibrationProgress) => void,
  ): Promise<Omit<CalibrationResult, 'passA'>> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(requestId, controller);
    try {
      const cached = o.setId && passACache?.setId === o.setId ? passACache.passA : undefined;
      const result = await new Calibrator(e, samples, { signal: controller.signal, onProgress }).run(budget, o.modelId ?? e.info().model?.source ?? 'model', {
        passA: cached,
        source: o.source,
      });
      if (o.setId) passACache = { setId: o.setId, passA: result.passA };
      const { passA: _dropped, ...rest } = result;
      void _dropped;
      return rest;
    } finally {
      controllers.delete(requestId);
    }
  },

  /**
   * Runs one policy over a labelled set (src/prune/evaluate.ts: greedy, exact match, FLOPs in
   * both conventions). The page sweeps policies and budgets by calling this per row, so each
   * row can be shown as soon as it is done and a cancel loses only the row in progress.
   */
  async evaluate(
    items: EvalItem[],
    policy: PruningPolicy,
    requestId: string,
    o: { budget?: number | null; maxNewTokens?: number } = {},
    onProgress?: (done: number, total: number) => void,
  ): Promise<EvalRow> {
    const e = await getEngine();
    const controller = new AbortController();
    controllers.set(requestId, controller);
    try {
      return await evaluate(e, items, policy, { ...o, signal: controller.signal, onProgress });
    } finally {
      controllers.delete(requestId);
    }
  },

  /**
   * Validates a recipe document against the loaded model (src/prune/recipe.ts parseRecipe: every
   * field typed and in range, counts within the visual tokens they are for, FLOPs recomputed)
   * and returns only that validated copy; a refusal names the field. The engine is untouched.
   */
  async checkRecipe(json: string): Promise<Recipe> {
    const model = (await getEngine()).info().model;
    if (!model) throw new Error('load a model before importing a recipe');
    return parseRecipe(json, model);
  },

  /** Compiles the pipelines of a request ahead of the first question; returns ms. */
  async warmup(): Promise<number> {
    return (await getEngine()).warmup();
  },

  /**
   * Destroys the engine's GPU device the way a driver reset does (diagnostics and tests; there
   * is no other way to reach the worker's device from the page). A request running then rejects
   * with a DeviceLostError (its name and message cross comlink); the next one runs on a new
   * device, the engine reloading the model with the load's progress callback.
   */
  async loseDevice(): Promise<void> {
    (await getEngine()).ctx.device.destroy();
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
