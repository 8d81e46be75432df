import type { GpuContext, AdapterSummary } from '../gpu/context';
import { acquireGpu, type AcquireOptions } from '../gpu/device';
import { DeviceLostError } from '../gpu/errors';
import type { Tensor } from '../gpu/tensor';
import type { LoadProgress } from '../load/progress';
import type { ModelSource } from '../load/source';
import { MemorySource } from '../load/source';
import { openSource } from '../load/open';
import { readJson } from '../load/source';
import { ModelLoadError, type ModelFamily, type ModelInfo, type VisionLanguageModel, type VisualGrid } from '../models/family';
import type { DecoderHooks } from '../models/hooks';
import { ops } from '../models/ops';
import { FAMILIES, familyFor } from '../models/registry';
import { checkTensorShapes, placeImages, weightMemory } from '../models/vlm';
import { openCheckpoint } from '../load/checkpoint';
import { loadPreprocessor, truncateAtStop, type ImageInput, type Preprocessor } from '../preprocess';
import { architectureFlops, referenceFlops } from '../prune/flops';
import { ImageFeatureCache, pixelKey } from './image-cache';
import { pruningSession, type PruningPolicy, type PruningReport } from '../prune/policies';
import { checkGenerateRequest } from './request';
import { Sampler, type SamplingOptions } from './sampler';

export type { ModelInfo } from '../models/family';

export interface GenerateRequest {
  /** The user's question; wrapped in the model's chat template unless `rawPrompt`. */
  prompt: string;
  /** Treat `prompt` as the full, already-templated text (must contain the image token if an image is given). */
  rawPrompt?: boolean;
  image?: ImageInput;
  maxNewTokens?: number;
  sampling?: SamplingOptions;
  /** Stop when the decoded answer ends with one of these. */
  stop?: string[];
  signal?: AbortSignal;
  /** Visual-token pruning for this request (default none). */
  pruning?: PruningPolicy;
  /** Also report which visual tokens survive each layer (for heatmaps). */
  recordKeptIndices?: boolean;
  /** Extra decoder hooks (statistics collectors); not combined with `pruning`. */
  hooks?: DecoderHooks | null;
}

export interface PruningResult extends PruningReport {
  /** Where each visual token of this image sits on a grid over the image (heatmaps); null without an image. */
  grid: VisualGrid | null;
  flops: {
    /** FitPrune's convention: visual tokens only, multiply-accumulates. */
    reference: { ratio: number; macs: number; baselineMacs: number };
    /** This prompt's whole prefill incl. text, vision tower and projector, FLOPs. */
    architecture: { ratio: number; flops: number; baselineFlops: number };
  };
}

export interface GenerateUsage {
  promptTokens: number;
  visualTokens: number;
  generatedTokens: number;
  imageEncodeMs: number;
  /** The image's features came from the engine's cache (same pixels seen before): no vision tower run. */
  imageFeaturesCached: boolean;
  prefillMs: number;
  timeToFirstTokenMs: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'abort';

export interface GenerateResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  usage: GenerateUsage;
  /** f32 logits of the first generated position (tests and comparisons). */
  firstLogits?: Float32Array;
  pruning: PruningResult;
}

export interface TokenEvent {
  token: number;
  /** The answer decoded so far. */
  text: string;
  index: number;
}

/** A model source, a URL / Hugging Face id string (openSource), or in-memory files. In Node, open folders with openNodeSource. */
export type ModelRef = ModelSource | string | { files: ReadonlyMap<string, Uint8Array>; name?: string };

/** What loading a model would take, found from config.json and the safetensors headers only. */
export interface ModelInspection {
  source: string;
  family: string;
  modelType: string;
  /** Bytes the weights will take on the GPU (f16 matrices, f32 norms and biases). */
  gpuBytes: number;
  /** Bytes to download (the stored tensors the forward pass reads). */
  downloadBytes: number;
  largestTensor: { name: string; bytes: number };
  /** The adapter's largest buffer: a tensor above it cannot be loaded. */
  maxBufferSize: number;
  /** null when it fits; otherwise why it cannot be loaded on this adapter. */
  refusal: string | null;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
}

export interface LoadOptions {
  signal?: AbortSignal;
  /** Load progress; also called again when the engine reloads the model after a device loss. */
  onProgress?: (p: LoadProgress) => void;
  /**
   * Problems that do not stop the load but that the user should hear about, once each: today,
   * the browser's model-file cache failing (storage full), after which files are not kept.
   */
  onWarning?: (message: string) => void;
}

const now = () => performance.now();
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** GPU memory for cached image features (a few LLaVA-1.5 images, hundreds of demo-model ones). */
const IMAGE_CACHE_BYTES = 64 * 1024 * 1024;

/** Where the loaded model came from: what a reload on a new device reads again. */
interface LoadedFrom {
  source: ModelSource;
  onProgress?: (p: LoadProgress) => void;
}

/**
 * The public API: load a model, generate answers, report what the GPU and the model are.
 * Runs the same in Node and in a Web Worker (workers/engine.worker.ts exposes it via comlink).
 *
 * Requests (load, generate, warmup) run one at a time. A failed or aborted load leaves the
 * previous model usable: nothing is uploaded before the checks inspect() reports (largest
 * tensor against the adapter's maxBufferSize), the upload runs in an out-of-memory error
 * scope, and every buffer a failed load created is freed before it rejects.
 *
 * Device loss (driver reset, a background tab, device.destroy()): the request that was running
 * rejects with a DeviceLostError saying so; the engine keeps the AcquireOptions it was created
 * with and the source of the loaded model (with its onProgress callback), and before the next
 * request it acquires a new device the same way and reloads that model from the same source
 * (progress events again), so the caller only retries; `ctx` is the new device's context from
 * then on. A loss noticed between requests costs no error at all. If the new device or the
 * reload fails, that request rejects and the next one tries again.
 */
export class Engine {
  private gpu: GpuContext;
  private model: VisionLanguageModel | null = null;
  private preprocessorInstance: Preprocessor | null = null;
  private sourceName = '';
  private busy: Promise<unknown> = Promise.resolve();
  /** Features of recently seen images for the loaded model (see image-cache.ts). */
  private readonly imageFeatures = new ImageFeatureCache(IMAGE_CACHE_BYTES);
  private loadedFrom: LoadedFrom | null = null;
  /** The device holding the model was lost: load `loadedFrom` on the new device before the next request. */
  private reloadPending = false;
  private disposed = false;

  private constructor(
    ctx: GpuContext,
    private readonly acquireOptions: AcquireOptions,
  ) {
    this.gpu = ctx;
  }

  static async create(options: AcquireOptions = {}): Promise<Engine> {
    return new Engine(await acquireGpu(options), { ...options });
  }

  /** The current device's context: a new one after a device loss (read it per use, do not keep it). */
  get ctx(): GpuContext {
    return this.gpu;
  }

  get adapter(): AdapterSummary {
    return this.ctx.adapter;
  }

  info(): { adapter: AdapterSummary; model: ModelInfo | null } {
    return { adapter: this.ctx.adapter, model: this.model ? this.model.describe(this.sourceName) : null };
  }

  get loadedModel(): VisionLanguageModel | null {
    return this.model;
  }

  /** The loaded model's tokenizer, chat template and image processor. */
  get preprocessor(): Preprocessor | null {
    return this.preprocessorInstance;
  }

  /**
   * Reads config.json and the safetensors headers (a few kB with Range requests) and says what
   * loading would take on this adapter, before any weight is downloaded.
   */
  async inspect(ref: ModelRef, options: { signal?: AbortSignal } = {}): Promise<ModelInspection> {
    const source = await resolveSource(ref);
    const config = (await readJson(source, 'config.json', options)) as Record<string, unknown>;
    return this.inspectWith(source, config, familyFor(config), options, true);
  }

  /**
   * inspect() once config.json is read. Engine.load runs it too, before uploading anything, for
   * the size check only (`complete` false): the family's loader then checks names and shapes
   * with its own, more specific messages (which config.json field asks for a missing layer),
   * so the load sizes the planned tensors the checkpoint has and leaves the rest to it.
   */
  private async inspectWith(source: ModelSource, config: Record<string, unknown>, family: ModelFamily, options: { signal?: AbortSignal }, complete: boolean): Promise<ModelInspection> {
    const checkpoint = await openCheckpoint(source, options);
    let plan = family.weightPlan(config, checkpoint.tensors.keys());
    if (complete) {
      checkpoint.require(plan.keys());
      checkTensorShapes(checkpoint.tensors, { dtypes: plan, shapes: family.expectedShapes(config, checkpoint.tensors.keys()) }, source.description);
    } else {
      plan = new Map([...plan].filter(([name]) => checkpoint.tensors.has(name)));
    }
    const { bytes, largest } = weightMemory(checkpoint, plan);
    let downloadBytes = 0;
    for (const name of plan.keys()) {
      const t = checkpoint.info(name);
      downloadBytes += t.end - t.begin;
    }
    const maxBufferSize = this.ctx.adapter.limits.maxBufferSize;
    // One tensor is one buffer (the matmul kernels split a weight over several storage bindings,
    // never over several buffers), so the largest tensor decides; the total is for the advice.
    const refusal =
      largest.bytes > maxBufferSize
        ? `its largest tensor (${largest.name}, ${mib(largest.bytes)} as stored on the GPU) is over this adapter's largest buffer (maxBufferSize ${mib(maxBufferSize)}); the weights total ${mib(bytes)}. Pick a smaller model (fewer parameters or a smaller vocabulary), or use a browser and GPU whose maxBufferSize is larger`
        : null;
    return { source: source.description, family: family.name, modelType: String(config['model_type']), gpuBytes: bytes, downloadBytes, largestTensor: largest, maxBufferSize, refusal };
  }

  /** The model families this engine can load, with real Hub ids of each (for suggestions). */
  families(): { name: string; examples: string[] }[] {
    return FAMILIES.map((f) => ({ name: f.name, examples: [...f.examples] }));
  }

  /**
   * Loads a model; the previous one stays in place until the new one is fully loaded and
   * checked. The source and `onProgress` are remembered for a reload after a device loss.
   */
  load(ref: ModelRef, options: LoadOptions = {}): Promise<ModelInfo> {
    return this.exclusive(
      async () => {
        const source = await resolveSource(ref, options.onWarning);
        await this.install(source, options);
        this.loadedFrom = { source, onProgress: options.onProgress };
        this.reloadPending = false;
        return this.info().model!;
      },
      { what: 'The load', signal: options.signal, reloadModel: false },
    );
  }

  /**
   * Loads the model at `source` on the current device and makes it the engine's model, or
   * throws with the previous model untouched and every buffer this load created freed.
   */
  private async install(source: ModelSource, options: LoadOptions): Promise<void> {
    const ctx = this.gpu;
    const signal = options.signal;
    const config = (await readJson(source, 'config.json', { signal })) as Record<string, unknown>;
    const family = familyFor(config); // an unknown model_type is refused before anything else is read
    const preprocessor = await loadPreprocessor(source, { signal });
    // The check inspect() reports, before a weight byte is read or a buffer created.
    const plan = await this.inspectWith(source, config, family, { signal }, false);
    if (plan.refusal) throw new ModelLoadError(`${source.description} cannot be loaded on this adapter: ${plan.refusal}`);
    const mark = ctx.pool.mark();
    let model: VisionLanguageModel | null = null;
    try {
      model = await ctx.outOfMemoryScope(`loading ${source.description} (${mib(plan.gpuBytes)} of weights)`, () => family.load(ctx, source, config, options));
      checkEosIds(preprocessor, model, source.description);
    } catch (e) {
      model?.dispose();
      // Whatever the failed load still holds (weights uploaded before an out-of-memory error
      // or a refusal, a half-built decoder's tables) is unreachable now: free it all.
      ctx.pool.destroyLiveSince(mark);
      if (!ctx.isLost) ctx.flush();
      ctx.pool.trim();
      throw e;
    }
    this.imageFeatures.clear();
    this.model?.dispose();
    this.model = model;
    this.preprocessorInstance = preprocessor;
    this.sourceName = source.description;
    ctx.pool.trim();
  }

  /**
   * Compiles the GPU pipelines a request needs (vision tower, prefill, decode, and FitPrune's
   * statistics, ranking and gather) by answering a throw-away question about a blank image, so
   * the user's first question does not pay for it. Returns the milliseconds it took.
   */
  async warmup(): Promise<number> {
    const model = this.model;
    if (!model) throw new EngineError('no model loaded: call load() first');
    const t0 = now();
    const image = model.blankImage();
    const counts = new Array<number>(model.numLayers).fill(0);
    counts[0] = 1;
    const info = model.describe(this.sourceName);
    await this.generate({ prompt: 'warm-up', image, maxNewTokens: 2, pruning: { kind: 'fitprune', recipe: { counts, referenceVisualTokens: info.imageTokens } } });
    await this.generate({ prompt: 'warm-up', image, maxNewTokens: 2 });
    return now() - t0;
  }

  generate(request: GenerateRequest, onToken?: (e: TokenEvent) => void): Promise<GenerateResult> {
    return this.exclusive(() => this.run(request, onToken), { what: 'The request', signal: request?.signal, reloadModel: true });
  }

  private async run(request: GenerateRequest, onToken?: (e: TokenEvent) => void): Promise<GenerateResult> {
    const model = this.model;
    const pre = this.preprocessorInstance;
    if (!model || !pre) throw new EngineError('no model loaded: call load() first');
    checkGenerateRequest(request);
    const { ctx } = this;
    const signal = request.signal;
    signal?.throwIfAborted();
    const maxNewTokens = request.maxNewTokens ?? 64;
    const sampler = new Sampler(request.sampling ?? {});

    const prompt = request.rawPrompt ? request.prompt : pre.buildPrompt(request.prompt, { hasImage: Boolean(request.image) });
    const placeholders = prompt.split(pre.imageToken).length - 1;
    // The chat template places the image token itself; one more in the user's text would be a
    // second image. Say which text holds it, so the user knows what to remove.
    const where = request.rawPrompt ? 'the raw prompt (rawPrompt: true)' : 'the question';
    const token = JSON.stringify(pre.imageToken);
    if (request.image && placeholders !== 1) {
      const cause = request.rawPrompt ? `a raw prompt must contain ${token} exactly once` : `${where} itself contains ${token}, the model's image token: remove it (the chat template places the image)`;
      throw new EngineError(`the prompt has ${placeholders} image placeholders ${token}; exactly one is needed with an image: ${cause}`);
    }
    if (!request.image && placeholders > 0) {
      throw new EngineError(`${where} contains ${token}, the model's image token, but no image was given: remove it or pass an image`);
    }

    const t0 = now();
    // The family prepares the image (resize, tiles) and says what the placeholder becomes.
    const prepared = request.image ? await model.prepareImage(request.image, pre) : null;
    signal?.throwIfAborted();
    if (prepared && prepared.visualTokens + maxNewTokens > model.maxPositions) {
      // Refused before tokenizing millions of image tokens.
      throw new EngineError(`the image's ${prepared.visualTokens} visual tokens + ${maxNewTokens} new tokens exceed the model's ${model.maxPositions} positions`);
    }
    const text = prepared ? prompt.replace(pre.imageToken, () => prepared.promptText) : prompt;
    const { inputIds, imageRuns } = pre.tokenize(text);
    // The embedding has vocabSize rows: an id beyond it would read outside the table.
    const badId = inputIds.findIndex((id) => id >= model.vocabSize);
    if (badId >= 0) {
      throw new EngineError(`tokenizer.json gives the token id ${inputIds[badId]} (at position ${badId} of the prompt), but the model's embedding has ${model.vocabSize} rows (vocab_size in config.json): tokenizer and model do not match`);
    }
    let placements;
    try {
      placements = placeImages(imageRuns, prepared ? [prepared.visualTokens] : []);
    } catch (e) {
      throw new EngineError(`${e instanceof Error ? e.message : String(e)} (does the text contain the image token?)`);
    }
    const capacity = inputIds.length + maxNewTokens;
    if (capacity > model.maxPositions) {
      throw new EngineError(`prompt (${inputIds.length} tokens) + ${maxNewTokens} new tokens exceed the model's ${model.maxPositions} positions`);
    }
    // The policy is checked before any GPU work, so a refused one leaves nothing allocated.
    const visualTokens = prepared?.visualTokens ?? 0;
    const pruning = pruningSession(ctx, request.pruning ?? { kind: 'none' }, {
      numLayers: model.numLayers,
      visualTokens,
      fixedOffsets: placements[0]?.fixedOffsets ?? [],
      recordIndices: request.recordKeptIndices,
      ...(prepared?.tokens ? { layout: prepared.tokens } : {}),
    });
    const images: Tensor[] = []; // features this request owns (disposed at the end)
    const cachedImages: Tensor[] = []; // owned by the cache
    let imageFeaturesCached = false;
    if (prepared) {
      const key = prepared.tiles.map(pixelKey).join('|');
      const hit = this.imageFeatures.get(key);
      if (hit) {
        cachedImages.push(hit);
        imageFeaturesCached = true;
      } else {
        const features = model.encodeImage(prepared);
        (this.imageFeatures.put(key, features) ? cachedImages : images).push(features);
        await ctx.sync();
      }
    }
    const t1 = now();
    if (signal?.aborted) {
      for (const img of images) img.dispose(); // an abort during the image encode frees its features
      signal.throwIfAborted();
    }
    const cache = model.newCache(capacity);
    const tokens: number[] = [];
    let finishReason: FinishReason = 'length';
    let firstLogits: Float32Array | undefined;
    let prefillMs = 0;
    let ttft = 0;
    let decodeStart = 0;
    try {
      const { logits, seq } = await model.prefill(inputIds, [...cachedImages, ...images], placements, cache, pruning.hooks ?? request.hooks ?? null);
      for (const img of images) img.dispose();
      let next = await this.pick(logits, sampler, true);
      firstLogits = next.logits;
      prefillMs = now() - t1;
      ttft = now() - t0;
      decodeStart = now();
      let position = seq.originalLength;
      let text = '';
      for (let i = 0; i < maxNewTokens; i++) {
        const token = next.token;
        if (pre.eosTokenIds.includes(token)) {
          finishReason = 'eos';
          break;
        }
        tokens.push(token);
        text = pre.decode(tokens);
        onToken?.({ token, text, index: i });
        // A stop string can end inside a multi-character token: cut at its first occurrence.
        const cut = truncateAtStop(text, request.stop);
        if (cut.stop !== null) {
          finishReason = 'stop';
          text = cut.text;
          break;
        }
        if (signal?.aborted) {
          finishReason = 'abort';
          break;
        }
        if (i === maxNewTokens - 1) break;
        next = await this.pick(await model.decodeStep(token, position++, cache), sampler, false);
      }
      const decodeMs = now() - decodeStart;
      const report = await pruning.report();
      const shape = model.flopsShape(prepared);
      const refFlops = referenceFlops(shape.text, report.visualTokens, report.deleted, report.deletedBeforeDecoder);
      const archFlops = architectureFlops(shape, inputIds.length, report.visualTokens, report.deleted, report.deletedBeforeDecoder);
      const pruningResult: PruningResult = {
        ...report,
        grid: prepared?.grid ?? null,
        flops: {
          reference: { ratio: refFlops.ratio, macs: refFlops.macs, baselineMacs: refFlops.baselineMacs },
          architecture: { ratio: archFlops.ratio, flops: archFlops.flops, baselineFlops: archFlops.baselineFlops },
        },
      };
      const finalText = finishReason === 'stop' ? text : pre.decode(tokens);
      const decoded = Math.max(0, tokens.length - 1);
      return {
        text: finalText,
        tokens,
        finishReason,
        firstLogits,
        pruning: pruningResult,
        usage: {
          promptTokens: inputIds.length,
          visualTokens,
          generatedTokens: tokens.length,
          imageEncodeMs: t1 - t0,
          imageFeaturesCached,
          prefillMs,
          timeToFirstTokenMs: ttft,
          decodeMs,
          decodeTokensPerSecond: decoded > 0 && decodeMs > 0 ? (decoded * 1000) / decodeMs : 0,
        },
      };
    } finally {
      cache.dispose();
      for (const img of images) if (!img.isDisposed) img.dispose();
    }
  }

  /**
   * The next token. Greedy decode steps take the argmax on the GPU and read back 4 bytes;
   * sampling (and the first token, whose logits the result reports) reads the logits row.
   */
  private async pick(logits: Tensor, sampler: Sampler, keepLogits: boolean): Promise<{ token: number; logits?: Float32Array }> {
    try {
      if (sampler.greedy && !keepLogits) {
        const index = ops.argmax(this.ctx, logits);
        const [token] = (await this.ctx.read(index)) as Uint32Array;
        index.dispose();
        return { token: token! };
      }
      const values = (await this.ctx.read(logits)) as Float32Array;
      return { token: sampler.next(values), logits: values };
    } finally {
      logits.dispose();
    }
  }

  dispose(): void {
    this.disposed = true;
    this.imageFeatures.clear();
    this.model?.dispose();
    this.model = null;
    this.loadedFrom = null;
    this.gpu.destroy();
  }

  /**
   * Runs tasks one at a time; a failure does not poison the queue. Before each task, a lost
   * device is replaced (and, for requests, the model reloaded); a task that fails because the
   * device was lost under it rejects with a DeviceLostError that says what happens next.
   */
  private exclusive<T>(task: () => Promise<T>, o: { what: string; signal?: AbortSignal; reloadModel: boolean }): Promise<T> {
    const guarded = async (): Promise<T> => {
      if (this.disposed) throw new EngineError('this engine was disposed: create a new one');
      await this.recover(o);
      try {
        return await task();
      } catch (e) {
        throw await this.explainFailure(e, o.what);
      }
    };
    const run = this.busy.then(guarded, guarded);
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** A new device after a loss, and the model on it again when the task needs one. */
  private async recover(o: { signal?: AbortSignal; reloadModel: boolean }): Promise<void> {
    if (this.gpu.isLost) {
      this.imageFeatures.clear(); // features of the dead device
      if (this.loadedFrom) this.reloadPending = true;
      // Throws GpuUnavailableError when no device can be had now; the lost one stays, so the
      // next task tries again.
      this.gpu = await acquireGpu(this.acquireOptions);
    }
    if (!this.reloadPending || !o.reloadModel || !this.loadedFrom) return;
    const from = this.loadedFrom;
    const report = from.onProgress;
    // The load's callback may be stale by now (a released comlink proxy throws, a closed page
    // rejects): progress is a courtesy and must never fail the reload.
    const onProgress = report
      ? (p: LoadProgress) => {
          try {
            const r: unknown = report(p);
            if (r instanceof Promise) r.catch(() => undefined);
          } catch {
            // ignored, see above
          }
        }
      : undefined;
    try {
      await this.install(from.source, { signal: o.signal, onProgress });
    } catch (e) {
      if (o.signal?.aborted || e instanceof DeviceLostError) throw e;
      throw new EngineError(`the GPU device was lost earlier, and reloading ${from.source.description} on the new device failed (${e instanceof Error ? e.message : String(e)}); the next request tries again`);
    }
    this.reloadPending = false;
  }

  /** `e` itself, or a DeviceLostError when the device went away during the task. */
  private async explainFailure(e: unknown, what: string): Promise<unknown> {
    const ctx = this.gpu;
    // The lost promise settles a moment after the failing call: give it one task turn.
    if (!ctx.isLost) await Promise.race([ctx.lost, new Promise((r) => setTimeout(r, 0))]);
    if (!ctx.isLost) return e;
    if (this.loadedFrom) this.reloadPending = true;
    const lost = await ctx.lost;
    const next = this.loadedFrom
      ? `the engine acquires a new GPU device and reloads ${this.loadedFrom.source.description} before its next request: retry it`
      : 'the engine acquires a new GPU device before its next request: retry it';
    // The failing call's own error (a map AbortError, a kernel's complaint) is the loss's symptom: named only when it adds something.
    const symptom = e instanceof DeviceLostError ? '' : ` (${e instanceof Error ? e.message || e.name : String(e)})`;
    return new DeviceLostError(lost.reason, lost.deviceMessage, `${what} did not complete${symptom}; ${next}`);
  }
}

/**
 * Refuses end-of-sequence ids the model cannot produce: the lm_head has vocabSize rows, so an
 * id at or past it is never sampled and generation would never stop at EOS.
 */
function checkEosIds(pre: Preprocessor, model: VisionLanguageModel, where: string): void {
  const bad = pre.eosTokenIds.filter((id) => id >= model.vocabSize);
  if (bad.length > 0) {
    throw new ModelLoadError(
      `${where}: eos_token_id ${bad.join(', ')} (generation_config.json, else the tokenizer's eos_token) is not below the model's vocab size ${model.vocabSize} (config.json vocab_size): the model can never produce it, so generation would never stop at EOS; fix eos_token_id in generation_config.json`,
    );
  }
}

/** The source a ModelRef names. A source is recognised by its methods first: some sources
 * (FilesSource) also have a `files` field, which must not make them look like an in-memory map. */
export async function resolveSource(ref: ModelRef, onWarning?: (message: string) => void): Promise<ModelSource> {
  if (typeof ref === 'string') return openSource(ref, { onCacheWarning: onWarning && ((w) => onWarning(w.message)) });
  if (isModelSource(ref)) return ref;
  return new MemorySource(ref.files, ref.name ?? 'memory');
}

function isModelSource(ref: ModelSource | { files: ReadonlyMap<string, Uint8Array> }): ref is ModelSource {
  const s = ref as Partial<ModelSource>;
  return typeof s.read === 'function' && typeof s.stat === 'function';
}

